// Who is signed in. The credential (an API key, or an OIDC ID token) lives in sessionStorage
// only: it leaves with the tab. OIDC uses the authorization-code flow with PKCE (S256).
import type { OidcSettings } from "./config";

const CREDENTIAL = "assay.credential";
const PENDING = "assay.oidc.pending";

export interface Credential {
  kind: "key" | "oidc";
  token: string;
  expires_at?: number; // ms since the epoch, for ID tokens
}

export function currentCredential(): Credential | null {
  const raw = sessionStorage.getItem(CREDENTIAL);
  if (!raw) return null;
  try {
    const credential = JSON.parse(raw) as Credential;
    if (credential.expires_at && credential.expires_at < Date.now()) {
      sessionStorage.removeItem(CREDENTIAL);
      return null;
    }
    return credential;
  } catch {
    sessionStorage.removeItem(CREDENTIAL);
    return null;
  }
}

export function keep(credential: Credential): void {
  sessionStorage.setItem(CREDENTIAL, JSON.stringify(credential));
}

export function forget(): void {
  sessionStorage.removeItem(CREDENTIAL);
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the identity provider answered ${response.status}`);
  return (await response.json()) as Discovery;
}

function redirectUri(): string {
  return `${location.origin}${location.pathname}`;
}

/** Leave for the identity provider's sign-in page. */
export async function beginOidc(settings: OidcSettings): Promise<void> {
  const found = await discover(settings.issuer);
  const verifier = randomString(48);
  const state = randomString(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, back: location.hash }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: settings.client_id,
    redirect_uri: redirectUri(),
    scope: settings.scope,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${found.authorization_endpoint}?${params}`);
}

/** Back from the identity provider: trade the code for tokens. Null when this is no callback. */
export async function completeOidc(settings: OidcSettings): Promise<Credential | null> {
  const query = new URLSearchParams(location.search);
  const code = query.get("code");
  const error = query.get("error");
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as
    | { verifier: string; state: string; back: string }
    | null;
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, "", redirectUri() + (pending?.back ?? ""));
  if (error) throw new Error(`sign-in failed: ${query.get("error_description") ?? error}`);
  if (!pending || pending.state !== query.get("state")) {
    throw new Error("sign-in failed: the answer does not match the request (state)");
  }
  const found = await discover(settings.issuer);
  const response = await fetch(found.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: code ?? "",
      redirect_uri: redirectUri(),
      client_id: settings.client_id,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`sign-in failed: the token endpoint answered ${response.status}`);
  const tokens = (await response.json()) as { id_token?: string; expires_in?: number };
  if (!tokens.id_token) throw new Error("sign-in failed: no ID token in the answer");
  const credential: Credential = {
    kind: "oidc",
    token: tokens.id_token,
    expires_at: Date.now() + (tokens.expires_in ?? 3600) * 1000,
  };
  keep(credential);
  return credential;
}

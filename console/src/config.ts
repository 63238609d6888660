// Settings the server (assay serve) or the deployment (CDK, in S3) publishes beside the page.

export interface OidcSettings {
  issuer: string;
  client_id: string;
  scope: string;
}

export interface ConsoleConfig {
  api_url: string; // empty: the API is on this origin
  oidc: OidcSettings | null;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("./config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const body = (await response.json()) as Partial<ConsoleConfig>;
  return { api_url: body.api_url ?? "", oidc: body.oidc ?? null };
}

// Sign in with an API key (kept in this tab's session storage only) or through the OIDC issuer.
import { useState } from "preact/hooks";
import { Client, type Me } from "../api";
import { beginOidc, keep, type Credential } from "../auth";
import type { ConsoleConfig } from "../config";
import { ErrorBox, useAction } from "../ui";

export function SignIn({ config, notice, onSignedIn }: { config: ConsoleConfig; notice: string | null; onSignedIn: (credential: Credential) => void }) {
  const [key, setKey] = useState("");
  const withKey = useAction(async () => {
    const token = key.trim();
    const probe = new Client(config.api_url, () => token);
    await probe.get<Me>("/v1/me"); // a wrong key fails here, with the API's problem
    const credential: Credential = { kind: "key", token };
    keep(credential);
    onSignedIn(credential);
  });
  const withOidc = useAction(async () => beginOidc(config.oidc!));
  return (
    <main class="page signin" id="main">
      <h1>Sign in to Assay</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form
        class="card form"
        onSubmit={(event) => {
          event.preventDefault();
          void withKey.run();
        }}
      >
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          placeholder="assay_…"
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
        />
        <p class="hint">Kept in this tab only, until you sign out or close it.</p>
        <button type="submit" class="primary" disabled={withKey.busy || !key.trim()}>
          {withKey.busy ? "Signing in…" : "Sign in"}
        </button>
        <ErrorBox error={withKey.error} />
      </form>
      {config.oidc && (
        <div class="card form">
          <button type="button" onClick={() => void withOidc.run()} disabled={withOidc.busy}>
            Sign in with single sign-on
          </button>
          <ErrorBox error={withOidc.error} />
        </div>
      )}
    </main>
  );
}

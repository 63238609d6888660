// API keys: create (the key is shown once), list, revoke. Revoking the key this console is
// signed in with signs it out.
import { useState } from "preact/hooks";
import type { Key, NewKey, Scope } from "../api";
import { when } from "../format";
import { useSession } from "../session";
import { DataTable, ErrorBox, Section, View, useAction, useLoad } from "../ui";

const SCOPES: { scope: Scope; what: string }[] = [
  { scope: "analyses:read", what: "read analyses, reports and evidence" },
  { scope: "analyses:write", what: "submit and cancel analyses" },
  { scope: "gateway:invoke", what: "call models through the gateway" },
  { scope: "evals:read", what: "read eval runs, datasets, judges and online scores" },
  { scope: "evals:write", what: "upload datasets, submit eval runs and set judges" },
  { scope: "admin", what: "everything, including keys and the gateway's settings" },
];

export function KeysView() {
  const { client, me, signOut } = useSession();
  const keys = useLoad((signal) => client.get<Key[]>("/v1/keys", undefined, signal), []);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["analyses:read"]);
  const [created, setCreated] = useState<NewKey | null>(null);
  const create = useAction(async () => {
    setCreated(await client.json<NewKey>("POST", "/v1/keys", { json: { name: name.trim(), scopes } }));
    setName("");
    keys.reload();
  });
  const revoke = useAction(async (key: Key) => {
    if (!confirm(`Revoke the key "${key.name}"? Programs using it stop working.`)) return;
    await client.json("DELETE", `/v1/keys/${key.id}`);
    if (key.id === me.actor) {
      signOut("Signed out: you revoked the key this console was using.");
      return;
    }
    keys.reload();
  });
  return (
    <>
      <h1>API keys</h1>
      <Section title="Keys">
        <View loaded={keys} what="keys">
          {(list) => (
            <DataTable class="keys" rows={list} rowKey={(k) => k.id} rowProps={(k) => ({ "data-key-id": k.id })} columns={[
              { label: "Name", cell: (key) => <>{key.name}{key.id === me.actor && <span class="muted"> (this console)</span>}</> },
              { label: "Key", cell: (key) => <code>…{key.hint}</code> },
              { label: "Scopes", cell: (key) => key.scopes.join(", ") },
              { label: "Created", cell: (key) => when(key.created_at) },
              { label: "State", cell: (key) => (key.active ? "active" : `revoked ${key.revoked_at ? when(key.revoked_at) : ""}`) },
              { label: "Actions", hiddenLabel: true, class: "row-actions", cell: (key) =>
                key.active && (
                  <button type="button" class="danger" onClick={() => void revoke.run(key)} aria-label={`Revoke key ${key.name}`}>
                    Revoke
                  </button>
                ) },
            ]} />
          )}
        </View>
        <ErrorBox error={revoke.error} />
      </Section>
      <Section title="Create a key">
        {created && (
          <div class="notice" role="status">
            <p>
              The key <strong>{created.name}</strong>, shown this once. Store it now:
            </p>
            <code class="secret" data-testid="new-key">
              {created.key}
            </code>
            <div class="actions">
              <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
                Copy
              </button>
              <button type="button" onClick={() => setCreated(null)}>
                I have stored it
              </button>
            </div>
          </div>
        )}
        <form
          class="form"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run();
          }}
        >
          <label for="key-name">Name</label>
          <input id="key-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <fieldset>
            <legend>Scopes</legend>
            {SCOPES.map(({ scope, what }) => (
              <label class="inline" key={scope}>
                <input
                  type="checkbox"
                  checked={scopes.includes(scope)}
                  onChange={(e) => setScopes((list) => (e.currentTarget.checked ? [...list, scope] : list.filter((s) => s !== scope)))}
                />{" "}
                <code>{scope}</code>: {what}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary" disabled={create.busy || scopes.length === 0}>
            Create key
          </button>
          <ErrorBox error={create.error} />
        </form>
      </Section>
    </>
  );
}

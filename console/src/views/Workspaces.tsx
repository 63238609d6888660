// Workspaces of this tenant (admins create them) and, for platform admins, the tenants.
import { useState } from "preact/hooks";
import type { Page, Tenant, Workspace } from "../api";
import { when } from "../format";
import { isAdmin, useSession } from "../session";
import { ErrorBox, Section, View, useAction, useLoad } from "../ui";

export function WorkspacesView() {
  const { client, me } = useSession();
  const workspaces = useLoad((signal) => client.get<Page<Workspace>>("/v1/workspaces", { limit: 200 }, signal), []);
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const create = useAction(async () => {
    await client.json("POST", "/v1/workspaces", { json: { id: id.trim(), name: name.trim() } });
    setId("");
    setName("");
    workspaces.reload();
  });
  return (
    <>
      <h1>Workspaces</h1>
      <Section title={`Workspaces of ${me.tenant_name}`}>
        <View loaded={workspaces} what="workspaces">
          {(page) => (
            <ul class="plain">
              <li>
                <strong>default</strong> <span class="muted">(every tenant has it)</span>
              </li>
              {page.items.map((w) => (
                <li key={w.id}>
                  <strong>{w.name}</strong> <code>{w.id}</code> <span class="muted">since {when(w.created_at)}</span>
                </li>
              ))}
            </ul>
          )}
        </View>
        {isAdmin(me) && (
          <form
            class="form"
            aria-label="New workspace"
            onSubmit={(e) => {
              e.preventDefault();
              void create.run();
            }}
          >
            <div class="row">
              <div>
                <label for="ws-id">Id (lowercase letters, digits, - and _)</label>
                <input id="ws-id" required pattern="[a-z0-9][a-z0-9_-]*" value={id} onInput={(e) => setId(e.currentTarget.value)} />
              </div>
              <div>
                <label for="ws-name">Name</label>
                <input id="ws-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
              </div>
            </div>
            <button type="submit" class="primary" disabled={create.busy}>
              Create workspace
            </button>
            <ErrorBox error={create.error} />
          </form>
        )}
      </Section>
      {me.platform_admin && <Tenants />}
    </>
  );
}

function Tenants() {
  const { client } = useSession();
  const tenants = useLoad((signal) => client.get<Page<Tenant>>("/v1/tenants", { limit: 200 }, signal), []);
  const [name, setName] = useState("");
  const create = useAction(async () => {
    await client.json("POST", "/v1/tenants", { json: { name: name.trim() } });
    setName("");
    tenants.reload();
  });
  return (
    <Section title="Tenants">
      <View loaded={tenants} what="tenants">
        {(page) => (
          <ul class="plain">
            {page.items.map((t) => (
              <li key={t.id}>
                <strong>{t.name}</strong> <code>{t.slug}</code> <span class="muted">{t.status}</span>
              </li>
            ))}
          </ul>
        )}
      </View>
      <form
        class="form"
        aria-label="New tenant"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label for="tenant-name">Name</label>
        <input id="tenant-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={create.busy}>
          Create tenant
        </button>
        <ErrorBox error={create.error} />
      </form>
    </Section>
  );
}

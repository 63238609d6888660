// The gateway's connections (upstream providers; credentials are write-only) and resources
// (what clients call as `model`: targets in fallback order, routing rules, limits, cache and
// guardrails).
import { useState } from "preact/hooks";
import type { Connection, Page, Resource, RouteTarget } from "../api";
import { when } from "../format";
import { useSession } from "../session";
import { DataTable, ErrorBox, Section, View, useAction, useLoad } from "../ui";

export function GatewayView() {
  const { client } = useSession();
  const connections = useLoad((signal) => client.get<Page<Connection>>("/v1/gateway/connections", undefined, signal), []);
  const resources = useLoad((signal) => client.get<Page<Resource>>("/v1/gateway/resources", undefined, signal), []);
  return (
    <>
      <h1>Gateway</h1>
      <p class="hint">
        Applications call <code>{client.url("/v1/chat/completions") || "/v1/chat/completions"}</code> with an API key that has the <code>gateway:invoke</code> scope and a resource name as
        the model.
      </p>
      <Section title="Connections">
        <View loaded={connections} what="connections">
          {(page) => <Connections items={page.items} reload={connections.reload} />}
        </View>
      </Section>
      <Section title="Resources">
        <View loaded={resources} what="resources">
          {(page) => <Resources items={page.items} connections={connections.data?.items ?? []} reload={resources.reload} />}
        </View>
      </Section>
    </>
  );
}

function limitsText(rpm: number | null, tpm: number | null): string {
  return [rpm && `${rpm} req/min`, tpm && `${tpm} tok/min`].filter(Boolean).join(", ") || "none";
}

function numberOrNull(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

function Connections({ items, reload }: { items: Connection[]; reload: () => void }) {
  const { client } = useSession();
  const [editing, setEditing] = useState<Connection | "new" | null>(null);
  const disable = useAction(async (id: string) => {
    await client.json("DELETE", `/v1/gateway/connections/${id}`);
    reload();
  });
  const enable = useAction(async (id: string) => {
    await client.json("PATCH", `/v1/gateway/connections/${id}`, { json: { enabled: true } });
    reload();
  });
  return (
    <>
      {items.length === 0 ? (
        <p class="empty">No connections yet: add the provider your resources will call.</p>
      ) : (
        <DataTable rows={items} rowKey={(c) => c.id} columns={[
          { label: "Name", cell: (c) => <>{c.name} <span class="muted">({c.id})</span></> },
          { label: "Provider", cell: (c) => c.provider },
          { label: "Base URL", cell: (c) => c.base_url ?? "provider default" },
          { label: "Credentials", cell: (c) => (c.has_credentials ? "set (write-only)" : "none") },
          { label: "Limits", cell: (c) => limitsText(c.requests_per_minute, c.tokens_per_minute) },
          { label: "State", cell: (c) => (c.enabled ? "enabled" : "disabled") },
          { label: "Actions", hiddenLabel: true, class: "row-actions", cell: (c) => (
            <>
              <button type="button" onClick={() => setEditing(c)} aria-label={`Edit connection ${c.name}`}>
                Edit
              </button>
              {c.enabled ? (
                <button type="button" onClick={() => void disable.run(c.id)} aria-label={`Disable connection ${c.name}`}>
                  Disable
                </button>
              ) : (
                <button type="button" onClick={() => void enable.run(c.id)} aria-label={`Enable connection ${c.name}`}>
                  Enable
                </button>
              )}
            </>
          ) },
        ]} />
      )}
      <ErrorBox error={disable.error || enable.error} />
      {editing ? (
        <ConnectionForm
          existing={editing === "new" ? null : editing}
          done={() => {
            setEditing(null);
            reload();
          }}
          cancel={() => setEditing(null)}
        />
      ) : (
        <button type="button" class="primary" onClick={() => setEditing("new")}>
          Add a connection
        </button>
      )}
    </>
  );
}

function ConnectionForm({ existing, done, cancel }: { existing: Connection | null; done: () => void; cancel: () => void }) {
  const { client } = useSession();
  const [name, setName] = useState(existing?.name ?? "");
  const [provider, setProvider] = useState(existing?.provider ?? "openai");
  const [baseUrl, setBaseUrl] = useState(existing?.base_url ?? "");
  const [apiKey, setApiKey] = useState("");
  const [rpm, setRpm] = useState(existing?.requests_per_minute?.toString() ?? "");
  const [tpm, setTpm] = useState(existing?.tokens_per_minute?.toString() ?? "");
  const save = useAction(async () => {
    const body: Record<string, unknown> = {
      name: name.trim(),
      base_url: baseUrl.trim() || null,
      requests_per_minute: numberOrNull(rpm),
      tokens_per_minute: numberOrNull(tpm),
    };
    if (apiKey) body.api_key = apiKey; // write-only: sent when given, never shown
    if (existing) {
      await client.json("PATCH", `/v1/gateway/connections/${existing.id}`, { json: body });
    } else {
      await client.json("POST", "/v1/gateway/connections", { json: { ...body, provider } });
    }
    done();
  });
  return (
    <form
      class="form subform"
      aria-label={existing ? `Edit connection ${existing.name}` : "New connection"}
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h3>{existing ? `Edit ${existing.name}` : "New connection"}</h3>
      <label for="conn-name">Name</label>
      <input id="conn-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="conn-provider">Provider (LiteLLM's name: openai, anthropic, azure, bedrock, …)</label>
      <input id="conn-provider" required disabled={!!existing} value={provider} onInput={(e) => setProvider(e.currentTarget.value)} />
      <label for="conn-url">Base URL (optional)</label>
      <input id="conn-url" type="url" value={baseUrl} onInput={(e) => setBaseUrl(e.currentTarget.value)} />
      <label for="conn-key">{existing?.has_credentials ? "New API key (leave empty to keep the current one)" : "API key"}</label>
      <input id="conn-key" type="password" autocomplete="new-password" value={apiKey} onInput={(e) => setApiKey(e.currentTarget.value)} />
      <div class="row">
        <div>
          <label for="conn-rpm">Requests per minute</label>
          <input id="conn-rpm" type="number" min={1} value={rpm} onInput={(e) => setRpm(e.currentTarget.value)} />
        </div>
        <div>
          <label for="conn-tpm">Tokens per minute</label>
          <input id="conn-tpm" type="number" min={1} value={tpm} onInput={(e) => setTpm(e.currentTarget.value)} />
        </div>
      </div>
      <div class="actions">
        <button type="submit" class="primary" disabled={save.busy}>
          Save connection
        </button>
        <button type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
      <ErrorBox error={save.error} />
    </form>
  );
}

function Resources({ items, connections, reload }: { items: Resource[]; connections: Connection[]; reload: () => void }) {
  const { client } = useSession();
  const [editing, setEditing] = useState<Resource | "new" | null>(null);
  const disable = useAction(async (name: string) => {
    await client.json("DELETE", `/v1/gateway/resources/${encodeURIComponent(name)}`);
    reload();
  });
  const nameOf = (id: string) => connections.find((c) => c.id === id)?.name ?? id;
  return (
    <>
      {items.length === 0 ? (
        <p class="empty">No resources yet.</p>
      ) : (
        <DataTable rows={items} rowKey={(r) => r.name} columns={[
          { label: "Name (the model clients pass)", cell: (r) => (
            <>
              <code>{r.name}</code>
              <div class="muted">since {when(r.created_at)}</div>
            </>
          ) },
          { label: "Targets, in fallback order", cell: (r) => (
            <ol class="targets">
              {r.targets.map((t, i) => (
                <li key={i}>
                  {nameOf(t.connection_id)} / {t.model}
                </li>
              ))}
            </ol>
          ) },
          { label: "Rules", cell: (r) => r.rules.length },
          { label: "Limits", cell: (r) => limitsText(r.requests_per_minute, r.tokens_per_minute) },
          { label: "Cache", cell: (r) => (r.cache_ttl_s ? `${r.cache_ttl_s} s` : "off") },
          { label: "Guardrails", cell: (r) => r.guardrails.length },
          { label: "Online evaluation", cell: (r) => (r.evaluation?.evaluators.length ? `${Math.round(r.evaluation.sample_rate * 100)}% sampled, ${r.evaluation.evaluators.length} evaluator${r.evaluation.evaluators.length === 1 ? "" : "s"}` : "off") },
          { label: "State", cell: (r) => (r.enabled ? "enabled" : "disabled") },
          { label: "Actions", hiddenLabel: true, class: "row-actions", cell: (r) => (
            <>
              <button type="button" onClick={() => setEditing(r)} aria-label={`Edit resource ${r.name}`}>
                Edit
              </button>
              {r.enabled && (
                <button type="button" onClick={() => void disable.run(r.name)} aria-label={`Disable resource ${r.name}`}>
                  Disable
                </button>
              )}
            </>
          ) },
        ]} />
      )}
      <ErrorBox error={disable.error} />
      {editing ? (
        <ResourceForm
          existing={editing === "new" ? null : editing}
          connections={connections}
          done={() => {
            setEditing(null);
            reload();
          }}
          cancel={() => setEditing(null)}
        />
      ) : (
        <button type="button" class="primary" onClick={() => setEditing("new")} disabled={connections.length === 0}>
          Add a resource
        </button>
      )}
    </>
  );
}

function parseJsonList(label: string, text: string): unknown[] {
  if (!text.trim()) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${label} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`${label} must be a JSON list`);
  return value;
}

function parseJsonObject(label: string, text: string): Record<string, unknown> | null {
  if (!text.trim()) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${label} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error(`${label} must be a JSON object`);
  return value as Record<string, unknown>;
}

function ResourceForm({ existing, connections, done, cancel }: { existing: Resource | null; connections: Connection[]; done: () => void; cancel: () => void }) {
  const { client } = useSession();
  const [name, setName] = useState(existing?.name ?? "");
  const [targets, setTargets] = useState<RouteTarget[]>(existing?.targets ?? [{ connection_id: connections[0]?.id ?? "", model: "" }]);
  const [rpm, setRpm] = useState(existing?.requests_per_minute?.toString() ?? "");
  const [tpm, setTpm] = useState(existing?.tokens_per_minute?.toString() ?? "");
  const [cache, setCache] = useState(existing?.cache_ttl_s?.toString() ?? "0");
  const [rules, setRules] = useState(existing?.rules.length ? JSON.stringify(existing.rules, null, 2) : "");
  const [guardrails, setGuardrails] = useState(existing?.guardrails.length ? JSON.stringify(existing.guardrails, null, 2) : "");
  // Sent back as it was unless changed here: a PUT without it would turn online evaluation off.
  const [evaluation, setEvaluation] = useState(existing?.evaluation ? JSON.stringify(existing.evaluation, null, 2) : "");
  const change = (index: number, field: keyof RouteTarget, value: string) => setTargets((list) => list.map((t, i) => (i === index ? { ...t, [field]: value } : t)));
  const save = useAction(async () => {
    const body = {
      targets: targets.map((t) => ({ connection_id: t.connection_id, model: t.model.trim(), weight: t.weight ?? 1 })),
      requests_per_minute: numberOrNull(rpm),
      tokens_per_minute: numberOrNull(tpm),
      cache_ttl_s: Number(cache || 0),
      rules: parseJsonList("Routing rules", rules),
      guardrails: parseJsonList("Guardrails", guardrails),
      evaluation: parseJsonObject("Online evaluation", evaluation),
    };
    await client.json("PUT", `/v1/gateway/resources/${encodeURIComponent(name.trim())}`, { json: body });
    done();
  });
  return (
    <form
      class="form subform"
      aria-label={existing ? `Edit resource ${existing.name}` : "New resource"}
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h3>{existing ? `Edit ${existing.name}` : "New resource"}</h3>
      <label for="res-name">Name (what clients pass as model)</label>
      <input id="res-name" required disabled={!!existing} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <fieldset>
        <legend>Targets: the first is the primary, the rest its fallbacks</legend>
        {targets.map((target, index) => (
          <div class="row target-row" key={index}>
            <div>
              <label for={`target-conn-${index}`}>Connection {index + 1}</label>
              <select id={`target-conn-${index}`} value={target.connection_id} onChange={(e) => change(index, "connection_id", e.currentTarget.value)}>
                {connections.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label for={`target-model-${index}`}>Model {index + 1}</label>
              <input id={`target-model-${index}`} required value={target.model} onInput={(e) => change(index, "model", e.currentTarget.value)} />
            </div>
            {targets.length > 1 && (
              <button type="button" onClick={() => setTargets((list) => list.filter((_, i) => i !== index))} aria-label={`Remove target ${index + 1}`}>
                Remove
              </button>
            )}
          </div>
        ))}
        <button type="button" onClick={() => setTargets((list) => [...list, { connection_id: connections[0]?.id ?? "", model: "" }])}>
          Add a fallback
        </button>
      </fieldset>
      <div class="row">
        <div>
          <label for="res-rpm">Requests per minute</label>
          <input id="res-rpm" type="number" min={1} value={rpm} onInput={(e) => setRpm(e.currentTarget.value)} />
        </div>
        <div>
          <label for="res-tpm">Tokens per minute</label>
          <input id="res-tpm" type="number" min={1} value={tpm} onInput={(e) => setTpm(e.currentTarget.value)} />
        </div>
        <div>
          <label for="res-cache">Cache TTL (seconds, 0 = off)</label>
          <input id="res-cache" type="number" min={0} value={cache} onInput={(e) => setCache(e.currentTarget.value)} />
        </div>
      </div>
      <label for="res-rules">Routing rules (JSON list, in order; the first match wins)</label>
      <textarea id="res-rules" rows={4} spellcheck={false} placeholder='[{"name": "long", "when": {"min_input_tokens": 8000}, "targets": [...]}]' value={rules} onInput={(e) => setRules(e.currentTarget.value)} />
      <label for="res-guardrails">Guardrails (JSON list)</label>
      <textarea id="res-guardrails" rows={4} spellcheck={false} placeholder='[{"name": "no-keys", "pii": ["aws_secret_key"], "action": "block"}]' value={guardrails} onInput={(e) => setGuardrails(e.currentTarget.value)} />
      <label for="res-evaluation">Online evaluation (JSON object; empty: off). Scores shown under Evals, Online scores</label>
      <textarea id="res-evaluation" rows={4} spellcheck={false} placeholder='{"sample_rate": 0.1, "evaluators": [{"name": "judge", "type": "llm_judge", "model": "judge-model", "rubric": "Helpful?"}]}' value={evaluation} onInput={(e) => setEvaluation(e.currentTarget.value)} />
      <div class="actions">
        <button type="submit" class="primary" disabled={save.busy}>
          Save resource
        </button>
        <button type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
      <ErrorBox error={save.error} />
    </form>
  );
}

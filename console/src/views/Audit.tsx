// The audit trails: every gateway request (who, which resource, the model finally used, the
// path through fallbacks, tokens, cost, latency, outcome) and every administrative change.
import { useState } from "preact/hooks";
import type { AuditEntry, GatewayRequest, Page } from "../api";
import { usd, when } from "../format";
import { go } from "../router";
import { useSession } from "../session";
import { DataTable, Pager, Section, View, useCursor, useLoad, type Column } from "../ui";

const REQUEST_COLUMNS: Column<GatewayRequest>[] = [
  { label: "When", cell: (r) => when(r.at) },
  { label: "Key", cell: (r) => <code>{r.api_key_id ?? (r.analysis_id ? `analysis ${r.analysis_id}` : "–")}</code> },
  { label: "Resource", cell: (r) => r.resource ?? "–" },
  { label: "Model used", cell: (r) => r.model },
  { label: "Path", cell: (r) => r.path.join(" → ") || "–" },
  { label: "Tokens", cell: (r) => `${r.prompt_tokens} + ${r.completion_tokens}` },
  { label: "Cost", cell: (r) => usd(r.usd) },
  { label: "Latency", cell: (r) => `${r.latency_ms} ms${r.cached ? " (cache)" : ""}` },
  {
    label: "Outcome",
    cell: (r) => (
      <>
        {r.status}
        {r.guardrails.length > 0 && <div class="muted">{r.guardrails.join(", ")}</div>}
      </>
    ),
  },
];

const CHANGE_COLUMNS: Column<AuditEntry>[] = [
  { label: "When", cell: (e) => when(e.at) },
  { label: "Actor", cell: (e) => <code>{e.actor}</code> },
  { label: "Action", cell: (e) => e.action },
  { label: "Target", cell: (e) => e.target ?? "–" },
  { label: "Details", cell: (e) => <code class="details">{Object.keys(e.details).length ? JSON.stringify(e.details) : ""}</code> },
];

export function AuditView({ query }: { query: URLSearchParams }) {
  const tab = query.get("tab") === "changes" ? "changes" : "requests";
  return (
    <>
      <h1>Audit</h1>
      <div class="tabs" role="tablist" aria-label="Audit trails">
        <button type="button" role="tab" aria-selected={tab === "requests"} onClick={() => go("audit")}>
          Gateway requests
        </button>
        <button type="button" role="tab" aria-selected={tab === "changes"} onClick={() => go("audit", { tab: "changes" })}>
          Administrative changes
        </button>
      </div>
      {tab === "requests" ? <Requests /> : <Changes />}
    </>
  );
}

function Requests() {
  const { client } = useSession();
  const [resource, setResource] = useState("");
  const [key, setKey] = useState("");
  const [status, setStatus] = useState("");
  const paging = useCursor([resource, key, status]);
  const requests = useLoad(
    (signal) => client.get<Page<GatewayRequest>>("/v1/gateway/requests", { resource, api_key_id: key, status, limit: 50, cursor: paging.cursor }, signal),
    [resource, key, status, paging.cursor],
  );
  return (
    <Section title="Gateway requests" actions={<button type="button" onClick={requests.reload}>Refresh</button>}>
      <form class="filters" aria-label="Filter requests" onSubmit={(e) => e.preventDefault()}>
        <label>
          Resource
          <input value={resource} onChange={(e) => setResource(e.currentTarget.value)} />
        </label>
        <label>
          API key id
          <input value={key} onChange={(e) => setKey(e.currentTarget.value)} />
        </label>
        <label>
          Outcome
          <input value={status} placeholder="ok, error:429, …" onChange={(e) => setStatus(e.currentTarget.value)} />
        </label>
      </form>
      <View loaded={requests} what="requests">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">No requests.</p>
          ) : (
            <DataTable class="requests" rows={page.items} rowKey={(r) => r.id} columns={REQUEST_COLUMNS} />
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={requests.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(requests.data?.next_cursor ?? null)} />
    </Section>
  );
}

function Changes() {
  const { client } = useSession();
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const paging = useCursor([actor, action]);
  const entries = useLoad((signal) => client.get<Page<AuditEntry>>("/v1/audit", { actor, action, limit: 50, cursor: paging.cursor }, signal), [actor, action, paging.cursor]);
  return (
    <Section title="Administrative changes">
      <form class="filters" aria-label="Filter changes" onSubmit={(e) => e.preventDefault()}>
        <label>
          Actor
          <input value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
        </label>
        <label>
          Action
          <input value={action} placeholder="e.g. apikey.revoke" onChange={(e) => setAction(e.currentTarget.value)} />
        </label>
      </form>
      <View loaded={entries} what="changes">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">No changes.</p>
          ) : (
            <DataTable rows={page.items} rowKey={(e) => e.id} columns={CHANGE_COLUMNS} />
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={entries.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(entries.data?.next_cursor ?? null)} />
    </Section>
  );
}

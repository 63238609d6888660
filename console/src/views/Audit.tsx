// The audit trails: every gateway request (who, which resource, the model finally used, the
// path through fallbacks, tokens, cost, latency, outcome) and every administrative change.
import { useState } from "preact/hooks";
import type { AuditEntry, GatewayRequest, Page } from "../api";
import { usd, when } from "../format";
import { go } from "../router";
import { useSession } from "../session";
import { Pager, Section, View, useCursor, useLoad } from "../ui";

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
            <div class="table-wrap">
              <table class="requests">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Key</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Model used</th>
                    <th scope="col">Path</th>
                    <th scope="col">Tokens</th>
                    <th scope="col">Cost</th>
                    <th scope="col">Latency</th>
                    <th scope="col">Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((r) => (
                    <tr key={r.id}>
                      <td>{when(r.at)}</td>
                      <td>
                        <code>{r.api_key_id ?? (r.analysis_id ? `analysis ${r.analysis_id}` : "–")}</code>
                      </td>
                      <td>{r.resource ?? "–"}</td>
                      <td>{r.model}</td>
                      <td>{r.path.join(" → ") || "–"}</td>
                      <td>
                        {r.prompt_tokens} + {r.completion_tokens}
                      </td>
                      <td>{usd(r.usd)}</td>
                      <td>
                        {r.latency_ms} ms{r.cached ? " (cache)" : ""}
                      </td>
                      <td>
                        {r.status}
                        {r.guardrails.length > 0 && <div class="muted">{r.guardrails.join(", ")}</div>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
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
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Actor</th>
                    <th scope="col">Action</th>
                    <th scope="col">Target</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((e) => (
                    <tr key={e.id}>
                      <td>{when(e.at)}</td>
                      <td>
                        <code>{e.actor}</code>
                      </td>
                      <td>{e.action}</td>
                      <td>{e.target ?? "–"}</td>
                      <td>
                        <code class="details">{Object.keys(e.details).length ? JSON.stringify(e.details) : ""}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={entries.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(entries.data?.next_cursor ?? null)} />
    </Section>
  );
}

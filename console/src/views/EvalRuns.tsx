// Eval runs, newest first: status, suite, model, dataset, pass rate, gate, and the verdict
// against the baseline where a run had one; filtered by status and suite, paged by cursor.
import type { EvalRun, Page } from "../api";
import { age, points, rate } from "../format";
import { go, href } from "../router";
import { useSession } from "../session";
import { DataTable, Pager, StatusBadge, View, useCursor, useLoad, type Column } from "../ui";
import { GateBadge } from "./Evals";

const STATUSES = ["queued", "running", "succeeded", "failed"];

const COLUMNS: Column<EvalRun>[] = [
  { label: "Status", cell: (r) => <StatusBadge status={r.status} /> },
  {
    label: "Suite",
    rowHeader: true,
    cell: (r) => (
      <>
        <a href={href(`evals/runs/${r.id}`)}>{r.suite_name}</a>
        <div class="muted">{r.id}</div>
      </>
    ),
  },
  { label: "Model", cell: (r) => <code>{r.model || "–"}</code> },
  { label: "Dataset", cell: (r) => <a href={href(`evals/datasets/${encodeURIComponent(r.dataset)}`, { version: String(r.dataset_version) })}>{r.dataset} v{r.dataset_version}</a> },
  {
    label: "Pass rate",
    class: "pass-rate",
    cell: (r) =>
      r.summary ? (
        <>
          <strong>{rate(r.summary.pass_rate)}</strong>
          <div class="muted">
            {r.summary.passed} of {r.summary.items}
            {r.summary.errors ? `, ${r.summary.errors} errors` : ""}
          </div>
        </>
      ) : (
        "–"
      ),
  },
  { label: "Gate", cell: (r) => (r.gate_held === null ? "–" : <GateBadge held={r.gate_held} />) },
  {
    label: "Against the baseline",
    cell: (r) =>
      r.comparison ? (
        <>
          <a href={href(`evals/runs/${r.id}/compare`, { baseline: r.comparison.baseline })}>{r.comparison.verdict}</a>
          <div class="muted">pass rate {points(r.comparison.pass_rate_delta)}</div>
        </>
      ) : r.baseline_run_id ? (
        <span class="muted">against {r.baseline_run_id}</span>
      ) : (
        <span class="muted">no baseline</span>
      ),
  },
  {
    label: "Age",
    cell: (r) => (
      <time dateTime={r.created_at} title={new Date(r.created_at).toLocaleString()}>
        {age(r.created_at)}
      </time>
    ),
  },
];

export function EvalRunsView({ query }: { query: URLSearchParams }) {
  const { client } = useSession();
  const status = query.get("status") ?? "";
  const suite = query.get("suite") ?? "";
  const paging = useCursor([status, suite]);
  const runs = useLoad(
    (signal) => client.get<Page<EvalRun>>("/v1/evals/runs", { status, suite, limit: 20, cursor: paging.cursor }, signal),
    [status, suite, paging.cursor],
  );
  const filter = (name: string, value: string) => go("evals/runs", { status, suite, [name]: value });
  return (
    <>
      <div class="title-row">
        <h1>Eval runs</h1>
        <button type="button" onClick={runs.reload}>
          Refresh
        </button>
      </div>
      <p class="hint">
        Runs are submitted with the Python client (<code>AssayClient.submit_eval</code>) or <code>POST /v1/evals/runs</code>; each appears here once queued.
      </p>
      <form
        class="filters"
        aria-label="Filter eval runs"
        onSubmit={(e) => {
          e.preventDefault();
          const field = e.currentTarget.elements.namedItem("suite") as HTMLInputElement;
          filter("suite", field.value.trim());
        }}
      >
        <label>
          Status
          <select value={status} onChange={(e) => filter("status", e.currentTarget.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Suite (exact name)
          <input name="suite" defaultValue={suite} key={suite} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <View loaded={runs} what="eval runs">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">No eval runs{status || suite ? " match these filters" : " yet"}.</p>
          ) : (
            <DataTable class="eval-runs" caption="Eval runs, newest first" rows={page.items} rowKey={(r) => r.id} rowProps={(r) => ({ "data-run-id": r.id })} columns={COLUMNS} />
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={runs.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(runs.data?.next_cursor ?? null)} />
    </>
  );
}

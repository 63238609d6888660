// The analyses list: status, repository, coverage before and after, kept tests, findings,
// cost and age; filtered by status, workspace and creation time, paged by cursor.
import type { Analysis, Page, Workspace } from "../api";
import { age, pctChange, repository, usd } from "../format";
import { go, href } from "../router";
import { canWrite, useSession } from "../session";
import { DataTable, Pager, StatusBadge, View, useCursor, useLoad, type Column } from "../ui";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];

const COLUMNS: Column<Analysis>[] = [
  { label: "Status", cell: (a) => <StatusBadge status={a.status} /> },
  {
    label: "Repository",
    cell: (a) => (
      <>
        <a href={href(`analyses/${a.id}`)}>{repository(a.source, a.source_name)}</a>
        {a.ref && <span class="muted"> @ {a.ref}</span>}
      </>
    ),
  },
  { label: "Line coverage", cell: (a) => (a.summary ? pctChange(a.summary.line_pct_before, a.summary.line_pct_after) : "–") },
  { label: "Kept tests", cell: (a) => a.summary?.kept ?? "–" },
  { label: "Findings", cell: (a) => a.summary?.findings ?? "–" },
  { label: "Cost", cell: (a) => (a.summary ? usd(a.summary.usd, a.summary.usd_known) : "–") },
  {
    label: "Age",
    cell: (a) => (
      <time dateTime={a.created_at} title={new Date(a.created_at).toLocaleString()}>
        {age(a.created_at)}
      </time>
    ),
  },
];

export function AnalysesView({ query }: { query: URLSearchParams }) {
  const { client, me } = useSession();
  const status = query.get("status") ?? "";
  const workspace = query.get("workspace") ?? "";
  const after = query.get("after") ?? "";
  const before = query.get("before") ?? "";
  const paging = useCursor([status, workspace, after, before]);
  const analyses = useLoad(
    (signal) =>
      client.get<Page<Analysis>>(
        "/v1/analyses",
        {
          status,
          workspace_id: workspace,
          created_after: after && new Date(after).toISOString(),
          created_before: before && new Date(before).toISOString(),
          limit: 20,
          cursor: paging.cursor,
        },
        signal,
      ),
    [status, workspace, after, before, paging.cursor],
  );
  const workspaces = useLoad((signal) => client.get<Page<Workspace>>("/v1/workspaces", { limit: 200 }, signal), []);
  const filter = (name: string, value: string) => {
    const next: Record<string, string> = { status, workspace, after, before, [name]: value };
    go("analyses", next);
  };
  return (
    <>
      <div class="title-row">
        <h1>Analyses</h1>
        {canWrite(me) && (
          <a class="button primary" href={href("analyses/new")}>
            New analysis
          </a>
        )}
      </div>
      <form class="filters" aria-label="Filter analyses" onSubmit={(e) => e.preventDefault()}>
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
          Workspace
          <select value={workspace} onChange={(e) => filter("workspace", e.currentTarget.value)}>
            <option value="">any</option>
            <option value="default">default</option>
            {(workspaces.data?.items ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Created after
          <input type="datetime-local" value={after} onChange={(e) => filter("after", e.currentTarget.value)} />
        </label>
        <label>
          Created before
          <input type="datetime-local" value={before} onChange={(e) => filter("before", e.currentTarget.value)} />
        </label>
      </form>
      <View loaded={analyses} what="analyses">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">No analyses{status || workspace || after || before ? " match these filters" : " yet"}.</p>
          ) : (
            <DataTable class="analyses" caption="Analyses, newest first" rows={page.items} rowKey={(a) => a.id} columns={COLUMNS} />
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={analyses.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(analyses.data?.next_cursor ?? null)} />
    </>
  );
}

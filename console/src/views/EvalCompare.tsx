// A run against a baseline run of its dataset: pick the baseline; the verdict; the change in
// pass rate and mean score with their 95% intervals and whether it is more than noise; and the
// items that regressed and improved, side by side, with the outputs before and after.
import type { EvalComparison, EvalDelta, EvalItemChange, EvalRun, Page } from "../api";
import { points, rate, score, signed, when } from "../format";
import { go, href } from "../router";
import { useSession } from "../session";
import { DataTable, Section, View, useLoad } from "../ui";
import { verdictTone } from "./Evals";

export function EvalCompareView({ id, baseline }: { id: string; baseline: string }) {
  const { client } = useSession();
  const run = useLoad((signal) => client.get<EvalRun>(`/v1/evals/runs/${encodeURIComponent(id)}`, undefined, signal), [id]);
  // Finished runs to compare with; the API cannot filter by dataset, so this reads the newest
  // page of succeeded runs and puts those over the same dataset first.
  const candidates = useLoad((signal) => client.get<Page<EvalRun>>("/v1/evals/runs", { status: "succeeded", limit: 200 }, signal), []);
  return (
    <View loaded={run} what="the eval run">
      {(record) => {
        const chosen = baseline || record.baseline_run_id || "";
        const others = (candidates.data?.items ?? []).filter((r) => r.id !== record.id);
        const unlisted = chosen && !others.some((r) => r.id === chosen); // older than the page read
        const same = others.filter((r) => r.dataset === record.dataset);
        const rest = others.filter((r) => r.dataset !== record.dataset);
        const option = (r: EvalRun) => (
          <option key={r.id} value={r.id}>
            {`${r.suite_name} · ${r.model} · ${r.dataset} v${r.dataset_version} · ${r.summary ? rate(r.summary.pass_rate) : "–"} · ${when(r.created_at)} · ${r.id}`}
          </option>
        );
        return (
          <>
            <p class="crumbs">
              <a href={href("evals/runs")}>Eval runs</a> / <a href={href(`evals/runs/${record.id}`)}>{record.id}</a> / compare
            </p>
            <h1>Compare {record.suite_name}</h1>
            <p>
              This run: <a href={href(`evals/runs/${record.id}`)}>{record.id}</a> ({record.model}, {record.dataset} v{record.dataset_version}
              {record.summary ? `, pass rate ${rate(record.summary.pass_rate)}` : ""})
            </p>
            <form class="filters" aria-label="Pick the baseline" onSubmit={(e) => e.preventDefault()}>
              <label>
                Baseline run
                <select value={chosen} onChange={(e) => go(`evals/runs/${record.id}/compare`, { baseline: e.currentTarget.value })}>
                  <option value="">choose a finished run…</option>
                  {unlisted && <option value={chosen}>{chosen}</option>}
                  {same.length > 0 && <optgroup label={`Over ${record.dataset}`}>{same.map(option)}</optgroup>}
                  {rest.length > 0 && <optgroup label="Over other datasets">{rest.map(option)}</optgroup>}
                </select>
              </label>
            </form>
            {record.status !== "succeeded" ? (
              <p class="empty">This run has no results to compare yet.</p>
            ) : chosen ? (
              <Comparison id={record.id} baseline={chosen} />
            ) : (
              <p class="empty">Pick a baseline run to compare with.</p>
            )}
          </>
        );
      }}
    </View>
  );
}

function Comparison({ id, baseline }: { id: string; baseline: string }) {
  const { client } = useSession();
  const compared = useLoad(
    (signal) => client.get<EvalComparison>(`/v1/evals/runs/${encodeURIComponent(id)}/compare/${encodeURIComponent(baseline)}`, undefined, signal),
    [id, baseline],
  );
  return (
    <View loaded={compared} what="the comparison">
      {(c) => (
        <>
          <p class={`verdict ${verdictTone(c.verdict)}`} role="status" data-testid="compare-verdict">
            {c.verdict}
          </p>
          <Section title="Change against the baseline">
            <DataTable class="deltas" caption="Pass rate and mean score, before and after, with the 95% interval of the change" rows={[
              { name: "Pass rate", delta: c.pass_rate, fmt: rate, change: points },
              { name: "Mean score", delta: c.mean_score, fmt: score, change: (v: number) => signed(v) },
            ]} rowKey={(r) => r.name} columns={[
              { label: "Measure", rowHeader: true, cell: (r) => r.name },
              { label: "Baseline", class: "count", cell: (r) => r.fmt(r.delta.before) },
              { label: "This run", class: "count", cell: (r) => r.fmt(r.delta.after) },
              { label: "Change", class: "count", cell: (r) => <strong>{r.change(r.delta.delta)}</strong> },
              { label: "95% interval", class: "count", cell: (r) => `${r.change(r.delta.low)} to ${r.change(r.delta.high)}` },
              { label: "p-value", class: "count", cell: (r) => pValue(r.delta) },
              { label: "More than noise?", cell: (r) => (r.delta.significant ? <strong>yes</strong> : "no, within noise") },
            ]} />
            <p class="hint">
              {c.paired} items in both runs{c.only_in_baseline ? `, ${c.only_in_baseline} only in the baseline` : ""}
              {c.only_in_run ? `, ${c.only_in_run} only in this run` : ""}. Paired tests: McNemar's exact test on the items whose verdict changed, a t interval on the per-item
              score differences; more than noise at the 5% level.
            </p>
          </Section>
          <div class="side-by-side">
            <Changes title={`Regressions (${c.regressions.length})`} empty="No item that passed in the baseline fails now." changes={c.regressions} kind="regression" />
            <Changes title={`Improvements (${c.improvements.length})`} empty="No item that failed in the baseline passes now." changes={c.improvements} kind="improvement" />
          </div>
        </>
      )}
    </View>
  );
}

function pValue(delta: EvalDelta): string {
  return delta.p_value < 0.001 ? "< 0.001" : delta.p_value.toPrecision(3);
}

function Changes({ title, empty, changes, kind }: { title: string; empty: string; changes: EvalItemChange[]; kind: string }) {
  return (
    <Section title={title}>
      {changes.length === 0 ? (
        <p class="empty">{empty}</p>
      ) : (
        <ul class="changes">
          {changes.map((change) => (
            <li key={change.id} class={`change change-${kind}`} data-item-id={change.id}>
              <h3>
                <code>{change.id}</code>{" "}
                <span class="muted">
                  {change.before_passed ? "passed" : "failed"} → {change.after_passed ? "passed" : "failed"}, score {score(change.before_score)} → {score(change.after_score)}
                </span>
              </h3>
              <div class="io">
                <div>
                  <h4>Before (baseline)</h4>
                  <pre class="code">{change.before_output ?? "(no output)"}</pre>
                </div>
                <div>
                  <h4>After (this run)</h4>
                  <pre class="code">{change.after_output ?? "(no output)"}</pre>
                </div>
              </div>
              {change.reason && (
                <p class="reason">
                  <strong>{change.after_passed ? "Why it failed before" : "Why it fails now"}:</strong> {change.reason}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

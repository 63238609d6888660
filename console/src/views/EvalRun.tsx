// One eval run: followed live over SSE while it runs (items answered), then its summary, the
// gate, the headline against its baseline, each evaluator's mean score and distribution, and
// its items (the failing first) with input, output and every evaluator's score and reason.
import { useEffect, useState } from "preact/hooks";
import type { EvalItemResult, EvalRun, EvalRunItems, EvalSummary } from "../api";
import { points, rate, score, seconds, usd, when } from "../format";
import { href } from "../router";
import { useSession } from "../session";
import { followRun, type AnalysisEvent } from "../sse";
import { DataTable, ErrorBox, OffsetPager, Section, StatusBadge, View, useAction, useLoad } from "../ui";
import { GateBadge, shown, verdictTone } from "./Evals";

const PAGE = 20;
const FILES: { link: string; file: string; label: string }[] = [
  { link: "results", file: "results.json", label: "results.json" },
  { link: "junit", file: "junit.xml", label: "junit.xml" },
  { link: "summary", file: "summary.md", label: "summary.md" },
];

export function EvalRunView({ id }: { id: string }) {
  const { client } = useSession();
  const run = useLoad((signal) => client.get<EvalRun>(`/v1/evals/runs/${encodeURIComponent(id)}`, undefined, signal), [id]);
  return (
    <View loaded={run} what="the eval run">
      {(record) => <RunPage record={record} reload={run.reload} />}
    </View>
  );
}

function RunPage({ record, reload }: { record: EvalRun; reload: () => void }) {
  const finished = record.status === "succeeded" || record.status === "failed";
  return (
    <>
      <p class="crumbs">
        <a href={href("evals/runs")}>Eval runs</a> / {record.id}
      </p>
      <div class="title-row">
        <h1>{record.suite_name}</h1>
        <StatusBadge status={record.status} />
        <GateBadge held={record.gate_held} />
      </div>
      <dl class="facts">
        <dt>Run</dt>
        <dd>
          <code>{record.id}</code>
        </dd>
        <dt>Model</dt>
        <dd>
          <code>{record.model || "–"}</code>
        </dd>
        <dt>Dataset</dt>
        <dd>
          <a href={href(`evals/datasets/${encodeURIComponent(record.dataset)}`, { version: String(record.dataset_version) })}>
            {record.dataset} v{record.dataset_version}
          </a>
        </dd>
        <dt>Baseline</dt>
        <dd>{record.baseline_run_id ? <a href={href(`evals/runs/${record.baseline_run_id}`)}>{record.baseline_run_id}</a> : "none"}</dd>
        <dt>Submitted</dt>
        <dd>{when(record.created_at)}</dd>
        {record.finished_at && (
          <>
            <dt>Finished</dt>
            <dd>{when(record.finished_at)}</dd>
          </>
        )}
        {record.reason && (
          <>
            <dt>Reason</dt>
            <dd>{record.reason}</dd>
          </>
        )}
      </dl>
      {!finished && <Live record={record} reload={reload} />}
      {record.status === "succeeded" && record.summary && <Results record={record} summary={record.summary} />}
    </>
  );
}

/** A queued or running run, followed: items answered so far; the record is read again when the
 * run starts and when it ends. */
function Live({ record, reload }: { record: EvalRun; reload: () => void }) {
  const { client } = useSession();
  const [events, setEvents] = useState<AnalysisEvent[]>([]);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setEvents([]);
    setEnded(false);
    return followRun(client, record.id, (event) => setEvents((seen) => [...seen, event]), () => setEnded(true), setError);
  }, [record.id]);
  useEffect(() => {
    if (events.length > 0 && record.status === "queued") reload();
  }, [events.length > 0, record.status]);
  useEffect(() => {
    if (ended) reload();
  }, [ended]);
  const started = events.find((e) => e.type === "started");
  const progress = [...events].reverse().find((e) => e.type === "progress");
  const items = Number(progress?.items ?? started?.items ?? 0);
  const answered = Number(progress?.answered ?? 0);
  return (
    <Section title="Progress" actions={<span class="live" aria-hidden="true">● live</span>}>
      {items > 0 ? (
        <>
          <label for="run-progress">
            {answered} of {items} items answered
          </label>
          <progress id="run-progress" max={items} value={answered} />
        </>
      ) : (
        <p role="status">{record.status === "queued" ? "Waiting for a worker to take the run…" : "Starting…"}</p>
      )}
      <ErrorBox error={error} />
    </Section>
  );
}

function Results({ record, summary }: { record: EvalRun; summary: EvalSummary }) {
  const { client } = useSession();
  const [offset, setOffset] = useState(0);
  const items = useLoad(
    (signal) => client.get<EvalRunItems>(`/v1/evals/runs/${encodeURIComponent(record.id)}/items`, { failing_first: true, offset, limit: PAGE }, signal),
    [record.id, offset],
  );
  const download = useAction((file: string) => client.download(`/v1/evals/runs/${encodeURIComponent(record.id)}/files/${file}`, `${record.id}-${file}`));
  const histogram = items.data?.score_histogram;
  return (
    <>
      <Section title="Summary">
        <dl class="totals" aria-label="Totals of the run">
          <div>
            <dt>Pass rate</dt>
            <dd data-testid="pass-rate">{rate(summary.pass_rate)}</dd>
          </div>
          <div>
            <dt>Passed</dt>
            <dd>
              {summary.passed} of {summary.items}
            </dd>
          </div>
          <div>
            <dt>Failed</dt>
            <dd>{summary.failed}</dd>
          </div>
          <div>
            <dt>Errors</dt>
            <dd>{summary.errors}</dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>{summary.tokens.toLocaleString()}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd>{usd(summary.cost_usd)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{seconds(summary.duration_s)}</dd>
          </div>
        </dl>
        <p class={`verdict ${record.gate_held ? "ok" : "bad"}`} data-testid="gate">
          {record.gate_held ? "Gate held" : "Gate failed"}: {record.gate}
        </p>
      </Section>
      <Baseline record={record} />
      <Section title="Scores">
        {Object.keys(summary.mean_scores).length === 0 ? (
          <p class="empty">No evaluator scored this run.</p>
        ) : (
          <div class="histograms">
            {Object.entries(summary.mean_scores).map(([name, mean]) => (
              <Histogram key={name} name={name} mean={mean} counts={histogram?.[name]} />
            ))}
          </div>
        )}
      </Section>
      <Section title={`Items (${summary.items}), failing first`}>
        <View loaded={items} what="the items">
          {(page) => (
            <>
              <ul class="eval-items">
                {page.items.map((item) => (
                  <ItemCard key={item.id} item={item} />
                ))}
              </ul>
              <OffsetPager offset={page.offset} limit={PAGE} total={page.total} what="items" onOffset={setOffset} />
            </>
          )}
        </View>
      </Section>
      <Section title="Files">
        <div class="actions">
          {FILES.filter((f) => record.links[f.link]).map((f) => (
            <button key={f.file} type="button" onClick={() => void download.run(f.file)} disabled={download.busy}>
              Download {f.label}
            </button>
          ))}
        </div>
        <ErrorBox error={download.error} />
      </Section>
    </>
  );
}

/** The headline against the run's baseline, or a way to pick one. */
function Baseline({ record }: { record: EvalRun }) {
  const headline = record.comparison;
  return (
    <Section title="Against the baseline">
      {headline ? (
        <>
          <p class={`verdict ${verdictTone(headline.verdict)}`} data-testid="baseline-verdict">
            {headline.verdict}
          </p>
          <p>
            Against <a href={href(`evals/runs/${headline.baseline}`)}>{headline.baseline}</a>: {headline.regressions} regressed, {headline.improvements} improved, pass rate{" "}
            {points(headline.pass_rate_delta)}.
          </p>
          <a class="button" href={href(`evals/runs/${record.id}/compare`, { baseline: headline.baseline })}>
            Compare item by item
          </a>
        </>
      ) : (
        <>
          <p class="empty">This run had no baseline.</p>
          <a class="button" href={href(`evals/runs/${record.id}/compare`)}>
            Compare with another run
          </a>
        </>
      )}
    </Section>
  );
}

const BINS = Array.from({ length: 10 }, (_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`);

/** An evaluator's mean score, and how many items scored in each tenth of [0, 1] as bars. */
function Histogram({ name, mean, counts }: { name: string; mean: number; counts: number[] | undefined }) {
  const top = Math.max(1, ...(counts ?? []));
  return (
    <figure class="histogram" data-evaluator={name}>
      <figcaption>
        <strong>{name}</strong>: mean score <span data-testid={`mean-${name}`}>{score(mean)}</span>
      </figcaption>
      {counts ? (
        <ol class="bins" aria-label={`Distribution of ${name}'s scores`}>
          {counts.map((count, i) => (
            <li key={i}>
              <span class="bin-count" aria-hidden="true">
                {count}
              </span>
              <span class="bin-track" aria-hidden="true">
                <span class="bin-bar" style={{ height: `${(100 * count) / top}%` }} />
              </span>
              <span class="bin-label" aria-hidden="true">
                {(i / 10).toFixed(1)}
              </span>
              <span class="visually-hidden">
                score {BINS[i]}: {count} {count === 1 ? "item" : "items"}
              </span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">Loading the distribution…</p>
      )}
    </figure>
  );
}

function ItemCard({ item }: { item: EvalItemResult }) {
  const verdict = item.error ? "error" : item.passed ? "passed" : "failed";
  return (
    <li class={`eval-item eval-item-${verdict}`} data-item-id={item.id}>
      <h3>
        <code>{item.id}</code> <span class={`badge badge-${verdict === "passed" ? "held" : "broken"}`}>{verdict}</span>
      </h3>
      <div class="io">
        <div>
          <h4>Input</h4>
          <pre class="code" tabIndex={0} aria-label={`Input of ${item.id}`}>
            {shown(item.input)}
          </pre>
        </div>
        <div>
          <h4>Output</h4>
          <pre class="code" tabIndex={0} aria-label={`Output of ${item.id}`}>
            {item.output ?? "(no output)"}
          </pre>
        </div>
      </div>
      {item.error && <pre class="error-output">{item.error}</pre>}
      {item.scores.length > 0 && (
        <DataTable class="item-scores" caption={`Scores of ${item.id}`} rows={item.scores} rowKey={(s) => s.name} columns={[
          { label: "Evaluator", rowHeader: true, cell: (s) => s.name },
          { label: "Score", class: "count", cell: (s) => score(s.score) },
          { label: "Result", cell: (s) => (s.passed ? "passed" : <strong class="bad-text">failed</strong>) },
          { label: "Reason", cell: (s) => s.reason || "–" },
        ]} />
      )}
      <p class="muted item-meta">
        {Math.round(item.latency_ms)} ms, {item.tokens} tokens, {usd(item.cost_usd)}
      </p>
    </li>
  );
}

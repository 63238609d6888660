// Online evaluation's score trends: per gateway resource, per hour (or day), how many answers
// were sampled, how many passed, and each evaluator's mean score; newest first.
import type { ScoreTrend } from "../api";
import { rate, score, when } from "../format";
import { go } from "../router";
import { useSession } from "../session";
import { DataTable, Section, View, useLoad, type Column } from "../ui";

export function EvalScoresView({ query }: { query: URLSearchParams }) {
  const { client } = useSession();
  const resource = query.get("resource") ?? "";
  const bucket = query.get("bucket") === "day" ? "day" : "hour";
  const trends = useLoad((signal) => client.get<ScoreTrend[]>("/v1/evals/scores", { resource, bucket }, signal), [resource, bucket]);
  const filter = (name: string, value: string) => go("evals/scores", { resource, bucket: bucket === "hour" ? undefined : bucket, [name]: value });
  return (
    <>
      <div class="title-row">
        <h1>Online scores</h1>
        <button type="button" onClick={trends.reload}>
          Refresh
        </button>
      </div>
      <p class="hint">
        A resource with an online evaluation rule (set on the Gateway page) has a sample of its answers scored off the request path. These are the newest 5,000 samples,
        per resource and {bucket}.
      </p>
      <form
        class="filters"
        aria-label="Filter online scores"
        onSubmit={(e) => {
          e.preventDefault();
          filter("resource", ((e.currentTarget.elements.namedItem("resource") as HTMLInputElement).value ?? "").trim());
        }}
      >
        <label>
          Resource (empty: all)
          <input name="resource" defaultValue={resource} key={resource} />
        </label>
        <label>
          Per
          <select value={bucket} onChange={(e) => filter("bucket", e.currentTarget.value)}>
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      <View loaded={trends} what="online scores">
        {(rows) => (rows.length === 0 ? <p class="empty">No sampled answers{resource ? ` for ${resource}` : ""} yet.</p> : <PerResource rows={rows} bucket={bucket} />)}
      </View>
    </>
  );
}

function PerResource({ rows, bucket }: { rows: ScoreTrend[]; bucket: "hour" | "day" }) {
  const resources = [...new Set(rows.map((r) => r.resource))].sort();
  return (
    <>
      {resources.map((name) => {
        const mine = rows.filter((r) => r.resource === name).sort((a, b) => Date.parse(b.bucket_start) - Date.parse(a.bucket_start));
        const evaluators = [...new Set(mine.flatMap((r) => Object.keys(r.mean_scores)))].sort();
        const columns: Column<ScoreTrend>[] = [
          {
            label: bucket === "hour" ? "Hour" : "Day",
            rowHeader: true,
            cell: (r) => <time dateTime={r.bucket_start}>{bucket === "hour" ? when(r.bucket_start) : new Date(r.bucket_start).toLocaleDateString()}</time>,
          },
          { label: "Samples", class: "count", cell: (r) => r.samples },
          { label: "Passed", class: "count", cell: (r) => r.passed },
          { label: "Pass rate", class: "count", cell: (r) => rate(r.samples ? r.passed / r.samples : null) },
          ...evaluators.map((e) => ({ label: `${e} (mean)`, class: "count", cell: (r: ScoreTrend) => score(r.mean_scores[e]) })),
        ];
        return (
          <Section key={name} title={`Resource ${name}`}>
            <DataTable class="score-trends" caption={`Online scores of ${name}, per ${bucket}, newest first`} rows={mine} rowKey={(r) => r.bucket_start} columns={columns} />
          </Section>
        );
      })}
    </>
  );
}

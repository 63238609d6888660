// Evaluations: the section's own navigation (runs, datasets, judges, online scores) and the view
// for the path under #/evals.
import type { ComponentChildren } from "preact";
import { ApiError } from "../api";
import { href } from "../router";
import { ErrorBox } from "../ui";
import { EvalCompareView } from "./EvalCompare";
import { EvalDatasetsView, EvalDatasetView } from "./EvalDatasets";
import { EvalJudgesView } from "./EvalJudges";
import { EvalRunView } from "./EvalRun";
import { EvalRunsView } from "./EvalRuns";
import { EvalScoresView } from "./EvalScores";

const PARTS: { path: string; label: string }[] = [
  { path: "runs", label: "Runs" },
  { path: "datasets", label: "Datasets" },
  { path: "judges", label: "Judges" },
  { path: "scores", label: "Online scores" },
];

/** `path` is what follows #/evals/: [], [runs], [runs, ID], [runs, ID, compare], [datasets],
 * [datasets, NAME], [judges], [scores]. */
export function EvalsView({ path, query }: { path: string[]; query: URLSearchParams }) {
  const [part = "runs", id, action] = path;
  return (
    <>
      <nav class="subnav" aria-label="Evaluations">
        <ul>
          {PARTS.map((p) => (
            <li key={p.path}>
              <a href={href(`evals/${p.path}`)} aria-current={part === p.path ? (id ? "location" : "page") : undefined}>
                {p.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {pick(part, id, action, query)}
    </>
  );
}

function pick(part: string, id: string | undefined, action: string | undefined, query: URLSearchParams): ComponentChildren {
  if (part === "runs" && !id) return <EvalRunsView query={query} />;
  if (part === "runs" && id && !action) return <EvalRunView id={id} />;
  if (part === "runs" && id && action === "compare") return <EvalCompareView id={id} baseline={query.get("baseline") ?? ""} />;
  if (part === "datasets") return id ? <EvalDatasetView name={id} version={Number(query.get("version")) || null} /> : <EvalDatasetsView />;
  if (part === "judges" && !id) return <EvalJudgesView />;
  if (part === "scores" && !id) return <EvalScoresView query={query} />;
  return <ErrorBox error={new ApiError({ title: "Not found", status: 404, detail: `no page #/evals/${[part, id, action].filter(Boolean).join("/")}` })} />;
}

/** Whether a run's gate held, as a badge (nothing before the run has finished). */
export function GateBadge({ held }: { held: boolean | null }) {
  if (held === null) return null;
  return <span class={`badge ${held ? "badge-held" : "badge-broken"}`}>{held ? "gate held" : "gate failed"}</span>;
}

/** A verdict sentence's tone: "worse, more than noise…" is bad, "better, more than noise…" and
 * "no change" are good, anything within noise is neither. */
export function verdictTone(verdict: string): "ok" | "bad" | "neutral" {
  if (verdict.startsWith("worse")) return "bad";
  if (verdict.startsWith("better") || verdict === "no change") return "ok";
  return "neutral";
}

/** JSON as people read it: a string as itself, anything else indented. */
export function shown(value: unknown): string {
  if (value === undefined || value === null) return "–";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// What an analysis's events say about its progress: which stages are done, which is running,
// and how many candidates reached each stage of the funnel so far.
import type { AnalysisEvent } from "../sse";

export const FUNNEL = ["generated", "built", "passed", "reliable", "gained", "kept"] as const;

const STAGES: { name: string; label: string; events: string[] }[] = [
  { name: "intake", label: "Intake", events: ["intake"] },
  { name: "detect", label: "Detect", events: ["detect"] },
  { name: "install", label: "Install", events: ["install"] },
  { name: "baseline", label: "Baseline", events: ["baseline"] },
  { name: "plan", label: "Plan", events: ["plan"] },
  { name: "generate", label: "Generate and run", events: ["generate", "execute", "repair"] },
  { name: "select", label: "Select", events: ["select"] },
  { name: "findings", label: "Findings", events: ["findings"] },
  { name: "report", label: "Report", events: ["report"] },
];

export interface StageState {
  name: string;
  label: string;
  state: "done" | "running" | "pending" | "skipped";
  note?: string;
}

/** Each stage's event is written when it finishes, so the stage after the last one seen is
 * running; generation runs until Select. Once the report is written, what never ran was skipped. */
export function stagesOf(events: AnalysisEvent[]): StageState[] {
  const seen = new Set(events.map((e) => e.type));
  const ended = seen.has("report");
  let last = -1;
  STAGES.forEach((stage, index) => {
    if (stage.events.some((e) => seen.has(e))) last = index;
  });
  const running = ended ? -1 : STAGES[last]?.name === "generate" ? last : last + 1;
  return STAGES.map((stage, index) => {
    const happened = stage.events.some((e) => seen.has(e));
    let state: StageState["state"] = "pending";
    if (index === running) state = "running";
    else if (happened || index < last) state = "done";
    else if (ended) state = "skipped";
    let note: string | undefined;
    if (stage.name === "generate") {
      const made = events.filter((e) => e.type === "generate" && e.candidate).length;
      if (made) note = `${made} candidate${made === 1 ? "" : "s"}`;
    }
    return { name: stage.name, label: stage.label, state, note };
  });
}

/** Counts as the events arrive; once `select` has happened, its own funnel is the answer. Each
 * repair turn is a candidate of its own, as in Select's funnel. */
export function liveFunnel(events: AnalysisEvent[]): Record<string, number> {
  const selected = [...events].reverse().find((e) => e.type === "select");
  if (selected && selected.funnel) return selected.funnel as Record<string, number>;
  const candidates = new Set<string>();
  const reached = new Map<string, string>();
  for (const event of events) {
    if (typeof event.candidate !== "string") continue;
    const turn = `${event.candidate}#${Number(event.turn ?? 0)}`;
    if (event.type === "generate" || event.type === "repair") candidates.add(turn);
    if (event.type === "execute") reached.set(turn, String(event.reached));
  }
  const counts: Record<string, number> = { generated: candidates.size };
  for (const stage of FUNNEL.slice(1)) {
    const rank = FUNNEL.indexOf(stage);
    counts[stage] = [...reached.values()].filter((r) => FUNNEL.indexOf(r as (typeof FUNNEL)[number]) >= rank).length;
  }
  counts.gained = 0; // decided by Select
  counts.kept = 0;
  return counts;
}

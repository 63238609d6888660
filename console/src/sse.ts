// Follow an analysis's or an eval run's events. EventSource cannot send an Authorization header,
// so this reads the stream with fetch and parses it with eventsource-parser; it resumes after the
// last id (an analysis's stream takes it as ?after=, an eval run's only as Last-Event-ID).
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { ApiError, type Client } from "./api";

export interface AnalysisEvent {
  seq: number;
  type: string;
  at?: string;
  [field: string]: unknown;
}

export function follow(
  client: Client,
  analysisId: string,
  onEvent: (event: AnalysisEvent) => void,
  onEnd: () => void,
  onError: (error: Error) => void,
): () => void {
  return followStream(client, `/v1/analyses/${encodeURIComponent(analysisId)}/events`, "query", onEvent, onEnd, onError);
}

/** An eval run's events: started, progress (answered of items), finished. */
export function followRun(
  client: Client,
  runId: string,
  onEvent: (event: AnalysisEvent) => void,
  onEnd: () => void,
  onError: (error: Error) => void,
): () => void {
  return followStream(client, `/v1/evals/runs/${encodeURIComponent(runId)}/events`, "header", onEvent, onEnd, onError);
}

function followStream(
  client: Client,
  path: string,
  resume: "query" | "header",
  onEvent: (event: AnalysisEvent) => void,
  onEnd: () => void,
  onError: (error: Error) => void,
): () => void {
  const controller = new AbortController();
  let last = 0;
  let stopped = false;

  async function once(): Promise<boolean> {
    const response = await client.send("GET", path, {
      ...(resume === "query" ? { query: { after: last } } : { headers: last ? { "Last-Event-ID": String(last) } : {} }),
      signal: controller.signal,
    });
    let ended = false;
    const parser = createParser({
      onEvent(message: EventSourceMessage) {
        if (message.event === "end") {
          ended = true;
          return;
        }
        const seq = Number(message.id);
        if (!Number.isFinite(seq) || seq <= last) return;
        last = seq;
        onEvent({ seq, ...(JSON.parse(message.data) as { type: string }) });
      },
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(value);
    }
    return ended;
  }

  (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (await once()) {
          onEnd();
          return;
        }
        failures = 0; // the connection closed early (a proxy's timeout): resume
      } catch (error) {
        if (stopped || (error as Error).name === "AbortError") return;
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          onError(error);
          return;
        }
        failures += 1;
        if (failures >= 5) {
          onError(error as Error);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(8000, 500 * 2 ** failures)));
    }
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}

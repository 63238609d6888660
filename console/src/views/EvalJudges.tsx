// Named judges: a target model whose completions come back with its evaluators' results, each
// behind an OpenAI-compatible endpoint of its own; created or replaced by those who may write.
import { useState } from "preact/hooks";
import type { EvalJudge, Page } from "../api";
import { when } from "../format";
import { canWriteEvals, useSession } from "../session";
import { DataTable, ErrorBox, Section, View, useAction, useLoad } from "../ui";

export function EvalJudgesView() {
  const { client, me } = useSession();
  const judges = useLoad((signal) => client.get<Page<EvalJudge>>("/v1/evals/judges", undefined, signal), []);
  const [editing, setEditing] = useState<EvalJudge | "new" | null>(null);
  const endpoint = (path: string) => new URL(client.url(path), location.href).href; // to copy as it is
  return (
    <>
      <h1>Judges</h1>
      <p class="hint">
        A judge answers like a chat completion, with <code>evaluator_results</code> and an <code>evaluation</code> beside the choices. Call its endpoint with an
        OpenAI-compatible client and a key with the <code>gateway:invoke</code> scope; put what the evaluators compare with (such as <code>expected</code>) in{" "}
        <code>assay_eval</code> in the request body.
      </p>
      <Section title="Judges">
        <View loaded={judges} what="judges">
          {(page) =>
            page.items.length === 0 ? (
              <p class="empty">No judges yet.</p>
            ) : (
              <DataTable class="judges" caption="Judges and their endpoints" rows={page.items} rowKey={(j) => j.name} columns={[
                { label: "Name", rowHeader: true, cell: (j) => j.name },
                { label: "Model", cell: (j) => <code>{j.model}</code> },
                {
                  label: "Evaluators",
                  cell: (j) => (
                    <ul class="plain-inline">
                      {j.evaluators.map((e, i) => (
                        <li key={i}>
                          {String(e.name ?? `#${i + 1}`)} <span class="muted">({String(e.type ?? "?")})</span>
                        </li>
                      ))}
                    </ul>
                  ),
                },
                { label: "Must pass", cell: (j) => `${Math.round(j.threshold * 100)}% of evaluators` },
                { label: "Endpoint", cell: (j) => <code class="hash" data-testid={`endpoint-${j.name}`}>POST {endpoint(j.endpoint)}</code> },
                { label: "Updated", cell: (j) => when(j.updated_at) },
                ...(canWriteEvals(me)
                  ? [{
                      label: "Actions",
                      hiddenLabel: true,
                      class: "row-actions",
                      cell: (j: EvalJudge) => (
                        <button type="button" onClick={() => setEditing(j)} aria-label={`Edit judge ${j.name}`}>
                          Edit
                        </button>
                      ),
                    }]
                  : []),
              ]} />
            )
          }
        </View>
        {canWriteEvals(me) &&
          (editing ? (
            <JudgeForm
              existing={editing === "new" ? null : editing}
              done={() => {
                setEditing(null);
                judges.reload();
              }}
              cancel={() => setEditing(null)}
            />
          ) : (
            <button type="button" class="primary" onClick={() => setEditing("new")}>
              Add a judge
            </button>
          ))}
      </Section>
    </>
  );
}

const EXAMPLE = '[{"name": "exact", "type": "equals", "value": "{{expected}}"}]';

function JudgeForm({ existing, done, cancel }: { existing: EvalJudge | null; done: () => void; cancel: () => void }) {
  const { client } = useSession();
  const [name, setName] = useState(existing?.name ?? "");
  const [model, setModel] = useState(existing?.model ?? "");
  const [threshold, setThreshold] = useState(String(existing?.threshold ?? 1));
  const [evaluators, setEvaluators] = useState(existing ? JSON.stringify(existing.evaluators, null, 2) : "");
  const save = useAction(async () => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(evaluators);
    } catch (error) {
      throw new Error(`Evaluators is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed) || parsed.length === 0) throw new Error("Evaluators must be a JSON list of at least one evaluator");
    await client.json("PUT", `/v1/evals/judges/${encodeURIComponent(name.trim())}`, {
      json: { model: model.trim(), threshold: Number(threshold), evaluators: parsed },
    });
    done();
  });
  return (
    <form
      class="form subform"
      aria-label={existing ? `Edit judge ${existing.name}` : "New judge"}
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h3>{existing ? `Edit ${existing.name}` : "New judge"}</h3>
      <label for="judge-name">Name (letters, digits, dots, dashes and underscores)</label>
      <input id="judge-name" required disabled={!!existing} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="judge-model">Target model (a gateway resource)</label>
      <input id="judge-model" required value={model} onInput={(e) => setModel(e.currentTarget.value)} />
      <label for="judge-threshold">Share of evaluators that must pass (0 to 1)</label>
      <input id="judge-threshold" type="number" min={0} max={1} step={0.05} required value={threshold} onInput={(e) => setThreshold(e.currentTarget.value)} />
      <label for="judge-evaluators">Evaluators (JSON list, as in a suite file; deterministic ones and model judges)</label>
      <textarea id="judge-evaluators" rows={5} spellcheck={false} required placeholder={EXAMPLE} value={evaluators} onInput={(e) => setEvaluators(e.currentTarget.value)} />
      <div class="actions">
        <button type="submit" class="primary" disabled={save.busy}>
          Save judge
        </button>
        <button type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
      <ErrorBox error={save.error} />
    </form>
  );
}

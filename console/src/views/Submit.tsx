// Submit an analysis: a git URL or an uploaded archive, the engine, model and budget.
import { useState } from "preact/hooks";
import type { Analysis, Page, Workspace } from "../api";
import { go } from "../router";
import { useSession } from "../session";
import { ErrorBox, useAction, useLoad } from "../ui";

export function SubmitView() {
  const { client } = useSession();
  const [kind, setKind] = useState<"git" | "archive">("git");
  const [source, setSource] = useState("");
  const [ref, setRef] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [engine, setEngine] = useState("auto");
  const [model, setModel] = useState("");
  const [budget, setBudget] = useState(600);
  const [workspace, setWorkspace] = useState("default");
  const [mutation, setMutation] = useState(false);
  const workspaces = useLoad((signal) => client.get<Page<Workspace>>("/v1/workspaces", { limit: 200 }, signal), []);
  const submit = useAction(async () => {
    let created: Analysis;
    if (kind === "git") {
      created = await client.json<Analysis>("POST", "/v1/analyses", {
        json: { source: source.trim(), ref: ref.trim() || null, engine, model: model.trim() || null, budget_s: budget, workspace_id: workspace, mutation },
      });
    } else {
      if (!file) throw new Error("choose a .tar.gz or .zip archive");
      const type = file.name.endsWith(".zip") ? "application/zip" : "application/gzip";
      created = await client.json<Analysis>("POST", "/v1/analyses/archive", {
        query: { engine, model: model.trim() || null, budget_s: budget, workspace_id: workspace, mutation: mutation || null, name: file.name },
        body: file,
        type,
      });
    }
    go(`analyses/${created.id}`);
  });
  return (
    <>
      <h1>New analysis</h1>
      <form
        class="card form"
        onSubmit={(event) => {
          event.preventDefault();
          void submit.run();
        }}
      >
        <fieldset>
          <legend>What to analyze</legend>
          <label class="inline">
            <input type="radio" name="kind" checked={kind === "git"} onChange={() => setKind("git")} /> A git repository
          </label>
          <label class="inline">
            <input type="radio" name="kind" checked={kind === "archive"} onChange={() => setKind("archive")} /> An archive upload
          </label>
        </fieldset>
        {kind === "git" ? (
          <>
            <label for="source">Repository URL (https)</label>
            <input id="source" type="url" required placeholder="https://github.com/owner/project.git" value={source} onInput={(e) => setSource(e.currentTarget.value)} />
            <label for="ref">Branch, tag or commit (optional)</label>
            <input id="ref" value={ref} onInput={(e) => setRef(e.currentTarget.value)} />
          </>
        ) : (
          <>
            <label for="archive">Archive (.tar.gz or .zip, at most 100 MB)</label>
            <input id="archive" type="file" required accept=".tar.gz,.tgz,.zip,application/gzip,application/zip" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </>
        )}
        <label for="engine">Engine</label>
        <select id="engine" value={engine} onChange={(e) => setEngine(e.currentTarget.value)}>
          <option value="auto">auto (LLM when a model is configured, else offline)</option>
          <option value="llm">llm</option>
          <option value="offline">offline (search-based, no model)</option>
        </select>
        <label for="model">Model (optional: a gateway resource name)</label>
        <input id="model" value={model} onInput={(e) => setModel(e.currentTarget.value)} />
        <label for="budget">Budget (seconds)</label>
        <input id="budget" type="number" min={10} max={86400} value={budget} onInput={(e) => setBudget(Number(e.currentTarget.value))} />
        <label for="workspace">Workspace</label>
        <select id="workspace" value={workspace} onChange={(e) => setWorkspace(e.currentTarget.value)}>
          <option value="default">default</option>
          {(workspaces.data?.items ?? []).map((w) => (
            <option key={w.id} value={w.id}>
              {w.name}
            </option>
          ))}
        </select>
        <label class="inline">
          <input type="checkbox" checked={mutation} onChange={(e) => setMutation(e.currentTarget.checked)} /> Also measure the mutation score of the kept tests (Python)
        </label>
        <button type="submit" class="primary" disabled={submit.busy}>
          {submit.busy ? "Submitting…" : "Analyze"}
        </button>
        <ErrorBox error={submit.error} />
      </form>
    </>
  );
}

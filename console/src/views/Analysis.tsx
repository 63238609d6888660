// One analysis: followed live over SSE while it runs (stages, funnel counts as they move), then
// its report: the funnel, coverage before and after per file, kept tests with their code,
// discarded candidates with stage and reason, findings, cost, and the evidence log.
import { useEffect, useState } from "preact/hooks";
import type { Analysis, Mutation, Report, ReportTest, Verdict } from "../api";
import { pct, pctChange, repository, seconds, usd, when } from "../format";
import { href } from "../router";
import { canWrite, useSession } from "../session";
import { follow, type AnalysisEvent } from "../sse";
import { DataTable, ErrorBox, Loading, Section, StatusBadge, View, useAction, useLoad } from "../ui";
import { FUNNEL, liveFunnel, stagesOf } from "./progress";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

export function AnalysisView({ id }: { id: string }) {
  const { client } = useSession();
  const analysis = useLoad((signal) => client.get<Analysis>(`/v1/analyses/${encodeURIComponent(id)}`, undefined, signal), [id]);
  return (
    <View loaded={analysis} what="the analysis">
      {(record) => <AnalysisPage record={record} reload={analysis.reload} />}
    </View>
  );
}

function AnalysisPage({ record, reload }: { record: Analysis; reload: () => void }) {
  const { client, me } = useSession();
  const [events, setEvents] = useState<AnalysisEvent[]>([]);
  const [streamError, setStreamError] = useState<unknown>(null);
  const [ended, setEnded] = useState(false);
  const finished = FINISHED.has(record.status);

  useEffect(() => {
    setEvents([]);
    setEnded(false);
    return follow(
      client,
      record.id,
      (event) => setEvents((seen) => [...seen, event]),
      () => setEnded(true),
      setStreamError,
    );
  }, [record.id]);

  // The first event of a queued analysis means it started; read the record for its status.
  useEffect(() => {
    if (events.length > 0 && record.status === "queued") reload();
  }, [events.length > 0, record.status]);

  // The stream ends when the analysis has: read the record again for its final state.
  useEffect(() => {
    if (ended && !finished) reload();
  }, [ended, finished]);

  const cancel = useAction(async () => {
    await client.json("POST", `/v1/analyses/${record.id}/cancel`);
    reload();
  });

  return (
    <>
      <p class="crumbs">
        <a href={href("analyses")}>Analyses</a> / {record.id}
      </p>
      <div class="title-row">
        <h1>{repository(record.source, record.source_name)}</h1>
        <StatusBadge status={record.status} />
        {!finished && canWrite(me) && (
          <button type="button" onClick={() => void cancel.run()} disabled={cancel.busy}>
            Cancel analysis
          </button>
        )}
      </div>
      <ErrorBox error={cancel.error} />
      <dl class="facts">
        <dt>Engine</dt>
        <dd>{record.engine}{record.model ? ` (${record.model})` : ""}</dd>
        <dt>Budget</dt>
        <dd>{seconds(record.budget_s)}</dd>
        <dt>Workspace</dt>
        <dd>{record.workspace_id}</dd>
        <dt>Submitted</dt>
        <dd>{when(record.created_at)}</dd>
        {record.reason && (
          <>
            <dt>Reason</dt>
            <dd>{record.reason}</dd>
          </>
        )}
      </dl>
      <Progress events={events} finished={finished} ended={ended} />
      <ErrorBox error={streamError} />
      {finished && <ReportSections record={record} />}
    </>
  );
}

function Progress({ events, finished, ended }: { events: AnalysisEvent[]; finished: boolean; ended: boolean }) {
  const stages = stagesOf(events);
  const funnel = liveFunnel(events);
  return (
    <Section title="Progress" actions={!finished && !ended ? <span class="live" aria-hidden="true">● live</span> : undefined}>
      <ol class="stages" aria-live="polite">
        {stages.map((stage) => (
          <li key={stage.name} class={`stage stage-${stage.state}`} data-stage={stage.name}>
            <span class="stage-name">{stage.label}</span>
            <span class="visually-hidden">: {stage.state}</span>
            {stage.note && <span class="muted"> {stage.note}</span>}
          </li>
        ))}
      </ol>
      {!finished && <FunnelChart counts={funnel} caption="Candidates so far" />}
    </Section>
  );
}

export function FunnelChart({ counts, caption }: { counts: Record<string, number>; caption: string }) {
  const top = Math.max(1, counts.generated ?? 0, ...Object.values(counts));
  return (
    <table class="funnel" aria-label={caption}>
      <caption>{caption}</caption>
      <tbody>
        {FUNNEL.map((stage) => (
          <tr key={stage} data-stage={stage}>
            <th scope="row">{stage}</th>
            <td class="bar-cell">
              <span class={`bar bar-${stage}`} style={{ width: `${(100 * (counts[stage] ?? 0)) / top}%` }} />
            </td>
            <td class="count">{counts[stage] ?? 0}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ReportSections({ record }: { record: Analysis }) {
  const { client } = useSession();
  const report = useLoad((signal) => client.get<Report>(`/v1/analyses/${record.id}/report`, undefined, signal), [record.id, record.status]);
  return (
    <View loaded={report} what="the report">
      {(body) => (
        <>
          <Section title="Funnel">
            <FunnelChart counts={body.funnel} caption="Generated tests by the furthest stage they reached" />
          </Section>
          {(body.projects?.length ?? 0) > 1 && <ProjectsSection report={body} />}
          <CoverageSection report={body} />
          <WarningsSection report={body} />
          <TestsSection analysisId={record.id} tests={body.tests} />
          <GapsSection report={body} />
          <FindingsSection analysisId={record.id} report={body} />
          {body.mutation && <MutationSection mutation={body.mutation} />}
          <Section title="Cost">
            <dl class="facts">
              <dt>Prompt tokens</dt>
              <dd>{body.cost.prompt_tokens.toLocaleString()}</dd>
              <dt>Completion tokens</dt>
              <dd>{body.cost.completion_tokens.toLocaleString()}</dd>
              <dt>Cost</dt>
              <dd>{usd(body.cost.usd, body.cost.usd_known ?? true)}{body.cost.usd_known === false ? " (some prices unknown)" : ""}</dd>
              <dt>Duration</dt>
              <dd>{seconds(body.duration_s)}</dd>
            </dl>
          </Section>
          <EvidenceSection analysisId={record.id} report={body} />
        </>
      )}
    </View>
  );
}

/** A repository with several projects: each one side by side. */
function ProjectsSection({ report }: { report: Report }) {
  const projects = report.projects ?? [];
  return (
    <Section title={`Projects (${projects.length})`}>
      <DataTable class="projects" rows={projects} rowKey={(p) => p.root} columns={[
        { label: "Project", rowHeader: true, cell: (p) => <code>{p.root}</code> },
        { label: "Language", cell: (p) => `${p.language ?? "unknown"}${p.test_runner ? ` (${p.test_runner})` : ""}` },
        { label: "Lines", cell: (p) => pctChange(p.coverage.before.line_pct, p.coverage.after.line_pct) },
        { label: "Branches", cell: (p) => pctChange(p.coverage.before.branch_pct, p.coverage.after.branch_pct) },
        { label: "Generated", cell: (p) => p.funnel.generated ?? 0 },
        { label: "Kept", cell: (p) => p.funnel.kept ?? 0 },
        { label: "Status", cell: (p) => (p.reason ? `${p.status}: ${p.reason}` : p.status) },
      ]} />
    </Section>
  );
}

function CoverageSection({ report }: { report: Report }) {
  const { before, after } = report.coverage;
  const files = Object.entries(report.coverage.files ?? {});
  return (
    <Section title="Coverage">
      <p class="coverage-totals">
        Lines <strong data-testid="line-change">{pctChange(before.line_pct, after.line_pct)}</strong>, branches{" "}
        <strong>{pctChange(before.branch_pct, after.branch_pct)}</strong>
      </p>
      {files.length > 0 && (
        <DataTable class="coverage" caption="Coverage per file" rows={files} rowKey={([path]) => path} columns={[
          { label: "File", rowHeader: true, cell: ([path]) => <code>{path}</code> },
          { label: "Lines before", cell: ([, cov]) => pct(cov.before?.line_pct) },
          {
            label: "Lines after",
            class: ([, cov]) => ((cov.after.line_pct ?? 0) > (cov.before?.line_pct ?? 0) ? "gain" : ""),
            cell: ([, cov]) => (
              <>
                <span class="mini-track" aria-hidden="true">
                  <span class="mini-bar" style={{ width: `${cov.after.line_pct ?? 0}%` }} />
                </span>
                {pct(cov.after.line_pct)}
              </>
            ),
          },
          { label: "Branches before", cell: ([, cov]) => pct(cov.before?.branch_pct) },
          {
            label: "Branches after",
            class: ([, cov]) => ((cov.after.branch_pct ?? 0) > (cov.before?.branch_pct ?? 0) ? "gain" : ""),
            cell: ([, cov]) => pct(cov.after.branch_pct),
          },
        ]} />
      )}
    </Section>
  );
}

/** An output file's text, fetched when first shown. */
function Code({ analysisId, path }: { analysisId: string; path: string }) {
  const { client } = useSession();
  const code = useLoad(
    async (signal) => {
      const response = await client.send("GET", `/v1/analyses/${analysisId}/artifacts/${path.split("/").map(encodeURIComponent).join("/")}`, { signal });
      return response.text();
    },
    [analysisId, path],
  );
  return (
    <View loaded={code} what={path}>
      {(text) => (
        <pre class="code" tabIndex={0} aria-label={`Code of ${path}`}>
          <code>{text}</code>
        </pre>
      )}
    </View>
  );
}

function Disclosure({ summary, children }: { summary: preact.ComponentChildren; children: () => preact.ComponentChildren }) {
  const [open, setOpen] = useState(false);
  return (
    <details onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{summary}</summary>
      {open && children()}
    </details>
  );
}

function TestsSection({ analysisId, tests }: { analysisId: string; tests: ReportTest[] }) {
  const kept = tests.filter((t) => t.status === "kept");
  const discarded = tests.filter((t) => t.status === "discarded");
  return (
    <>
      <Section title={`Kept tests (${kept.length})`}>
        {kept.length === 0 ? (
          <p class="empty">No generated test was kept.</p>
        ) : (
          <ul class="tests">
            {kept.map((test) => (
              <li key={test.test_id} class="kept-test">
                <Disclosure
                  summary={
                    <>
                      <code>{test.path}</code> <span class="muted">for {test.module}: +{test.new_lines ?? 0} lines, +{test.new_branches ?? 0} branches</span>
                    </>
                  }
                >
                  {() => <Code analysisId={analysisId} path={test.path} />}
                </Disclosure>
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title={`Discarded candidates (${discarded.length})`}>
        {discarded.length === 0 ? (
          <p class="empty">None.</p>
        ) : (
          <DataTable class="discarded" rows={discarded} rowKey={(t) => t.test_id} columns={[
            { label: "Candidate", cell: (t) => <code>{t.test_id}</code> },
            { label: "Module", cell: (t) => t.module },
            { label: "Stopped at", cell: (t) => t.stage },
            { label: "Reason", cell: (t) => t.reason },
          ]} />
        )}
      </Section>
    </>
  );
}

function WarningsSection({ report }: { report: Report }) {
  const warnings = report.warnings ?? [];
  const baseline = report.baseline;
  if (warnings.length === 0 && !baseline?.tests) return null;
  return (
    <Section title="The project's own tests and warnings">
      {baseline && baseline.tests > 0 && (
        <p>
          {baseline.tests} tests: {baseline.passed} passed, {baseline.failed} failed, {baseline.errored} errors,{" "}
          {baseline.skipped} skipped; {baseline.collection_errors} file(s) could not be collected.
        </p>
      )}
      {warnings.length > 0 && (
        <ul class="warnings" aria-label="Warnings">
          {warnings.map((warning) => (
            <li key={warning}>
              <strong>Warning:</strong> {warning}
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function GapsSection({ report }: { report: Report }) {
  const gaps = report.gaps ?? [];
  return (
    <Section title={`Modules left without tests (${gaps.length})`}>
      {gaps.length === 0 ? (
        <p class="empty">Every module with gaps got a kept test, or its gap was closed.</p>
      ) : (
        <DataTable class="gaps" rows={gaps} rowKey={(g) => g.module} columns={[
          { label: "Module", rowHeader: true, cell: (g) => <code>{g.module}</code> },
          { label: "Lines", cell: (g) => g.lines },
          { label: "Branches", cell: (g) => g.branches },
          { label: "Why", cell: (g) => g.reason },
        ]} />
      )}
    </Section>
  );
}

function FindingsSection({ analysisId, report }: { analysisId: string; report: Report }) {
  return (
    <Section title={`Findings (${report.findings.length})`}>
      {report.findings.length === 0 ? (
        <p class="empty">No generated test failed in a way that suggests a bug.</p>
      ) : (
        <ul class="findings">
          {report.findings.map((finding) => (
            <li key={finding.finding_id} class="finding">
              <Disclosure
                summary={
                  <>
                    <strong>{finding.error_type}</strong> in <code>{finding.test_id}</code> <span class="muted">({finding.module}, failed {finding.runs} of {finding.runs} runs)</span>
                  </>
                }
              >
                {() => (
                  <>
                    <pre class="error-output">{finding.message}</pre>
                    {finding.detail && <pre class="error-output muted">{finding.detail}</pre>}
                    <Code analysisId={analysisId} path={finding.path} />
                  </>
                )}
              </Disclosure>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
}

function EvidenceSection({ analysisId, report }: { analysisId: string; report: Report }) {
  const { client } = useSession();
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const verify = useAction(async () => setVerdict(await client.json<Verdict>("POST", `/v1/analyses/${analysisId}/verify`)));
  const download = useAction(() => client.download(`/v1/analyses/${analysisId}/bundle`, `assay-${analysisId}.tar.gz`));
  useEffect(() => void verify.run(), [analysisId]);
  return (
    <Section title="Evidence">
      <dl class="facts">
        <dt>Entries</dt>
        <dd>{report.evidence.entries}</dd>
        <dt>Head</dt>
        <dd>
          <code class="hash">{report.evidence.head ?? "–"}</code>
        </dd>
        <dt>Signing key</dt>
        <dd>
          <code>{report.evidence.key_id ?? "–"}</code>
        </dd>
      </dl>
      {verify.busy && <Loading what="the verification" />}
      {verdict && (
        <p class={verdict.ok ? "verdict ok" : "verdict bad"} role="status" data-testid="verdict">
          {verdict.ok
            ? `Verified: ${verdict.entries} entries chained, every artifact matches, signed by ${verdict.trusted_key ? "this server's key" : "an untrusted key"}.`
            : `Verification failed${verdict.bad_entry ? ` at entry ${verdict.bad_entry}` : ""}: ${verdict.reason ?? "unknown reason"}`}
        </p>
      )}
      <ErrorBox error={verify.error} />
      <div class="actions">
        <button type="button" onClick={() => void verify.run()} disabled={verify.busy}>
          Verify again
        </button>
        <button type="button" onClick={() => void download.run()} disabled={download.busy}>
          Download the bundle
        </button>
      </div>
      <p class="hint">
        Anyone can check the bundle offline: unpack it and run <code>assay verify</code>.
      </p>
      <ErrorBox error={download.error} />
    </Section>
  );
}

function MutationSection({ mutation }: { mutation: Mutation }) {
  if (mutation.skipped) {
    return (
      <Section title="Mutation score">
        <p class="empty">Not measured: {mutation.skipped}.</p>
      </Section>
    );
  }
  return (
    <Section title="Mutation score">
      <p class="coverage-totals">
        {mutation.tool}: <strong>{mutation.killed}</strong> of {mutation.total} mutants killed
        {mutation.score !== null && mutation.score !== undefined ? ` (${pct(mutation.score)})` : ""}
        {mutation.complete ? "" : `; ${mutation.reason}`}
      </p>
      <DataTable rows={Object.entries(mutation.modules ?? {})} rowKey={([name]) => name} columns={[
        { label: "Module", rowHeader: true, cell: ([name]) => <code>{name}</code> },
        { label: "Killed", cell: ([, m]) => m.killed },
        { label: "Survived", cell: ([, m]) => m.survived },
        { label: "Not reached", cell: ([, m]) => m.uncovered },
        { label: "Total", cell: ([, m]) => m.total },
      ]} />
      {Object.values(mutation.modules ?? {}).flatMap((m) => m.survivors).map((survivor) => (
        <Disclosure key={survivor.mutant} summary={<code>{survivor.mutant}</code>}>
          {() => <pre class="code">{survivor.diff}</pre>}
        </Disclosure>
      ))}
    </Section>
  );
}

// The console's only way to the server: the public API, with the signed-in credential.
// Every error becomes an ApiError carrying the problem+json title and detail.

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { location: string; message: string }[];
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ? `${problem.title}: ${problem.detail}` : problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Scope = "analyses:read" | "analyses:write" | "gateway:invoke" | "evals:read" | "evals:write" | "admin";

export interface Me {
  tenant_id: string;
  tenant_name: string;
  tenant_slug: string;
  actor: string;
  scopes: Scope[];
  platform_admin: boolean;
}

export type AnalysisStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface AnalysisSummary {
  line_pct_before: number | null;
  line_pct_after: number | null;
  branch_pct_before: number | null;
  branch_pct_after: number | null;
  kept: number;
  findings: number;
  usd: number;
  usd_known: boolean;
  left_without_tests?: number;
  warnings?: string[];
}

export interface Gap {
  module: string;
  lines: number;
  branches: number;
  kind: string;
  reason: string;
  detail?: string;
}

export interface BaselineRun {
  tests: number;
  passed: number;
  failed: number;
  errored: number;
  skipped: number;
  collection_errors: number;
  first_errors: string[];
  warnings: string[];
}

export interface Analysis {
  id: string;
  status: AnalysisStatus;
  source: string;
  source_name?: string | null;
  ref: string | null;
  engine: string;
  model: string | null;
  budget_s: number;
  reason: string | null;
  summary: AnalysisSummary | null;
  workspace_id: string;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface Coverage {
  line_pct: number | null; // null: not measured
  branch_pct: number | null;
  lines_covered?: number;
  lines_total?: number;
  branches_covered?: number;
  branches_total?: number;
}

export interface ReportTest {
  test_id: string;
  path: string;
  status: "kept" | "discarded";
  stage: string;
  reason: string;
  module?: string;
  engine?: string;
  turns?: number;
  new_lines?: number;
  new_branches?: number;
}

export interface Finding {
  finding_id: string;
  test_id: string;
  module: string;
  error_type: string;
  message: string;
  detail?: string;
  path: string;
  runs: number;
}

export interface Report {
  status: "succeeded" | "failed" | "cancelled";
  reason: string | null;
  target: string;
  language: string | null;
  engine: string;
  model?: string | null;
  coverage: {
    before: Coverage;
    after: Coverage;
    files?: Record<string, { before: Coverage | null; after: Coverage }>;
  };
  funnel: Record<string, number>;
  tests: ReportTest[];
  findings: Finding[];
  evidence: { head: string | null; entries: number; key_id?: string | null };
  cost: { prompt_tokens: number; completion_tokens: number; usd: number; usd_known?: boolean };
  duration_s: number;
  stages?: Record<string, number>;
  mutation?: Mutation | null;
  gaps?: Gap[];
  warnings?: string[];
  baseline?: BaselineRun | null;
  projects?: ReportProject[];
}

/** One project of a repository with several (a Python service and a TypeScript front end). */
export interface ReportProject {
  root: string;
  language: string | null;
  test_runner?: string | null;
  status: "analyzed" | "failed" | "skipped";
  reason: string | null;
  coverage: { before: Coverage; after: Coverage };
  funnel: Record<string, number>;
  kept: string[];
}

export interface Mutation {
  tool: string | null;
  skipped?: string;
  complete?: boolean;
  reason?: string;
  score?: number | null;
  killed?: number;
  total?: number;
  modules?: Record<string, { killed: number; survived: number; uncovered: number; total: number; score: number | null; survivors: { mutant: string; diff: string }[] }>;
}

export interface Verdict {
  ok: boolean;
  entries: number;
  head: string | null;
  key_id: string | null;
  trusted_key: boolean;
  bad_entry: number | null;
  reason: string | null;
}

export interface Key {
  id: string;
  name: string;
  hint: string;
  scopes: Scope[];
  active: boolean;
  created_at: string;
  revoked_at: string | null;
}

export interface NewKey extends Key {
  key: string;
}

export interface Tenant {
  id: string;
  name: string;
  slug: string;
  status: string;
  created_at: string;
}

export interface Workspace {
  id: string;
  name: string;
  created_at: string;
}

export interface Connection {
  id: string;
  name: string;
  provider: string;
  base_url: string | null;
  has_credentials: boolean;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  enabled: boolean;
  created_at: string;
}

export interface RouteTarget {
  connection_id: string;
  model: string;
  weight?: number;
}

export interface Resource {
  name: string;
  targets: RouteTarget[];
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  cache_ttl_s: number;
  guardrails: unknown[];
  rules: unknown[];
  evaluation?: OnlineEvaluation | null;
  enabled: boolean;
  created_at: string;
}

/** A resource's online evaluation: evaluators scoring a sample of its answers off the path. */
export interface OnlineEvaluation {
  evaluators: Record<string, unknown>[];
  sample_rate: number;
}

export interface UsageBucket {
  start: string;
  group: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  usd: string | number;
  cached: number;
  latency_ms_avg: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
}

export interface Usage {
  bucket: "hour" | "day";
  group_by: "resource" | "key" | "model";
  buckets: UsageBucket[];
  truncated: boolean;
}

export interface GatewayRequest {
  id: string;
  api_key_id: string | null;
  resource: string | null;
  path: string[];
  analysis_id: string | null;
  model: string;
  provider: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  usd: string | number;
  latency_ms: number;
  cached: boolean;
  guardrails: string[];
  status: string;
  at: string;
}

export interface AuditEntry {
  id: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, unknown>;
  at: string;
}

// ---------------------------------------------------------------- evaluations (/v1/evals)

export type EvalRunStatus = "queued" | "running" | "succeeded" | "failed";

export interface EvalSummary {
  items: number;
  passed: number;
  failed: number;
  errors: number;
  pass_rate: number; // 0..1
  mean_scores: Record<string, number>;
  tokens: number;
  cost_usd: number;
  duration_s: number;
}

/** A run's headline against its baseline (the full comparison is /compare/{baseline}). */
export interface EvalHeadline {
  baseline: string;
  verdict: string;
  regressions: number;
  improvements: number;
  pass_rate_delta: number;
}

export interface EvalRun {
  id: string;
  status: EvalRunStatus;
  suite_name: string;
  model: string;
  dataset: string;
  dataset_version: number;
  baseline_run_id: string | null;
  reason: string | null;
  gate_held: boolean | null;
  gate: string;
  summary: EvalSummary | null;
  comparison: EvalHeadline | null;
  created_at: string;
  finished_at: string | null;
  links: Record<string, string>;
}

export interface EvalScore {
  name: string;
  score: number; // 0..1
  passed: boolean;
  reason: string;
}

export interface EvalItemResult {
  id: string;
  input: Record<string, unknown>;
  output: string | null;
  latency_ms: number;
  tokens: number;
  cost_usd: number;
  passed: boolean;
  scores: EvalScore[];
  error: string | null;
}

export interface EvalRunItems {
  items: EvalItemResult[];
  total: number;
  offset: number;
  score_histogram: Record<string, number[]>; // per evaluator, 10 counts for tenths of [0, 1]
}

export interface EvalItemChange {
  id: string;
  before_passed: boolean;
  after_passed: boolean;
  before_score: number;
  after_score: number;
  before_output: string | null;
  after_output: string | null;
  reason: string;
}

export interface EvalDelta {
  before: number;
  after: number;
  delta: number;
  low: number; // the 95% interval of the delta
  high: number;
  p_value: number;
  significant: boolean;
}

export interface EvalComparison {
  baseline: string;
  paired: number;
  only_in_baseline: number;
  only_in_run: number;
  regressions: EvalItemChange[];
  improvements: EvalItemChange[];
  pass_rate: EvalDelta;
  mean_score: EvalDelta;
  verdict: string;
}

export interface EvalDatasetVersion {
  dataset: string;
  version: number;
  items: number;
  sha256: string;
  source: string;
  created_at: string;
  created_by: string;
}

export interface EvalDataset {
  name: string;
  description: string;
  latest: number;
  items: number;
  updated_at: string;
  versions?: EvalDatasetVersion[] | null;
}

export interface EvalDatasetItem {
  id: string;
  input: Record<string, unknown>;
  expected?: unknown;
  metadata: Record<string, unknown>;
}

export interface EvalDatasetItems {
  items: EvalDatasetItem[];
  total: number;
  offset: number;
}

export interface EvalJudge {
  name: string;
  model: string;
  evaluators: Record<string, unknown>[];
  threshold: number;
  endpoint: string; // a path on the API: POST it as an OpenAI-compatible chat completion
  updated_at: string;
}

export interface ScoreTrend {
  resource: string;
  bucket_start: string;
  samples: number;
  passed: number;
  mean_scores: Record<string, number>;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function problemOf(response: Response): Promise<Problem> {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      if (body && typeof body.title === "string") return { ...body, status: response.status };
    } catch {
      // fall through: a body that is not the JSON it claims to be
    }
  }
  return { title: response.statusText || "Request failed", status: response.status };
}

export class Client {
  constructor(
    readonly base: string,
    private readonly credential: () => string | null,
    private readonly onUnauthorized: (problem: Problem) => void = () => {},
  ) {}

  url(path: string, query?: Query): string {
    return this.base.replace(/\/$/, "") + withQuery(path, query);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.credential();
    return token ? { Authorization: `Bearer ${token}`, ...extra } : extra;
  }

  async send(method: string, path: string, init: { query?: Query; json?: unknown; body?: BodyInit; type?: string; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Response> {
    const extra: Record<string, string> = { ...(init.headers ?? {}) };
    let body = init.body;
    if (init.json !== undefined) {
      extra["Content-Type"] = "application/json";
      body = JSON.stringify(init.json);
    } else if (init.type) {
      extra["Content-Type"] = init.type;
    }
    let response: Response;
    try {
      response = await fetch(this.url(path, init.query), {
        method,
        headers: this.headers(extra),
        body,
        signal: init.signal,
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new ApiError({ title: "The Assay server cannot be reached", status: 0, detail: String(error) });
    }
    if (!response.ok) {
      const problem = await problemOf(response);
      if (response.status === 401) this.onUnauthorized(problem);
      throw new ApiError(problem);
    }
    return response;
  }

  async json<T>(method: string, path: string, init: { query?: Query; json?: unknown; body?: BodyInit; type?: string; signal?: AbortSignal } = {}): Promise<T> {
    const response = await this.send(method, path, init);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.json<T>("GET", path, { query, signal });
  }

  async download(path: string, filename: string): Promise<void> {
    const response = await this.send("GET", path);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
}

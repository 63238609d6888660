// Gateway usage over time, by resource, key or model: requests, tokens, cost, latency p50/p99,
// errors and cache hits.
import { useMemo, useState } from "preact/hooks";
import type { Usage, UsageBucket } from "../api";
import { usd } from "../format";
import { useSession } from "../session";
import { TimeChart, type Series } from "../chart";
import { View, useLoad } from "../ui";

const PERIODS: Record<string, { hours: number; bucket: "hour" | "day" }> = {
  "24h": { hours: 24, bucket: "hour" },
  "7d": { hours: 24 * 7, bucket: "hour" },
  "30d": { hours: 24 * 30, bucket: "day" },
};

export function UsageView() {
  const { client } = useSession();
  const [period, setPeriod] = useState("24h");
  const [groupBy, setGroupBy] = useState<"resource" | "key" | "model">("resource");
  const { hours, bucket } = PERIODS[period];
  const usage = useLoad(
    (signal) => {
      const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
      return client.get<Usage>("/v1/gateway/usage", { since, bucket, group_by: groupBy }, signal);
    },
    [period, groupBy],
  );
  return (
    <>
      <h1>Gateway usage</h1>
      <form class="filters" aria-label="Usage period and grouping" onSubmit={(e) => e.preventDefault()}>
        <label>
          Period
          <select value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
            <option value="24h">last 24 hours</option>
            <option value="7d">last 7 days</option>
            <option value="30d">last 30 days</option>
          </select>
        </label>
        <label>
          By
          <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as typeof groupBy)}>
            <option value="resource">resource</option>
            <option value="key">API key</option>
            <option value="model">model</option>
          </select>
        </label>
        <button type="button" onClick={usage.reload}>
          Refresh
        </button>
      </form>
      <View loaded={usage} what="usage">
        {(data) => <UsageCharts usage={data} range={[Math.floor(Date.now() / 1000 - hours * 3600), Math.ceil(Date.now() / 1000)]} />}
      </View>
    </>
  );
}

function pivot(buckets: UsageBucket[], pick: (b: UsageBucket) => number): { times: number[]; series: Series[] } {
  const times = [...new Set(buckets.map((b) => Date.parse(b.start) / 1000))].sort((a, b) => a - b);
  const groups = [...new Set(buckets.map((b) => b.group))].sort();
  const series = groups.map((group) => ({
    label: group,
    values: times.map((t) => {
      const found = buckets.find((b) => b.group === group && Date.parse(b.start) / 1000 === t);
      return found ? pick(found) : null;
    }),
  }));
  return { times, series };
}

function UsageCharts({ usage, range }: { usage: Usage; range: [number, number] }) {
  const charts = useMemo(() => {
    const b = usage.buckets;
    return {
      requests: pivot(b, (x) => x.requests),
      tokens: pivot(b, (x) => x.prompt_tokens + x.completion_tokens),
      cost: pivot(b, (x) => Number(x.usd)),
      p50: pivot(b, (x) => x.latency_ms_p50),
      p99: pivot(b, (x) => x.latency_ms_p99),
      errors: pivot(b, (x) => x.errors),
      cached: pivot(b, (x) => x.cached),
    };
  }, [usage]);
  const totals = usage.buckets.reduce(
    (sum, x) => ({
      requests: sum.requests + x.requests,
      tokens: sum.tokens + x.prompt_tokens + x.completion_tokens,
      usd: sum.usd + Number(x.usd),
      errors: sum.errors + x.errors,
      cached: sum.cached + x.cached,
    }),
    { requests: 0, tokens: 0, usd: 0, errors: 0, cached: 0 },
  );
  return (
    <>
      {usage.truncated && <p class="notice">Only the first 100,000 requests of this period are counted.</p>}
      <dl class="totals" aria-label="Totals for the period">
        <div>
          <dt>Requests</dt>
          <dd data-testid="total-requests">{totals.requests}</dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>{totals.tokens.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Cost</dt>
          <dd>{usd(totals.usd)}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd>{totals.errors}</dd>
        </div>
        <div>
          <dt>Cache hits</dt>
          <dd>{totals.cached}</dd>
        </div>
      </dl>
      <div class="charts">
        <TimeChart title="Requests" range={range} {...charts.requests} />
        <TimeChart title="Tokens" range={range} {...charts.tokens} />
        <TimeChart title="Cost (USD)" range={range} {...charts.cost} />
        <TimeChart title="Latency p50" range={range} unit=" ms" {...charts.p50} />
        <TimeChart title="Latency p99" range={range} unit=" ms" {...charts.p99} />
        <TimeChart title="Errors" range={range} {...charts.errors} />
        <TimeChart title="Cache hits" range={range} {...charts.cached} />
      </div>
    </>
  );
}

// Eval datasets: the list; one dataset's immutable versions (items, source, digest, who made
// it) and a version's items, paged.
import { useState } from "preact/hooks";
import type { EvalDataset, EvalDatasetItems, Page } from "../api";
import { age, when } from "../format";
import { href } from "../router";
import { useSession } from "../session";
import { DataTable, OffsetPager, Pager, Section, View, useCursor, useLoad } from "../ui";
import { shown } from "./Evals";

const PAGE = 25;

export function EvalDatasetsView() {
  const { client } = useSession();
  const paging = useCursor([]);
  const datasets = useLoad((signal) => client.get<Page<EvalDataset>>("/v1/evals/datasets", { limit: 50, cursor: paging.cursor }, signal), [paging.cursor]);
  return (
    <>
      <h1>Datasets</h1>
      <p class="hint">
        Upload a version with <code>POST /v1/evals/datasets/NAME/upload</code> (JSONL or CSV), or make one from sampled gateway traffic with{" "}
        <code>POST /v1/evals/datasets/NAME/from-gateway</code>. Versions never change once made.
      </p>
      <View loaded={datasets} what="datasets">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">No datasets yet.</p>
          ) : (
            <DataTable class="datasets" caption="Datasets" rows={page.items} rowKey={(d) => d.name} columns={[
              { label: "Name", rowHeader: true, cell: (d) => <a href={href(`evals/datasets/${encodeURIComponent(d.name)}`)}>{d.name}</a> },
              { label: "Description", cell: (d) => d.description || <span class="muted">–</span> },
              { label: "Latest version", cell: (d) => `v${d.latest}` },
              { label: "Items (latest)", class: "count", cell: (d) => d.items },
              { label: "Updated", cell: (d) => <time dateTime={d.updated_at} title={when(d.updated_at)}>{age(d.updated_at)}</time> },
            ]} />
          )
        }
      </View>
      <Pager hasPrevious={paging.hasPrevious} next={datasets.data?.next_cursor ?? null} onPrevious={paging.previous} onNext={() => paging.next(datasets.data?.next_cursor ?? null)} />
    </>
  );
}

export function EvalDatasetView({ name, version }: { name: string; version: number | null }) {
  const { client } = useSession();
  const dataset = useLoad((signal) => client.get<EvalDataset>(`/v1/evals/datasets/${encodeURIComponent(name)}`, undefined, signal), [name]);
  return (
    <View loaded={dataset} what="the dataset">
      {(d) => {
        const shownVersion = version ?? d.latest;
        const versions = d.versions ?? [];
        return (
          <>
            <p class="crumbs">
              <a href={href("evals/datasets")}>Datasets</a> / {d.name}
            </p>
            <h1>{d.name}</h1>
            {d.description && <p>{d.description}</p>}
            <Section title={`Versions (${versions.length})`}>
              <DataTable class="versions" caption={`Versions of ${d.name}, newest first`} rows={versions} rowKey={(v) => String(v.version)} rowProps={(v) => ({ "data-version": String(v.version) })} columns={[
                { label: "Version", rowHeader: true, cell: (v) => `v${v.version}${v.version === d.latest ? " (latest)" : ""}` },
                { label: "Items", class: "count", cell: (v) => v.items },
                { label: "Source", cell: (v) => <code>{v.source}</code> },
                { label: "SHA-256", cell: (v) => <code class="hash" title={v.sha256}>{v.sha256.slice(0, 12)}…</code> },
                { label: "Created", cell: (v) => `${when(v.created_at)} by ${v.created_by}` },
                {
                  label: "Items of the version",
                  hiddenLabel: true,
                  cell: (v) => (
                    <a href={href(`evals/datasets/${encodeURIComponent(d.name)}`, { version: String(v.version) })} aria-current={v.version === shownVersion ? "true" : undefined}>
                      <span class="visually-hidden">v{v.version}: </span>
                      {v.version === shownVersion ? "items shown below" : "show items"}
                    </a>
                  ),
                },
              ]} />
            </Section>
            <VersionItems key={`${d.name}@${shownVersion}`} name={d.name} version={shownVersion} />
          </>
        );
      }}
    </View>
  );
}

function VersionItems({ name, version }: { name: string; version: number }) {
  const { client } = useSession();
  const [offset, setOffset] = useState(0);
  const items = useLoad(
    (signal) => client.get<EvalDatasetItems>(`/v1/evals/datasets/${encodeURIComponent(name)}/versions/${version}/items`, { offset, limit: PAGE }, signal),
    [name, version, offset],
  );
  return (
    <Section title={`Items of v${version}`}>
      <View loaded={items} what="the items">
        {(page) =>
          page.items.length === 0 ? (
            <p class="empty">This version has no items.</p>
          ) : (
            <>
              <DataTable class="dataset-items" caption={`Items of ${name} v${version}`} rows={page.items} rowKey={(i) => i.id} columns={[
                { label: "ID", rowHeader: true, cell: (i) => <code>{i.id}</code> },
                { label: "Input", cell: (i) => <pre class="cell-json">{shown(i.input)}</pre> },
                { label: "Expected", cell: (i) => <pre class="cell-json">{shown(i.expected)}</pre> },
                { label: "Metadata", cell: (i) => (Object.keys(i.metadata).length ? <pre class="cell-json">{shown(i.metadata)}</pre> : <span class="muted">–</span>) },
              ]} />
              <OffsetPager offset={page.offset} limit={PAGE} total={page.total} what="items" onOffset={setOffset} />
            </>
          )
        }
      </View>
    </Section>
  );
}

// Pieces every view uses: loading and error states, problem display, tables, pagers.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A problem+json error as its title and detail, plus field errors where the API gave them. */
export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  if (!error) return null;
  const problem = error instanceof ApiError ? error.problem : null;
  return (
    <div class="error" role="alert">
      <strong class="error-title">{problem ? problem.title : "Something went wrong"}</strong>
      {problem?.detail && <p class="error-detail">{problem.detail}</p>}
      {!problem && <p class="error-detail">{String((error as Error).message ?? error)}</p>}
      {problem?.errors && (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.location}>
              <code>{e.location}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Load once per change of `deps`; `reload` loads again. Stale answers are dropped. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ data: previous.data, loading: true }));
    load(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, loading: false }),
      (error) => !controller.signal.aborted && setState({ error, loading: false }),
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Shows a view's loading and error states around its content. */
export function View<T>({ loaded, what, children }: { loaded: Loaded<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (loaded.error) return <ErrorBox error={loaded.error} retry={loaded.reload} />;
  if (loaded.data === undefined) return <Loading what={what} />;
  return <>{children(loaded.data)}</>;
}

export function Pager({ hasPrevious, next, onPrevious, onNext }: { hasPrevious: boolean; next: string | null; onPrevious: () => void; onNext: () => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!hasPrevious} onClick={onPrevious}>
        ← Newer
      </button>
      <button type="button" disabled={!next} onClick={onNext}>
        Older →
      </button>
    </nav>
  );
}

/** Offset paging (the eval items endpoints): where this page is, and the pages either side. */
export function OffsetPager({ offset, limit, total, what, onOffset }: { offset: number; limit: number; total: number; what: string; onOffset: (offset: number) => void }) {
  if (total <= limit && offset === 0) return null;
  const last = Math.min(total, offset + limit);
  return (
    <nav class="pager" aria-label={`Pages of ${what}`}>
      <span class="muted" aria-live="polite">
        {total === 0 ? `No ${what}` : `${what[0].toUpperCase()}${what.slice(1)} ${offset + 1}–${last} of ${total}`}
      </span>
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <button type="button" disabled={last >= total} onClick={() => onOffset(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

/** Cursor paging: a stack of the cursors that led here. */
export function useCursor(resetOn: unknown[]) {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  useEffect(() => setStack([null]), resetOn); // eslint-disable-line react-hooks/exhaustive-deps
  return {
    cursor: stack[stack.length - 1],
    hasPrevious: stack.length > 1,
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    next: (cursor: string | null) => cursor && setStack((s) => [...s, cursor]),
  };
}

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  rowHeader?: boolean; // the cell that names the row (a <th scope="row">)
  hiddenLabel?: boolean; // a label for screen readers only (an actions column)
  class?: string | ((row: T) => string);
}

/** A table of rows with one column definition per column: labelled headers, scrolling on a
 * narrow screen, the naming cell of each row a row header where there is one. */
export function DataTable<T>({ rows, columns, rowKey, caption, class: className, rowProps }: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  caption?: string;
  class?: string;
  rowProps?: (row: T) => Record<string, string>;
}) {
  return (
    <div class="table-wrap">
      <table class={className}>
        {caption && <caption class="visually-hidden">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column.label}>
                {column.hiddenLabel ? <span class="visually-hidden">{column.label}</span> : column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...(rowProps?.(row) ?? {})}>
              {columns.map((column) => {
                const cls = typeof column.class === "function" ? column.class(row) : column.class;
                return column.rowHeader ? (
                  <th scope="row" key={column.label} class={cls}>
                    {column.cell(row)}
                  </th>
                ) : (
                  <td key={column.label} class={cls}>
                    {column.cell(row)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-header">
        <h2 id={id}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** Run an action from a form or button: busy while it runs, its error shown beside it. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { run, busy, error, clear: () => setError(null) };
}

// A time-series chart (uPlot, bundled: no CDN), with a table of the same numbers for screen
// readers and anyone who wants the values.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { DataTable } from "./ui";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export interface Series {
  label: string;
  values: (number | null)[];
}

export function TimeChart({ title, times, series, unit, range }: { title: string; times: number[]; series: Series[]; unit?: string; range: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element || times.length === 0) return;
    const width = Math.max(280, element.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 220,
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: times.length < 40 } }))],
        axes: [{}, { size: 64, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${+t.toPrecision(4)}${unit ?? ""}`) }],
        // The period asked for, not the span of the data (one bucket would fill the axis).
        scales: { x: { time: true, range: () => range }, y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
        legend: { live: false },
      },
      [times, ...series.map((s) => s.values)] as uPlot.AlignedData,
      element,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, element.clientWidth), height: 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, series, unit, range[0], range[1]]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      {times.length === 0 ? <p class="empty">No data in this period.</p> : <div ref={box} class="chart-box" role="img" aria-label={`${title}: chart; the table below has the values`} />}
      {times.length > 0 && (
        <details>
          <summary>Values</summary>
          <DataTable rows={times.map((_, i) => i)} rowKey={(i) => String(times[i])} columns={[
            { label: "Time", cell: (i) => new Date(times[i] * 1000).toLocaleString() },
            ...series.map((s) => ({ label: s.label, cell: (i: number) => s.values[i] ?? "–" })),
          ]} />
        </details>
      )}
    </figure>
  );
}

// One compact view per insight kind, for dashboard tiles: the chart (or table) that suits it.
import type { ChartConfiguration } from "chart.js";
import { useMemo, useState } from "preact/hooks";
import { ChartView, PALETTE } from "./chart";

type Any = Record<string, unknown>;

export function bucketLabel(iso: string, interval: string): string {
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  const opts: Intl.DateTimeFormatOptions =
    interval === "hour" ? { month: "short", day: "numeric", hour: "2-digit", timeZone: "UTC" }
    : interval === "month" ? { year: "numeric", month: "short", timeZone: "UTC" }
    : { month: "short", day: "numeric", timeZone: "UTC" };
  return d.toLocaleString(undefined, opts);
}

type Line = { label: string; values: number[] };

/** A trends result as a chart (the builder's as bars when asked, with its points marked). */
export function trendsChart(result: Any, look: { bar?: boolean; points?: number } = {}): ChartConfiguration {
  const interval = String(result.interval ?? "day");
  const points = look.points ?? 0;
  const series = result.series as Line[];
  // With a comparison, the period before is drawn faintly behind, bucket by bucket.
  const before = (result.previous ?? []) as Line[];
  return {
    type: look.bar ? "bar" : "line",
    data: {
      labels: (result.buckets as string[]).map((b) => bucketLabel(b, interval)),
      datasets: [
        ...series.map((line, i) => ({
          label: line.label,
          data: line.values,
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: look.bar ? PALETTE[i % PALETTE.length] : "rgba(79, 70, 229, 0.08)",
          fill: !look.bar && series.length === 1 && before.length === 0,
          tension: 0.25,
          pointRadius: points,
        })),
        ...before.map((line, i) => ({
          label: `${line.label} (previous period)`,
          data: line.values,
          borderColor: PALETTE[i % PALETTE.length] + "66",
          backgroundColor: PALETTE[i % PALETTE.length] + "44",
          borderDash: [5, 4],
          fill: false,
          tension: 0.25,
          pointRadius: 0,
        })),
      ],
    },
    options: { scales: { y: { beginAtZero: true } }, plugins: { legend: { display: series.length + before.length > 1 } } },
  };
}

/** A total against the period before's: "+12.5 % on the period before (672)". */
function change(now: number, was: number): string {
  if (was === 0) return `${now === 0 ? "same as" : "up from"} 0 in the period before`;
  const pct = ((now - was) / Math.abs(was)) * 100;
  const sign = pct > 0 ? "+" : pct < 0 ? "−" : "±";
  return `${sign}${Math.abs(pct).toFixed(1)} % on the period before (${was.toLocaleString()})`;
}

type Totals = {
  series: { label: string; total: number }[];
  previous?: { total: number }[] | null;
  start?: string | null;
  end?: string | null;
  interval?: string;
};

/** The local day (or hour) a moment falls in, as the charts label it. */
const local = (iso: string, hourly: boolean) => bucketLabel(iso, hourly ? "hour" : "day");

/** Each series' total, large, with the change from the period before when it was asked, and
 * the period it covers. */
export function TrendNumbers(props: { result: Totals }) {
  const { series, previous, start, end, interval = "day" } = props.result;
  // The range's first day and its last (the end is the moment just after it).
  const hourly = interval === "hour";
  const first = start ? local(start, hourly) : null;
  const last = end ? local(new Date(Date.parse(`${end.slice(0, 19)}Z`) - 1).toISOString().slice(0, 19), hourly) : null;
  return (
    <div class="numbers-row">
      {first && <p class="muted numbers-when" data-testid="number-period">{first === last ? first : `${first} – ${last}`}</p>}
      {series.map((line, i) => {
        const was = previous?.[i]?.total;
        return (
          <div key={line.label}>
            <p class="big-number" data-testid="number">{line.total.toLocaleString()}</p>
            {series.length > 1 && <p class="muted">{line.label}</p>}
            {was !== undefined && <p class="muted" data-testid="change">{change(line.total, was)}</p>}
          </div>
        );
      })}
    </div>
  );
}

export type FunnelPeriod = { start: string; counts: number[]; conversion: number; complete: boolean };
type FunnelLine = {
  breakdown_value: string | null;
  is_other: boolean;
  name?: string;
  steps: { label: string; count: number }[];
  periods?: FunnelPeriod[] | null;
};

/** A breakdown line's name (funnels, retention): its cohort's name, its value, "Other", or "(none)" for
 * persons without it. */
export const funnelLineName = (l: { breakdown_value: string | null; is_other: boolean; name?: string }) =>
  l.name ?? (l.is_other ? "Other" : l.breakdown_value ?? "(none)");

/** A result broken down by cohorts, its lines named by the cohorts' names: a funnel line gets
 * `name`, a trends line's label ends with it. `breakdown_value` stays the cohort's id, which
 * is what a persons query asks for. */
export function withCohortNames<T>(result: T, byCohorts: boolean, name: (value: string | null) => string | null): T {
  if (!byCohorts || !result) return result;
  type Named = { breakdown_value: string | null; label?: string };
  const rename = (l: Named) => {
    const shown = name(l.breakdown_value) ?? "";
    return { ...l, name: shown, ...(l.label !== undefined ? { label: l.label.replace(/ · [^·]*$/, ` · ${shown}`) } : {}) };
  };
  const r = result as Record<string, unknown>;
  const each = (key: string) => (Array.isArray(r[key]) ? { [key]: (r[key] as Named[]).map(rename) } : {});
  return { ...r, ...each("series"), ...each("previous"), ...each("lines") } as T;
}

/** Whether a spec breaks down by cohorts. */
export const byCohorts = (spec: Record<string, unknown>) => Array.isArray(spec.breakdown_cohorts) && spec.breakdown_cohorts.length > 0;

/** Whether a funnel is broken down: more than one line, or its one line a value's. */
const isSplit = (lines: FunnelLine[]) =>
  lines.length > 1 || (lines[0] !== undefined && (lines[0].breakdown_value !== null || lines[0].is_other));

function funnelChart(result: Any): ChartConfiguration {
  const lines = result.lines as FunnelLine[];
  const steps = lines[0]?.steps ?? [];
  // Broken down: a bar per value at each step.
  const split = isSplit(lines);
  return {
    type: "bar",
    data: {
      labels: steps.map((s, i) => `${i + 1}. ${s.label}`),
      datasets: lines.map((l, i) => ({
        label: split ? funnelLineName(l) : "Persons",
        data: l.steps.map((s) => s.count),
        backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: { scales: { y: { beginAtZero: true } }, plugins: { legend: { display: split } } },
  };
}

/** A funnel over time: each line's conversion from the first step to the last, per period.
 * The line runs dashed into periods whose attempts may still convert. */
export function funnelTrendChart(result: Any): ChartConfiguration {
  const lines = result.lines as FunnelLine[];
  const interval = String(result.over_time ?? "day");
  const periods = lines[0]?.periods ?? [];
  const split = isSplit(lines);
  return {
    type: "line",
    data: {
      labels: periods.map((p) => bucketLabel(p.start, interval)),
      datasets: lines.map((l, i) => {
        const mine = l.periods ?? [];
        return {
          label: split ? funnelLineName(l) : "Conversion",
          data: mine.map((p) => (p.counts[0] ? Math.round(p.conversion * 1000) / 10 : null)),
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          tension: 0.25,
          pointRadius: 3,
          spanGaps: true,
          segment: { borderDash: (ctx: { p1DataIndex: number }) => (mine[ctx.p1DataIndex]?.complete === false ? [5, 4] : undefined) },
        };
      }),
    },
    options: {
      scales: { y: { beginAtZero: true, suggestedMax: 100, ticks: { callback: (v: string | number) => `${v} %` } } },
      plugins: { legend: { display: split } },
    },
  };
}

function lifecycleChart(result: Any): ChartConfiguration {
  const interval = String(result.interval ?? "day");
  const parts: [string, string, number][] = [
    ["new", "#10b981", 1],
    ["returning", "#4f46e5", 1],
    ["resurrecting", "#f59e0b", 1],
    ["dormant", "#ef4444", -1],
  ];
  return {
    type: "bar",
    data: {
      labels: (result.buckets as string[]).map((b) => bucketLabel(b, interval)),
      datasets: parts.map(([key, color, sign]) => ({
        label: key[0].toUpperCase() + key.slice(1),
        data: (result[key] as number[]).map((n) => sign * n),
        backgroundColor: color,
        stack: "s",
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } },
  };
}

function stickinessChart(result: Any): ChartConfiguration {
  const series = result.series as { label: string; persons: number[] }[];
  return {
    type: "bar",
    data: {
      labels: (series[0]?.persons ?? []).map((_, i) => `${i + 1}`),
      datasets: series.map((s, i) => ({ label: s.label, data: s.persons, backgroundColor: PALETTE[i % PALETTE.length] })),
    },
    options: { scales: { y: { beginAtZero: true } } },
  };
}

type Cohort = { start: string; size: number; values: number[]; shares: number[] };
/** A breakdown line, as a persons query names it. */
export type LineRef = { value: string | null; is_other: boolean };
type RetentionLine = { breakdown_value: string | null; is_other: boolean; cohorts: Cohort[]; average: (number | null)[] };

/** Per period, the share of the persons of the cohorts that reached it who came back (the
 * API's `average`; null where no cohort has). */
const averageOf = (result: Any) => (Array.isArray(result.average) ? (result.average as (number | null)[]) : []);
const linesOf = (result: Any) => (Array.isArray(result.lines) ? (result.lines as RetentionLine[]) : null);

// Everyone's curve beside a breakdown's.
const EVERYONE = "#8a93a6";

function retentionChart(result: Any, interval: string): ChartConfiguration {
  const lines = linesOf(result);
  // Broken down: a curve per line, and everyone's (dashed) to compare them with.
  const curves: [string, (number | null)[]][] = lines
    ? [...lines.map((l): [string, (number | null)[]] => [funnelLineName(l), l.average]), ["Everyone", averageOf(result)]]
    : [["All cohorts", averageOf(result)]];
  let last = Math.max(...curves.map(([, mean]) => mean.length)) - 1;
  while (last >= 0 && curves.every(([, mean]) => mean[last] === null || mean[last] === undefined)) last--;
  return {
    type: "line",
    data: {
      labels: Array.from({ length: last + 1 }, (_, i) => `${interval[0].toUpperCase()}${i}`),
      datasets: curves.map(([label, mean], i) => ({
        label,
        data: mean.slice(0, last + 1).map((m) => (m === null ? null : Math.round(m * 1000) / 10)),
        borderColor: lines && i === lines.length ? EVERYONE : PALETTE[i % PALETTE.length],
        borderDash: lines && i === lines.length ? [6, 4] : undefined,
        backgroundColor: !lines ? "rgba(79, 70, 229, 0.08)" : i === lines.length ? EVERYONE : PALETTE[i % PALETTE.length],
        fill: !lines,
        cubicInterpolationMode: "monotone",
        pointRadius: 3,
      })),
    },
    options: {
      scales: { y: { beginAtZero: true, max: 100, ticks: { callback: (v: string | number) => `${v} %` } } },
      // Lines in the legend, so that everyone's shows dashed.
      plugins: { legend: { display: lines !== null, labels: { usePointStyle: true, pointStyle: "line" } } },
    },
  };
}

/** The retention curve of all cohorts together (one per breakdown line), for the builder
 * above its table. */
export function RetentionCurve(props: { result: Any }) {
  const cohorts = props.result.cohorts as Cohort[];
  const interval = String(props.result.period ?? "week");
  const config = useMemo(() => retentionChart(props.result, interval), [props.result]);
  return cohorts.some((c) => c.size > 0) ? <ChartView config={config} label="Retention curve" /> : null;
}

function Retention(props: { result: Any; onCell?: (cohort: number, period: number, line: LineRef | null) => void }) {
  const lines = linesOf(props.result);
  // The table of everyone (none, or a line no longer there), or of one breakdown line (by name).
  const [picked, setPicked] = useState<string | null>(null);
  const line = lines?.find((l) => funnelLineName(l) === picked) ?? null;
  const cohorts = line ? line.cohorts : (props.result.cohorts as Cohort[]);
  const interval = String(props.result.period ?? "week");
  const width = cohorts.length;
  const mean = line ? line.average : averageOf(props.result);
  const everyone = cohorts.reduce((n, c) => n + c.size, 0);
  const ref = line && { value: line.breakdown_value, is_other: line.is_other };
  return (
    <div class="scroll">
      {lines && (
        <div class="field inline retention-line">
          <label for="retention-line">Table of</label>
          <select id="retention-line" value={line ? funnelLineName(line) : ""} onChange={(e) => setPicked(e.currentTarget.value || null)}>
            <option value="">Everyone</option>
            {lines.map((l) => <option value={funnelLineName(l)} key={funnelLineName(l)}>{funnelLineName(l)}</option>)}
          </select>
        </div>
      )}
      <table class="table retention" data-testid="retention">
        <thead>
          <tr>
            <th>Cohort</th>
            <th>Persons</th>
            {Array.from({ length: width }, (_, i) => <th key={i}>{interval[0].toUpperCase()}{i}</th>)}
          </tr>
        </thead>
        <tbody>
          <tr class="mean" data-testid="retention-mean">
            <td class="nowrap">All cohorts</td>
            <td title="The cohorts' persons added up (recurring: a person in several cohorts counts in each)">{everyone}</td>
            {mean.map((m, i) => (
              <td key={i} class="cell" title="Weighed by each cohort's size, over the cohorts that have reached this period">
                {m === null ? "" : `${Math.round(m * 100)}%`}
              </td>
            ))}
          </tr>
          {cohorts.map((c, row) => (
            <tr key={c.start}>
              <td class="nowrap">{bucketLabel(c.start, "day")}</td>
              <td>{c.size}</td>
              {c.shares.map((share, i) => (
                <td key={i} class="cell" style={c.size ? { background: `rgba(79, 70, 229, ${Math.min(1, share) * 0.85 + 0.05})`, color: share > 0.5 ? "#fff" : "#1b1f29" } : {}}
                  title={`${c.values[i]} of ${c.size}`}>
                  {c.size && props.onCell && c.values[i] ? (
                    <button type="button" class="cellbutton" onClick={() => props.onCell!(row, i, ref)}
                      aria-label={`Persons of cohort ${row + 1}, period ${i}`}>
                      {`${Math.round(share * 100)}%`}
                    </button>
                  ) : c.size ? `${Math.round(share * 100)}%` : ""}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export type Edge = { step: number; source: string; target: string; weight: number };
type PathNodeRow = { step: number; name: string; count: number };

/** A node's key in the Sankey: the same page at two steps is two nodes. */
const nodeKey = (step: number, name: string) => `${step + 1}. ${name}`;

/** `name` cut to `max` characters for a label: its end is kept (the last part of a path
 * says which page it is), the whole name is in the tooltip. */
export function shorten(name: string, max: number): string {
  if (name.length <= max) return name;
  // The last part alone when it says enough, else as much of the end as fits.
  const last = name.slice(name.lastIndexOf("/"));
  return "…" + (last.length >= max / 2 && last.length < max ? last : name.slice(-(max - 1)));
}

/** About how wide (px) the flow is drawn: a dashboard tile or the insight page. */
const FLOW_WIDTH = { tile: 500, page: 760 };

function sankeyChart(result: Any, compact: boolean): ChartConfiguration<"sankey"> {
  const edges = result.edges as Edge[];
  const nodes = result.nodes as PathNodeRow[];
  // Each label gets about its column's width, at ~6.5 px per character of an 11 px font.
  const columns = Math.max(1, ...nodes.map((n) => n.step + 1));
  const room = (compact ? FLOW_WIDTH.tile : FLOW_WIDTH.page) / columns - 24;
  const max = Math.max(8, Math.floor(room / 6.5));
  const full: Record<string, string> = {};
  const labels: Record<string, string> = {};
  const column: Record<string, number> = {};
  const colors: Record<string, string> = {};
  const byName = new Map<string, string>();
  for (const n of nodes) {
    const key = nodeKey(n.step, n.name);
    full[key] = n.name || "(no path)";
    labels[key] = shorten(full[key], max);
    column[key] = n.step;
    // One colour per page, whatever its step, so a page is easy to follow across the flow.
    if (!byName.has(n.name)) byName.set(n.name, PALETTE[byName.size % PALETTE.length]);
    colors[key] = byName.get(n.name)!;
  }
  const colorOf = (key: string) => colors[key] ?? PALETTE[7];
  return {
    type: "sankey",
    data: {
      datasets: [
        {
          label: "Paths",
          data: edges.map((e) => ({ from: nodeKey(e.step, e.source), to: nodeKey(e.step + 1, e.target), flow: e.weight })),
          labels,
          column,
          colorFrom: (c) => colorOf(c.raw.from),
          colorTo: (c) => colorOf(c.raw.to),
          colorMode: "gradient",
          alpha: 0.45,
          nodeWidth: 12,
          // Room between stacked nodes for their labels, which sit on a white backing so
          // that they stay readable over the flows.
          nodePadding: 16,
          nodeLabels: { backgroundColor: "rgba(255, 255, 255, 0.85)", borderRadius: 3, padding: 2, font: { size: 11 } },
          size: "max",
          parsing: { from: "from", to: "to", flow: "flow" },
        },
      ],
    },
    options: {
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => {
              const raw = item.raw as { from: string; to: string; flow: number };
              return `${full[raw.from] ?? raw.from} → ${full[raw.to] ?? raw.to}: ${raw.flow.toLocaleString()}`;
            },
          },
        },
      },
    },
  };
}

/** Paths as a Sankey flow (columns are steps), and the busiest edges as a list to read and
 * click: each edge (in the chart or the list) opens the persons who went along it. */
function Paths(props: { result: Any; onEdge?: (edge: Edge) => void }) {
  const all = props.result.edges as Edge[];
  const config = useMemo(() => sankeyChart(props.result, !props.onEdge), [props.result, props.onEdge]);
  // A dashboard tile (no drill-down) lists fewer edges than the insight page.
  const top = all.slice().sort((a, b) => b.weight - a.weight).slice(0, props.onEdge ? 12 : 5);
  const most = top[0]?.weight ?? 1;
  if (all.length === 0) return <p class="muted" data-testid="paths">No paths in this range yet.</p>;
  return (
    <div data-testid="paths">
      <ChartView config={config as unknown as ChartConfiguration} label="Paths flow" tall
        onPick={props.onEdge ? (index) => props.onEdge!(all[index]) : undefined} />
      <ol class="flows" aria-label="Busiest steps">
        {top.map((e, i) => (
          <li key={i}>
            <span class="flow-bar" style={{ width: `${(e.weight / most) * 100}%` }} />
            {props.onEdge ? (
              <button type="button" class="flow-text linkish" onClick={() => props.onEdge!(e)}>
                <span class="muted">Step {e.step + 1}</span> {e.source} → {e.target}
              </button>
            ) : (
              <span class="flow-text"><span class="muted">Step {e.step + 1}</span> {e.source} → {e.target}</span>
            )}
            <span class="flow-n">{e.weight.toLocaleString()}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

export function InsightView(props: {
  result: Any;
  label: string;
  // A trend's saved look: "line" (the default), "bar" or "number".
  display?: unknown;
  onCell?: (cohort: number, period: number, line: LineRef | null) => void;
  onEdge?: (edge: Edge) => void;
  // A bar or point picked in a chart: its index along the axis, and its dataset.
  onPick?: (index: number, dataset: number) => void;
}) {
  const kind = String(props.result.kind ?? "trends");
  const config = useMemo(() => {
    if (kind === "trends") return props.display === "number" ? null : trendsChart(props.result, { bar: props.display === "bar" });
    if (kind === "funnel") return props.result.over_time ? funnelTrendChart(props.result) : funnelChart(props.result);
    if (kind === "lifecycle") return lifecycleChart(props.result);
    if (kind === "stickiness") return stickinessChart(props.result);
    return null;
  }, [props.result, props.display]);
  if (kind === "trends" && props.display === "number") return <TrendNumbers result={props.result as Totals} />;
  if (kind === "retention") return <Retention result={props.result} onCell={props.onCell} />;
  if (kind === "paths") return <Paths result={props.result} onEdge={props.onEdge} />;
  return config ? <ChartView config={config} label={props.label} onPick={props.onPick} /> : null;
}

/** A result as CSV rows: a header, then one row per line, cohort, bucket or edge. */
export function csvRows(result: Any): (string | number)[][] {
  const kind = String(result.kind ?? "");
  if (kind === "retention") {
    const cohorts = result.cohorts as { start: string; size: number; values: number[] }[];
    const lines = linesOf(result);
    if (lines) {
      return [
        ["line", "cohort", "persons", ...cohorts.map((_, i) => `period ${i}`)],
        ...lines.flatMap((l) => l.cohorts.map((c) => [funnelLineName(l), c.start, c.size, ...c.values])),
      ];
    }
    return [
      ["cohort", "persons", ...cohorts.map((_, i) => `period ${i}`)],
      ...cohorts.map((c) => [c.start, c.size, ...c.values]),
    ];
  }
  if (kind === "lifecycle") {
    const buckets = result.buckets as string[];
    const parts = ["new", "returning", "resurrecting", "dormant"];
    return [["bucket", ...parts], ...buckets.map((b, i) => [b, ...parts.map((p) => (result[p] as number[])[i])])];
  }
  if (kind === "stickiness") {
    const series = result.series as { label: string; persons: number[] }[];
    return [
      ["intervals", ...series.map((s) => s.label)],
      ...(series[0]?.persons ?? []).map((_, i) => [i + 1, ...series.map((s) => s.persons[i])]),
    ];
  }
  if (kind === "paths") {
    const edges = result.edges as Edge[];
    return [["step", "from", "to", "persons"], ...edges.map((e) => [e.step + 1, e.source, e.target, e.weight])];
  }
  return [];
}

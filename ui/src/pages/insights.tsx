import type { ComponentChildren } from "preact";
import type { ChartConfiguration } from "chart.js";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { ChartView, downloadCsv, PALETTE } from "../chart";
import { ErrorNote } from "../layout";
import { PersonLink } from "../people";
import { bucketLabel, csvRows, type Edge, funnelLineName, InsightView, trendsChart } from "../views";
import { BreakdownPicker, FiltersEditor, type PropertyFilter, ready, useSeen } from "../filters";

// -- results as the query API returns them ------------------------------------------------

interface TrendsLine {
  label: string;
  // The spec's series the line is of; null for a formula's line.
  series: number | null;
  values: number[];
  total: number;
  breakdown_value: string | null;
  is_other: boolean;
}
interface TrendsResult {
  buckets: string[];
  series: TrendsLine[];
  previous: TrendsLine[] | null;
}
interface FunnelStep {
  label: string;
  count: number;
  conversion_from_first: number;
  conversion_from_previous: number;
  dropped: number;
  median_seconds: number | null;
}
interface FunnelLine {
  breakdown_value: string | null;
  is_other: boolean;
  steps: FunnelStep[];
}
interface FunnelResult {
  lines: FunnelLine[];
}
interface PersonHit {
  person_id: string;
  distinct_ids: string[];
  properties: Record<string, unknown>;
  timestamp: string | null;
  session_id: string | null;
}

const MATHS: [string, string][] = [
  ["total", "Total events"],
  ["unique_persons", "Unique persons"],
  ["unique_sessions", "Unique sessions"],
  ["avg_per_person", "Events per person"],
  ["dau", "Daily active"],
  ["wau", "Weekly active"],
  ["mau", "Monthly active"],
  ["sum", "Sum of a property"],
  ["avg", "Average of a property"],
  ["min", "Minimum of a property"],
  ["max", "Maximum of a property"],
  ["median", "Median of a property"],
  ["p90", "90th percentile of a property"],
  ["p95", "95th percentile of a property"],
  ["p99", "99th percentile of a property"],
];
const PROPERTY_MATHS = new Set(["sum", "avg", "min", "max", "median", "p90", "p95", "p99"]);
const RANGES: [string, string][] = [
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["-30d", "Last 30 days"],
  ["-90d", "Last 90 days"],
];
const INTERVALS = ["hour", "day", "week", "month"];

function useCatalog(projectId: number): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    api<{ name: string }[]>("GET", `/api/projects/${projectId}/catalog/events`)
      .then((seen) => setNames(seen.map((s) => s.name)))
      .catch(() => setNames([]));
  }, [projectId]);
  return names;
}

function useQuery<T>(projectId: number, spec: object): { result: T | null; error: string | null; busy: boolean } {
  const [state, setState] = useState<{ result: T | null; error: string | null; busy: boolean }>({
    result: null,
    error: null,
    busy: true,
  });
  const key = JSON.stringify(spec);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, busy: true }));
    const timer = setTimeout(() => {
      api<T>("POST", `/api/projects/${projectId}/query`, spec)
        .then((result) => live && setState({ result, error: null, busy: false }))
        .catch((err) => live && setState({ result: null, error: err instanceof ApiError ? err.message : String(err), busy: false }));
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [projectId, key]);
  return state;
}

function EventPicker(props: { id: string; label: string; value: string; names: string[]; onChange: (v: string) => void }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} list={`${props.id}-names`} value={props.value} placeholder="Any event"
        onInput={(e) => props.onChange(e.currentTarget.value)} />
      <datalist id={`${props.id}-names`}>
        {props.names.map((n) => <option value={n} key={n} />)}
      </datalist>
    </div>
  );
}

function Select(props: { id: string; label: string; value: string; options: [string, string][]; onChange: (v: string) => void }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map(([v, text]) => <option value={v} key={v}>{text}</option>)}
      </select>
    </div>
  );
}

// -- saving -----------------------------------------------------------------------------------

function SaveBar(props: { projectId: number; spec: object; kind: string }) {
  const [name, setName] = useState("");
  const [boards, setBoards] = useState<{ id: number; name: string; tiles: { id: number }[] }[]>([]);
  const [board, setBoard] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<typeof boards>("GET", `/api/projects/${props.projectId}/dashboards`).then((b) => {
      setBoards(b);
      setBoard(b[0] ? String(b[0].id) : "");
    }).catch(() => setBoards([]));
  }, [props.projectId]);
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const saved = await api<{ id: number; name: string }>("POST", `/api/projects/${props.projectId}/insights`, { name, spec: props.spec });
      const target = boards.find((b) => String(b.id) === board);
      if (target) {
        await api("PATCH", `/api/projects/${props.projectId}/dashboards/${target.id}`, { tiles: [...target.tiles.map((t) => t.id), saved.id] });
        setNote(`Saved “${saved.name}” and added it to ${target.name}.`);
      } else setNote(`Saved “${saved.name}”.`);
      setName("");
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <form class="savebar" onSubmit={save} aria-label="Save this insight">
      <div class="field inline">
        <label for={`${props.kind}-save-name`}>Name</label>
        <input id={`${props.kind}-save-name`} required maxLength={200} value={name} placeholder={`My ${props.kind}`}
          onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field inline">
        <label for={`${props.kind}-save-board`}>Dashboard</label>
        <select id={`${props.kind}-save-board`} value={board} onChange={(e) => setBoard(e.currentTarget.value)}>
          <option value="">None</option>
          {boards.map((b) => <option value={String(b.id)} key={b.id}>{b.name}</option>)}
        </select>
      </div>
      <button type="submit" class="primary">Save</button>
      {note && <span class="ok" role="status">{note}</span>}
      <ErrorNote error={error} />
    </form>
  );
}

// -- trends ---------------------------------------------------------------------------------

/** The "leave out internal and test users" switch, one for every builder: the project's test
 * account filters (Settings) then also apply to the insight. */
interface LeaveOut {
  projectId: number;
  on: boolean;
  // Whether the project has test account filters; null while not known.
  defined: boolean | null;
  onChange: (on: boolean) => void;
}

function LeaveOutToggle(props: LeaveOut) {
  return (
    <div>
      <label class="check">
        <input type="checkbox" checked={props.on} onChange={(e) => props.onChange(e.currentTarget.checked)} /> Leave out internal and test users
      </label>
      {props.defined === false && (
        <span class="hint" data-testid="no-test-filters">
          None are defined yet: see <a href={`/projects/${props.projectId}/settings`}>Settings</a>.
        </span>
      )}
    </div>
  );
}

/** One series of a trends chart as the builder holds it: the event, its math, and the
 * numeric property that a property math is of. */
interface SeriesDraft {
  event: string;
  math: string;
  property: string;
}

const letter = (i: number) => String.fromCharCode(65 + i);

/** A total against the period before's: "+12.5 % on the period before (672)". */
function change(now: number, was: number): string {
  if (was === 0) return `${now === 0 ? "same as" : "up from"} 0 in the period before`;
  const pct = ((now - was) / Math.abs(was)) * 100;
  const sign = pct > 0 ? "+" : pct < 0 ? "−" : "±";
  return `${sign}${Math.abs(pct).toFixed(1)} % on the period before (${was.toLocaleString()})`;
}

function SeriesEditor(props: {
  index: number;
  value: SeriesDraft;
  names: string[];
  properties: string[];
  removable: boolean;
  onChange: (s: SeriesDraft | null) => void;
}) {
  const s = props.value;
  const n = props.index + 1;
  const tag = props.removable ? `Series ${letter(props.index)}` : "Event";
  return (
    <fieldset class="series stack plain" aria-label={`Series ${letter(props.index)}`}>
      <div class="step-row">
        <EventPicker id={n === 1 ? "trend-event" : `trend-event-${n}`} label={tag} value={s.event} names={props.names}
          onChange={(event) => props.onChange({ ...s, event })} />
        {props.removable && (
          <button type="button" class="ghost small" aria-label={`Remove series ${letter(props.index)}`} onClick={() => props.onChange(null)}>×</button>
        )}
      </div>
      <Select id={n === 1 ? "trend-math" : `trend-math-${n}`} label="Measure" value={s.math} options={MATHS}
        onChange={(math) => props.onChange({ ...s, math })} />
      {PROPERTY_MATHS.has(s.math) && (
        <div class="field">
          <label for={`trend-property-${n}`}>Of the number in property</label>
          <input id={`trend-property-${n}`} list={`trend-property-${n}-seen`} placeholder="amount" value={s.property}
            onInput={(e) => props.onChange({ ...s, property: e.currentTarget.value })} />
          <datalist id={`trend-property-${n}-seen`}>{props.properties.map((k) => <option value={k} key={k} />)}</datalist>
        </div>
      )}
    </fieldset>
  );
}

function Trends(props: { projectId: number; names: string[]; leaveOut: LeaveOut }) {
  const [series, setSeries] = useState<SeriesDraft[]>([{ event: "$pageview", math: "total", property: "" }]);
  const [formula, setFormula] = useState("");
  const [compare, setCompare] = useState(false);
  const [range, setRange] = useState("-7d");
  const [interval, setInterval] = useState("day");
  const [display, setDisplay] = useState("line");
  const [filters, setFilters] = useState<PropertyFilter[]>([]);
  const [breakdown, setBreakdown] = useState("");
  const [breakdownType, setBreakdownType] = useState("event");
  const [picked, setPicked] = useState<{ bucket: number; line: number } | null>(null);
  const properties = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=event`);
  const spec = {
    kind: "trends",
    series: series.map((s) => ({
      event: s.event || null,
      math: s.math,
      ...(PROPERTY_MATHS.has(s.math) ? { math_property: s.property.trim() || null } : {}),
    })),
    interval,
    date_range: { date_from: range },
    filters: ready(filters),
    filter_test_accounts: props.leaveOut.on,
    breakdown: breakdown.trim() || null,
    breakdown_type: breakdownType,
    compare,
    formula: series.length > 1 && formula.trim() ? formula.trim() : null,
  };
  const { result, error, busy } = useQuery<TrendsResult>(props.projectId, spec);
  const setOne = (i: number, s: SeriesDraft | null) =>
    setSeries(s === null ? series.filter((_, j) => j !== i) : series.map((t, j) => (j === i ? s : t)));

  const config = useMemo<ChartConfiguration | null>(
    () => (result ? trendsChart({ ...result }, { bar: display === "bar", points: 2 }) : null),
    [result, display],
  );

  const rows = result
    ? [
        ...result.series.map((l) => ({ ...l, shown: l.label })),
        ...(result.previous ?? []).map((l) => ({ ...l, shown: `${l.label} (previous period)` })),
      ]
    : [];
  const csv = () =>
    result && downloadCsv("trends.csv", [["series", ...result.buckets, "total"], ...rows.map((l) => [l.shown, ...l.values, l.total])]);
  const pickedLine = result && picked ? result.series[picked.line] : null;

  return (
    <div class="builder">
      <form class="card stack controls" onSubmit={(e) => e.preventDefault()} aria-label="Trends settings">
        {series.map((s, i) => (
          <SeriesEditor key={i} index={i} value={s} names={props.names} properties={properties} removable={series.length > 1}
            onChange={(t) => setOne(i, t)} />
        ))}
        {series.length < 5 && (
          <button type="button" class="ghost" onClick={() => setSeries([...series, { event: "", math: "total", property: "" }])}>
            Add series
          </button>
        )}
        {series.length > 1 && (
          <div class="field">
            <label for="trend-formula">Formula (optional)</label>
            <input id="trend-formula" placeholder="A / B * 100" value={formula} onInput={(e) => setFormula(e.currentTarget.value)} />
            <span class="hint">Over the series {series.map((_, i) => letter(i)).join(", ")}, as one more line.</span>
          </div>
        )}
        <Select id="trend-range" label="Date range" value={range} options={RANGES} onChange={setRange} />
        <label class="check"><input type="checkbox" checked={compare} onChange={(e) => setCompare(e.currentTarget.checked)} /> Compare with the period before</label>
        <Select id="trend-interval" label="Interval" value={interval} options={INTERVALS.map((i) => [i, i[0].toUpperCase() + i.slice(1)])} onChange={setInterval} />
        <Select id="trend-display" label="Chart" value={display} options={[["line", "Line"], ["bar", "Bars"], ["number", "Number"]]} onChange={setDisplay} />
        <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
        <LeaveOutToggle {...props.leaveOut} />
        <BreakdownPicker projectId={props.projectId} value={breakdown} type={breakdownType}
          onChange={(key, type) => (setBreakdown(key), setBreakdownType(type))} />
      </form>
      <section class="card result" aria-busy={busy} aria-label="Trends result">
        <SaveBar projectId={props.projectId} spec={spec} kind="trends" />
        <ErrorNote error={error} />
        {result && display === "number" && (
          <div class="numbers-row">
            {result.series.map((line, i) => {
              const was = result.previous?.[i]?.total;
              return (
                <div key={line.label}>
                  <p class="big-number" data-testid="number">{line.total.toLocaleString()}</p>
                  {result.series.length > 1 && <p class="muted">{line.label}</p>}
                  {was !== undefined && <p class="muted" data-testid="change">{change(line.total, was)}</p>}
                </div>
              );
            })}
          </div>
        )}
        {config && display !== "number" && (
          <ChartView config={config} label="Trend chart"
            onPick={(bucket, line) => line < (result?.series.length ?? 0) && setPicked({ bucket, line })} />
        )}
        {result && picked && pickedLine && pickedLine.series !== null && (
          <Persons projectId={props.projectId} onClose={() => setPicked(null)}
            title={`${pickedLine.label} on ${bucketLabel(result.buckets[picked.bucket], interval)}`}
            spec={{
              kind: "trends_persons",
              trends: spec,
              series: pickedLine.series,
              bucket: picked.bucket,
              line: breakdown.trim() ? { value: pickedLine.breakdown_value, is_other: pickedLine.is_other } : null,
            }} />
        )}
        {result && (
          <>
            <div class="result-head">
              <h2>Table</h2>
              <button type="button" class="ghost small" onClick={csv}>Export CSV</button>
            </div>
            <div class="scroll">
              <table class="table numbers">
                <thead>
                  <tr><th>Series</th>{result.buckets.map((b) => <th key={b}>{bucketLabel(b, interval)}</th>)}<th>Total</th></tr>
                </thead>
                <tbody>
                  {rows.map((line, l) => (
                    <tr key={line.shown}>
                      <td>{line.shown}</td>
                      {line.values.map((v, i) => (
                        <td key={i}>
                          {/* A number of a series in this period opens the persons behind it. */}
                          {l < result.series.length && line.series !== null && v !== 0 ? (
                            <button type="button" class="cellbutton" aria-label={`Persons of ${line.shown} on ${bucketLabel(result.buckets[i], interval)}`}
                              onClick={() => setPicked({ bucket: i, line: l })}>
                              {v.toLocaleString()}
                            </button>
                          ) : v.toLocaleString()}
                        </td>
                      ))}
                      <td><strong>{line.total.toLocaleString()}</strong></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>
    </div>
  );
}

// -- funnels --------------------------------------------------------------------------------

function duration(seconds: number | null): string {
  if (seconds === null) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

export function Persons(props: { projectId: number; spec: object; title: string; onClose: () => void }) {
  const { result, error } = useQuery<{ persons: PersonHit[]; total: number }>(props.projectId, { ...props.spec, limit: 50 });
  return (
    <section class="card persons" aria-label={props.title}>
      <div class="result-head">
        <h2>
          {props.title}
          {result ? ` · ${result.total.toLocaleString()} ${result.total === 1 ? "person" : "persons"}` : ""}
        </h2>
        <button type="button" class="ghost small" onClick={props.onClose}>Close</button>
      </div>
      <ErrorNote error={error} />
      {result && (
        <table class="table" data-testid="persons">
          <thead><tr><th>Person</th><th>When</th><th>Session</th></tr></thead>
          <tbody>
            {result.persons.map((p) => (
              <tr key={p.person_id}>
                <td class="clip">
                  <PersonLink projectId={props.projectId} distinctIds={p.distinct_ids} properties={p.properties} />
                </td>
                <td class="nowrap">{p.timestamp ? new Date(p.timestamp).toLocaleString() : "–"}</td>
                <td class="clip">
                  {p.session_id ? (
                    <a href={`/projects/${props.projectId}/sessions/${encodeURIComponent(p.session_id)}${p.timestamp ? `?at=${encodeURIComponent(p.timestamp)}` : ""}`}>
                      <code>{p.session_id}</code>
                    </a>
                  ) : "–"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function StepsTable(props: { line: FunnelLine; label: string; onDropped: (step: number) => void }) {
  return (
    <table class="table numbers" data-testid="funnel-steps" aria-label={props.label}>
      <thead>
        <tr><th>Step</th><th>Persons</th><th>Conversion</th><th>Dropped</th><th>Median time</th></tr>
      </thead>
      <tbody>
        {props.line.steps.map((s, i) => (
          <tr key={i}>
            <td>{i + 1}. {s.label}</td>
            <td>{s.count.toLocaleString()}</td>
            <td>{(s.conversion_from_first * 100).toFixed(1)} %</td>
            <td>
              {i === 0 ? "–" : (
                <button type="button" class="link" onClick={() => props.onDropped(i)} disabled={s.dropped === 0}>
                  {s.dropped.toLocaleString()}
                </button>
              )}
            </td>
            <td>{i === 0 ? "–" : duration(s.median_seconds)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A broken-down funnel: a row per value, its persons at each step (and how many dropped
 * before it, which opens them), and its conversion from first to last step. */
function LinesTable(props: { lines: FunnelLine[]; by: string; onDropped: (step: number, line: FunnelLine) => void }) {
  const steps = props.lines[0].steps;
  return (
    <div class="scroll">
      <table class="table numbers" data-testid="funnel-lines">
        <thead>
          <tr><th>{props.by}</th>{steps.map((s, i) => <th key={i}>{i + 1}. {s.label}</th>)}<th>Conversion</th></tr>
        </thead>
        <tbody>
          {props.lines.map((l) => (
            <tr key={`${l.is_other}:${l.breakdown_value}`}>
              <td>{funnelLineName(l)}</td>
              {l.steps.map((s, i) => (
                <td key={i}>
                  {s.count.toLocaleString()}
                  {i > 0 && s.dropped > 0 && (
                    <>
                      {" "}
                      <button type="button" class="link small-note" onClick={() => props.onDropped(i, l)}>
                        {s.dropped.toLocaleString()} dropped
                      </button>
                    </>
                  )}
                </td>
              ))}
              <td>{((l.steps[l.steps.length - 1]?.conversion_from_first ?? 0) * 100).toFixed(1)} %</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Funnels(props: { projectId: number; names: string[]; leaveOut: LeaveOut }) {
  const [steps, setSteps] = useState<string[]>(["$pageview", ""]);
  const [days, setDays] = useState("14");
  const [unit, setUnit] = useState("day");
  const [range, setRange] = useState("-30d");
  const [order, setOrder] = useState("ordered");
  // Persons who dropped before a step, of one breakdown line (the only one without).
  const [dropped, setDropped] = useState<{ step: number; line: FunnelLine } | null>(null);
  const [filters, setFilters] = useState<PropertyFilter[]>([]);
  const [breakdown, setBreakdown] = useState("");
  const [breakdownType, setBreakdownType] = useState("event");
  // Events that break an attempt between two of its steps (counted from 1 here, 0 in the spec).
  const [exclusions, setExclusions] = useState<{ event: string; from: number; to: number }[]>([]);
  const split = breakdown.trim() !== "";
  const last = steps.length;
  const kept = order === "unordered" ? [] : exclusions.filter((x) => x.event.trim() && x.from < x.to && x.to <= last);
  const funnel = {
    filters: ready(filters),
    filter_test_accounts: props.leaveOut.on,
    kind: "funnel",
    steps: steps.map((s) => ({ event: s || null })),
    window: Math.max(1, Math.round(Number(days)) || 1),
    window_unit: unit,
    order,
    date_range: { date_from: range },
    breakdown: split ? breakdown.trim() : null,
    breakdown_type: breakdownType,
    exclusions: kept.map((x) => ({ event: x.event.trim(), from_step: x.from - 1, to_step: x.to - 1 })),
  };
  const { result, error, busy } = useQuery<FunnelResult>(props.projectId, funnel);
  const setExclusion = (i: number, x: { event: string; from: number; to: number } | null) =>
    setExclusions(x === null ? exclusions.filter((_, j) => j !== i) : exclusions.map((y, j) => (j === i ? x : y)));
  const stepOptions = steps.map((_, i): [string, string] => [String(i + 1), `step ${i + 1}`]);
  const lines = result?.lines ?? [];
  const line = lines[0];

  const config = useMemo<ChartConfiguration | null>(() => {
    if (!line) return null;
    const labels = line.steps.map((s, i) => `${i + 1}. ${s.label}`);
    if (split) {
      // A bar per line at each step: how each value converts, side by side.
      return {
        type: "bar",
        data: {
          labels,
          datasets: lines.map((l, i) => ({ label: funnelLineName(l), data: l.steps.map((s) => s.count), backgroundColor: PALETTE[i % PALETTE.length] })),
        },
        options: { scales: { y: { beginAtZero: true } } },
      };
    }
    return {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Converted", data: line.steps.map((s) => s.count), backgroundColor: PALETTE[0], stack: "s" },
          { label: "Dropped", data: line.steps.map((s) => s.dropped), backgroundColor: "rgba(239, 68, 68, 0.35)", stack: "s" },
        ],
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    };
  }, [result]);
  const pick = (step: number, dataset: number) => {
    if (step === 0) return;
    if (split && lines[dataset]) setDropped({ step, line: lines[dataset] });
    else if (!split && dataset === 1 && line) setDropped({ step, line });
  };

  const setStep = (i: number, v: string) => setSteps(steps.map((s, j) => (j === i ? v : s)));
  const csv = () =>
    line &&
    downloadCsv("funnel.csv", [
      [...(split ? [breakdown.trim()] : []), "step", "persons", "conversion from first", "conversion from previous", "dropped", "median time"],
      ...lines.flatMap((l) =>
        l.steps.map((s, i) => [
          ...(split ? [funnelLineName(l)] : []),
          `${i + 1}. ${s.label}`, s.count, s.conversion_from_first, s.conversion_from_previous, s.dropped, s.median_seconds ?? "",
        ]),
      ),
    ]);

  return (
    <div class="builder">
      <form class="card stack controls" onSubmit={(e) => e.preventDefault()} aria-label="Funnel settings">
        {steps.map((s, i) => (
          <div class="step-row" key={i}>
            <EventPicker id={`funnel-step-${i + 1}`} label={`Step ${i + 1}`} value={s} names={props.names} onChange={(v) => setStep(i, v)} />
            {steps.length > 2 && (
              <button type="button" class="ghost small" aria-label={`Remove step ${i + 1}`} onClick={() => setSteps(steps.filter((_, j) => j !== i))}>×</button>
            )}
          </div>
        ))}
        {steps.length < 20 && (
          <button type="button" class="ghost" onClick={() => setSteps([...steps, ""])}>Add step</button>
        )}
        <div class="field">
          <label for="funnel-window">Conversion window</label>
          <div class="window-row">
            <input id="funnel-window" type="number" min={1} value={days} onInput={(e) => setDays(e.currentTarget.value)} />
            <select aria-label="Window unit" value={unit} onChange={(e) => setUnit(e.currentTarget.value)}>
              {[["minute", "minutes"], ["hour", "hours"], ["day", "days"], ["week", "weeks"]].map(([v, t]) => <option value={v} key={v}>{t}</option>)}
            </select>
          </div>
        </div>
        <Select id="funnel-order" label="Step order" value={order} options={[["ordered", "In order"], ["strict", "Strictly in order"], ["unordered", "Any order"]]} onChange={setOrder} />
        {order !== "unordered" && (
          <div class="stack">
            <span class="label">Exclusions {exclusions.length > 0 && <span class="hint inline">an attempt with this event between the steps does not count</span>}</span>
            {exclusions.map((x, i) => (
              <fieldset class="filter" key={i} aria-label={`Exclusion ${i + 1}`}>
                <div class="filter-line">
                  <EventPicker id={`funnel-exclusion-${i + 1}`} label="Event" value={x.event} names={props.names}
                    onChange={(event) => setExclusion(i, { ...x, event })} />
                  <button type="button" class="ghost small" aria-label={`Remove exclusion ${i + 1}`} onClick={() => setExclusion(i, null)}>×</button>
                </div>
                <div class="filter-line">
                  <Select id={`funnel-exclusion-${i + 1}-from`} label="Between" value={String(x.from)} options={stepOptions.slice(0, -1)}
                    onChange={(v) => setExclusion(i, { ...x, from: Number(v), to: Math.max(x.to, Number(v) + 1) })} />
                  <Select id={`funnel-exclusion-${i + 1}-to`} label="and" value={String(x.to)} options={stepOptions.slice(x.from)}
                    onChange={(v) => setExclusion(i, { ...x, to: Number(v) })} />
                </div>
              </fieldset>
            ))}
            <button type="button" class="ghost" onClick={() => setExclusions([...exclusions, { event: "", from: 1, to: last }])}>
              Add exclusion
            </button>
          </div>
        )}
        <Select id="funnel-range" label="Date range" value={range} options={RANGES} onChange={setRange} />
        <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
        <LeaveOutToggle {...props.leaveOut} />
        <BreakdownPicker projectId={props.projectId} value={breakdown} type={breakdownType}
          onChange={(key, type) => (setBreakdown(key), setBreakdownType(type), setDropped(null))} />
      </form>
      <div class="stack">
        <section class="card result" aria-busy={busy} aria-label="Funnel result">
          <SaveBar projectId={props.projectId} spec={funnel} kind="funnel" />
          <ErrorNote error={error} />
          {config && <ChartView config={config} label="Funnel chart" onPick={pick} />}
          {line && (
            <div class="result-head">
              <h2>Steps</h2>
              <button type="button" class="ghost small" onClick={csv}>Export CSV</button>
            </div>
          )}
          {split
            ? line && <LinesTable lines={lines} by={breakdown.trim()} onDropped={(step, l) => setDropped({ step, line: l })} />
            : line && <StepsTable line={line} label="Steps" onDropped={(step) => setDropped({ step, line })} />}
        </section>
        {dropped !== null && (
          <Persons projectId={props.projectId}
            title={`Dropped before step ${dropped.step + 1}${split ? ` · ${funnelLineName(dropped.line)}` : ""}`}
            spec={{
              kind: "funnel_persons",
              funnel,
              step: dropped.step,
              status: "dropped",
              line: split ? { value: dropped.line.breakdown_value, is_other: dropped.line.is_other } : null,
            }}
            onClose={() => setDropped(null)} />
        )}
      </div>
    </div>
  );
}

// -- retention, paths, lifecycle, stickiness: a spec form and the dashboard's view ----------

function Simple(props: {
  projectId: number;
  kind: string;
  spec: object;
  label: string;
  children: ComponentChildren;
  persons?: (cohort: number, period: number) => { spec: object; title: string };
  edgePersons?: (edge: Edge) => { spec: object; title: string };
  // The persons behind a chart's bar, and behind a number of its table (row, column from 0).
  picked?: (index: number, dataset: number, result: Record<string, unknown>) => { spec: object; title: string };
}) {
  const { result, error, busy } = useQuery<Record<string, unknown>>(props.projectId, props.spec);
  const [cell, setCell] = useState<{ spec: object; title: string } | null>(null);
  // The persons opened were those of the insight as it was: a change closes them.
  const specKey = JSON.stringify(props.spec);
  useEffect(() => setCell(null), [specKey]);
  return (
    <div class="builder">
      <form class="card stack controls" onSubmit={(e) => e.preventDefault()} aria-label={`${props.label} settings`}>
        {props.children}
      </form>
      <section class="card result" aria-busy={busy} aria-label={`${props.label} result`}>
        <SaveBar projectId={props.projectId} spec={props.spec} kind={props.kind} />
        <ErrorNote error={error} />
        {result && (
          <>
            <div class="result-head first">
              <h2>{props.label}</h2>
              <button type="button" class="ghost small" onClick={() => downloadCsv(`${props.kind}.csv`, csvRows(result))}>
                Export CSV
              </button>
            </div>
            <InsightView result={result} label={props.label}
              onCell={props.persons ? (c, p) => setCell(props.persons!(c, p)) : undefined}
              onEdge={props.edgePersons ? (e) => setCell(props.edgePersons!(e)) : undefined}
              onPick={props.picked ? (i, d) => setCell(props.picked!(i, d, result)) : undefined} />
            {props.picked && (
              <NumbersTable rows={csvRows(result)} interval={String(result.interval ?? "day")} onPick={(i, d) => setCell(props.picked!(i, d, result))} />
            )}
          </>
        )}
        {cell && <Persons projectId={props.projectId} spec={cell.spec} title={cell.title} onClose={() => setCell(null)} />}
      </section>
    </div>
  );
}

/** A result's rows as a table whose numbers (but zeros) open the persons behind them. */
function NumbersTable(props: { rows: (string | number)[][]; interval: string; onPick: (row: number, column: number) => void }) {
  const [head, ...body] = props.rows;
  // A row named by a bucket's start is named by its date, as the chart's axis.
  const name = (v: string | number) => (typeof v === "string" && /^\d{4}-\d\d-\d\d/.test(v) ? bucketLabel(v, props.interval) : String(v));
  if (!head) return null;
  return (
    <div class="scroll tall-scroll">
      <table class="table numbers" data-testid="numbers">
        <thead><tr>{head.map((h) => <th key={h}>{h}</th>)}</tr></thead>
        <tbody>
          {body.map((row, r) => (
            <tr key={r}>
              <td>{name(row[0])}</td>
              {row.slice(1).map((v, c) => (
                <td key={c}>
                  {typeof v === "number" && v !== 0 ? (
                    <button type="button" class="cellbutton" aria-label={`Persons: ${head[c + 1]}, ${name(row[0])}`} onClick={() => props.onPick(r, c)}>
                      {v.toLocaleString()}
                    </button>
                  ) : String(v)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Retention(props: { projectId: number; names: string[]; leaveOut: LeaveOut }) {
  const [start, setStart] = useState("$pageview");
  const [back, setBack] = useState("");
  const [period, setPeriod] = useState("week");
  const [periods, setPeriods] = useState("8");
  const [type, setType] = useState("recurring");
  const [filters, setFilters] = useState<PropertyFilter[]>([]);
  const spec = {
    kind: "retention",
    filters: ready(filters),
    start: { event: start || null },
    returning: back ? { event: back } : null,
    period,
    periods: Math.max(1, Math.min(60, Number(periods) || 8)),
    type,
    filter_test_accounts: props.leaveOut.on,
  };
  return (
    <Simple projectId={props.projectId} kind="retention" spec={spec} label="Retention"
      persons={(cohort, later) => ({
        spec: { kind: "retention_persons", retention: spec, cohort, period: later },
        title: `Cohort ${cohort + 1}, ${period} ${later}`,
      })}>
      <EventPicker id="ret-start" label="Starting event" value={start} names={props.names} onChange={setStart} />
      <EventPicker id="ret-back" label="Coming back with (empty: the same)" value={back} names={props.names} onChange={setBack} />
      <Select id="ret-period" label="Period" value={period} options={[["day", "Day"], ["week", "Week"], ["month", "Month"]]} onChange={setPeriod} />
      <div class="field">
        <label for="ret-periods">Periods</label>
        <input id="ret-periods" type="number" min={1} max={60} value={periods} onInput={(e) => setPeriods(e.currentTarget.value)} />
      </div>
      <Select id="ret-type" label="Cohorts" value={type} options={[["recurring", "Did it in the period"], ["first_time", "Did it for the first time"]]} onChange={setType} />
      <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
    </Simple>
  );
}

function Paths(props: { projectId: number; leaveOut: LeaveOut }) {
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [steps, setSteps] = useState("5");
  const [cap, setCap] = useState("10");
  const [least, setLeast] = useState("1");
  const [custom, setCustom] = useState(false);
  const [range, setRange] = useState("-7d");
  const [filters, setFilters] = useState<PropertyFilter[]>([]);
  const spec = {
    kind: "paths",
    filters: ready(filters),
    include: custom ? ["pageview", "custom"] : ["pageview"],
    start_point: start || null,
    end_point: end || null,
    steps: Math.max(2, Math.min(20, Number(steps) || 5)),
    max_nodes_per_step: Math.max(1, Math.min(100, Number(cap) || 10)),
    min_edge_weight: Math.max(1, Number(least) || 1),
    date_range: { date_from: range },
    filter_test_accounts: props.leaveOut.on,
  };
  return (
    <Simple projectId={props.projectId} kind="paths" spec={spec} label="Paths"
      edgePersons={(e) => ({
        spec: { kind: "paths_persons", paths: spec, step: e.step, source: e.source, target: e.target },
        title: `Step ${e.step + 1}: ${e.source} → ${e.target}`,
      })}>
      <div class="field">
        <label for="paths-start">Starting at (a path, or a custom event)</label>
        <input id="paths-start" placeholder="/pricing" value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="paths-end">Or ending at</label>
        <input id="paths-end" placeholder="/checkout" value={end} onInput={(e) => setEnd(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="paths-steps">Steps</label>
        <input id="paths-steps" type="number" min={2} max={20} value={steps} onInput={(e) => setSteps(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="paths-cap">Pages per step</label>
        <input id="paths-cap" type="number" min={1} max={100} value={cap} onInput={(e) => setCap(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="paths-least">Hide edges with fewer persons than</label>
        <input id="paths-least" type="number" min={1} value={least} onInput={(e) => setLeast(e.currentTarget.value)} />
      </div>
      <label class="check"><input type="checkbox" checked={custom} onChange={(e) => setCustom(e.currentTarget.checked)} /> Include custom events</label>
      <Select id="paths-range" label="Date range" value={range} options={RANGES} onChange={setRange} />
      <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
    </Simple>
  );
}

function Activity(props: { projectId: number; names: string[]; kind: "lifecycle" | "stickiness"; leaveOut: LeaveOut }) {
  const [event, setEvent] = useState("$pageview");
  const [interval, setInterval] = useState("day");
  const [range, setRange] = useState("-30d");
  const [filters, setFilters] = useState<PropertyFilter[]>([]);
  const ref = { event: event || null };
  const common = { interval, date_range: { date_from: range }, filters: ready(filters), filter_test_accounts: props.leaveOut.on };
  const spec = props.kind === "lifecycle" ? { kind: "lifecycle", event: ref, ...common } : { kind: "stickiness", series: [ref], ...common };
  const label = props.kind === "lifecycle" ? "Lifecycle" : "Stickiness";
  const statuses = ["new", "returning", "resurrecting", "dormant"];
  const picked = (index: number, dataset: number, result: Record<string, unknown>) =>
    props.kind === "lifecycle"
      ? {
          spec: { kind: "lifecycle_persons", lifecycle: spec, bucket: index, status: statuses[dataset] },
          title: `${statuses[dataset][0].toUpperCase()}${statuses[dataset].slice(1)} on ${bucketLabel(String((result.buckets as string[])[index]), interval)}`,
        }
      : {
          spec: { kind: "stickiness_persons", stickiness: spec, series: dataset, intervals: index + 1 },
          title: `Active on ${index + 1} ${interval}${index ? "s" : ""}`,
        };
  return (
    <Simple projectId={props.projectId} kind={props.kind} spec={spec} label={label} picked={picked}>
      <EventPicker id={`${props.kind}-event`} label="Event" value={event} names={props.names} onChange={setEvent} />
      <Select id={`${props.kind}-interval`} label="Interval" value={interval} options={INTERVALS.map((i) => [i, i[0].toUpperCase() + i.slice(1)])} onChange={setInterval} />
      <Select id={`${props.kind}-range`} label="Date range" value={range} options={RANGES} onChange={setRange} />
      <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
    </Simple>
  );
}

const KINDS: [string, string][] = [
  ["trends", "Trends"],
  ["funnel", "Funnel"],
  ["retention", "Retention"],
  ["paths", "Paths"],
  ["lifecycle", "Lifecycle"],
  ["stickiness", "Stickiness"],
];

export function InsightsPage(props: { projectId: number }) {
  const names = useCatalog(props.projectId);
  const asked = new URLSearchParams(location.search).get("kind");
  const [kind, setKind] = useState(KINDS.some(([k]) => k === asked) ? String(asked) : "trends");
  const choose = (k: string) => {
    setKind(k);
    history.replaceState(null, "", `${location.pathname}?kind=${k}`);
  };
  const id = props.projectId;
  const [leaveOut, setLeaveOut] = useState(false);
  const [defined, setDefined] = useState<boolean | null>(null);
  useEffect(() => {
    api<{ test_account_filters: unknown[] }>("GET", `/api/projects/${id}/settings`)
      .then((s) => setDefined(s.test_account_filters.length > 0))
      .catch(() => setDefined(null));
  }, [id]);
  const shared: LeaveOut = { projectId: id, on: leaveOut, defined, onChange: setLeaveOut };
  return (
    <div>
      <div class="tabs" role="tablist" aria-label="Insight kind">
        {KINDS.map(([k, text]) => (
          <button type="button" role="tab" aria-selected={kind === k} class={kind === k ? "tab on" : "tab"} key={k}
            onClick={() => choose(k)}>
            {text}
          </button>
        ))}
      </div>
      {kind === "trends" && <Trends projectId={id} names={names} leaveOut={shared} />}
      {kind === "funnel" && <Funnels projectId={id} names={names} leaveOut={shared} />}
      {kind === "retention" && <Retention projectId={id} names={names} leaveOut={shared} />}
      {kind === "paths" && <Paths projectId={id} leaveOut={shared} />}
      {(kind === "lifecycle" || kind === "stickiness") && <Activity projectId={id} names={names} kind={kind} key={kind} leaveOut={shared} />}
    </div>
  );
}

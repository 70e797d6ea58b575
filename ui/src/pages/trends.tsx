// The trends builder: series with their measures, a formula, the period before, a breakdown.
import type { ChartConfiguration } from "chart.js";
import { useMemo, useState } from "preact/hooks";
import { ChartView, downloadCsv } from "../chart";
import { BreakdownPicker, type Filter, FiltersEditor, OwnFilters, ready, splitFilters, useSeen } from "../filters";
import { ErrorNote } from "../layout";
import { bucketLabel, TrendNumbers, trendsChart, withCohortNames } from "../views";
import {
  EventPicker, field, INTERVALS, type LeaveOut, LeaveOutToggle, Persons, DateRangeField, type SavedInsight, SaveBar, useDateRange, Select, type Spec,
  useBreakdown, useFilters, useQuery,
} from "./builder";

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

/** One series of a trends chart as the builder holds it: the event, its math, and the
 * numeric property that a property math is of. */
/** A series as the form holds it; what else a saved series holds (filters the editor cannot
 * show, say) is kept as it was. */
interface SeriesDraft {
  event: string;
  math: string;
  property: string;
  filters: Filter[];
  kept: unknown[];
  rest: Spec;
}

function seriesDraft(series: Spec): SeriesDraft {
  const { event, math, math_property: property, filters, ...rest } = series;
  const split = splitFilters(Array.isArray(filters) ? filters : []);
  return {
    event: typeof event === "string" ? event : "",
    math: typeof math === "string" ? math : "total",
    property: typeof property === "string" ? property : "",
    filters: split.shown,
    kept: split.kept,
    rest,
  };
}

const letter = (i: number) => String.fromCharCode(65 + i);

function SeriesEditor(props: {
  projectId: number;
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
      <OwnFilters projectId={props.projectId} what={`series ${letter(props.index)}`} filters={s.filters}
        onChange={(filters) => props.onChange({ ...s, filters })} />
    </fieldset>
  );
}

export function Trends(props: { projectId: number; names: string[]; leaveOut: LeaveOut; saved?: SavedInsight }) {
  const saved = props.saved;
  const [series, setSeries] = useState<SeriesDraft[]>(() => field<Spec[]>(saved, "series", [{ event: "$pageview" }]).map(seriesDraft));
  const [formula, setFormula] = useState(() => field(saved, "formula", ""));
  const [compare, setCompare] = useState(() => field(saved, "compare", false));
  const range = useDateRange(saved, "-7d");
  const [interval, setInterval] = useState(() => field(saved, "interval", "day"));
  const [display, setDisplay] = useState(() => field(saved, "display", "line"));
  const filters = useFilters(saved);
  const breakdown = useBreakdown(props.projectId, saved);
  const [picked, setPicked] = useState<{ bucket: number; line: number } | null>(null);
  const properties = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=event`);
  const spec = {
    ...saved?.spec,
    kind: "trends",
    series: series.map((s) => ({
      ...s.rest,
      event: s.event || null,
      math: s.math,
      math_property: PROPERTY_MATHS.has(s.math) ? s.property.trim() || null : null,
      filters: [...s.kept, ...ready(s.filters)],
    })),
    interval,
    date_range: range.spec,
    filters: filters.spec,
    filter_test_accounts: props.leaveOut.on,
    ...breakdown.spec,
    compare,
    formula: series.length > 1 && formula.trim() ? formula.trim() : null,
    display,
  };
  // How it is drawn is saved with the insight but asks nothing new of the server.
  const { display: _drawn, ...question } = spec;
  const asked = useQuery<TrendsResult>(props.projectId, question);
  const { error, busy } = asked;
  const result = useMemo(() => withCohortNames(asked.result, breakdown.byCohort, breakdown.name), [asked.result, breakdown.byCohort, breakdown.name]);
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
          <SeriesEditor key={i} projectId={props.projectId} index={i} value={s} names={props.names} properties={properties} removable={series.length > 1}
            onChange={(t) => setOne(i, t)} />
        ))}
        {series.length < 5 && (
          <button type="button" class="ghost" onClick={() => setSeries([...series, seriesDraft({})])}>
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
        <DateRangeField id="trend-range" range={range} />
        <label class="check"><input type="checkbox" checked={compare} onChange={(e) => setCompare(e.currentTarget.checked)} /> Compare with the period before</label>
        <Select id="trend-interval" label="Interval" value={interval} options={INTERVALS.map((i) => [i, i[0].toUpperCase() + i.slice(1)])} onChange={setInterval} />
        <Select id="trend-display" label="Chart" value={display} options={[["line", "Line"], ["bar", "Bars"], ["number", "Number"]]} onChange={setDisplay} />
        <FiltersEditor projectId={props.projectId} filters={filters.filters} onChange={filters.setFilters} />
        <LeaveOutToggle {...props.leaveOut} />
        <BreakdownPicker projectId={props.projectId} value={breakdown.key} type={breakdown.type} cohortIds={breakdown.cohortIds} limit={breakdown.limit} onLimit={breakdown.setLimit}
          onChange={breakdown.set} onCohorts={breakdown.setCohortIds} />
      </form>
      <section class="card result" aria-busy={busy} aria-label="Trends result">
        <SaveBar projectId={props.projectId} spec={spec} kind="trends" saved={saved} />
        <ErrorNote error={error} />
        {result && display === "number" && <TrendNumbers result={result} />}
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
              line: breakdown.split ? { value: pickedLine.breakdown_value, is_other: pickedLine.is_other } : null,
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

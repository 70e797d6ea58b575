// The funnel builder: steps, window, order, exclusions, a breakdown, and the persons who
// reached or dropped before a step.
import type { ChartConfiguration } from "chart.js";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ChartView, downloadCsv, PALETTE } from "../chart";
import { BreakdownPicker, type Filter, FiltersEditor, OwnFilters, ready, splitFilters } from "../filters";
import { ErrorNote } from "../layout";
import { Correlation } from "./correlation";
import { bucketLabel, type FunnelPeriod, funnelLineName, funnelTrendChart, withCohortNames } from "../views";
import {
  EventPicker, field, type LeaveOut, LeaveOutToggle, Persons, DateRangeField, type SavedInsight, SaveBar, useDateRange, Select, type Spec, useBreakdown,
  useFilters, useQuery,
} from "./builder";

interface FunnelStep {
  label: string;
  count: number;
  conversion_from_first: number;
  conversion_from_previous: number;
  dropped: number;
  median_seconds: number | null;
  average_seconds: number | null;
}
interface HistogramBin {
  start_seconds: number;
  end_seconds: number;
  count: number;
}
interface FunnelLine {
  breakdown_value: string | null;
  is_other: boolean;
  name?: string;
  steps: FunnelStep[];
  histogram: HistogramBin[];
  periods?: FunnelPeriod[] | null;
}
interface FunnelResult {
  lines: FunnelLine[];
  over_time?: string | null;
}

const UNITS: [number, string][] = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];

/** A time in its largest unit and the next ("1 min 13 s", "2 d 5 h"), so that the edges of
 * neighbouring histogram bins read differently; under ten seconds, to a tenth. */
export function duration(seconds: number | null): string {
  if (seconds === null) return "–";
  if (seconds < 10) return `${Number(seconds.toFixed(1))} s`;
  const i = UNITS.findIndex(([size]) => seconds >= size);
  const [size, name] = UNITS[i];
  if (i === UNITS.length - 1) return `${Math.round(seconds)} s`;
  const [next, nextName] = UNITS[i + 1];
  const total = Math.round(seconds / next);
  const [whole, rest] = [Math.floor(total / (size / next)), total % (size / next)];
  return rest ? `${whole} ${name} ${rest} ${nextName}` : `${whole} ${name}`;
}

type Status = "converted" | "dropped" | "not_converted";

/** A step as the form holds it: its event, the filters the editor shows, and what else a
 * saved step holds (filters the editor cannot show, its name), kept as it was. */
interface StepDraft {
  event: string;
  filters: Filter[];
  kept: unknown[];
  rest: Spec;
}

function stepDraft(step: Spec): StepDraft {
  const { event, filters, ...rest } = step;
  const split = splitFilters(Array.isArray(filters) ? filters : []);
  return { event: typeof event === "string" ? event : "", filters: split.shown, kept: split.kept, rest };
}

function StepsTable(props: { line: FunnelLine; label: string; onOpen: (step: number, status: Status) => void }) {
  return (
    <table class="table numbers" data-testid="funnel-steps" aria-label={props.label}>
      <thead>
        <tr><th>Step</th><th>Persons</th><th>Conversion</th><th>Dropped</th><th>Median time</th><th>Average time</th></tr>
      </thead>
      <tbody>
        {props.line.steps.map((s, i) => (
          <tr key={i}>
            <td>{i + 1}. {s.label}</td>
            <td>
              <button type="button" class="link" aria-label={`Persons who reached step ${i + 1}`} onClick={() => props.onOpen(i, "converted")}
                disabled={s.count === 0}>
                {s.count.toLocaleString()}
              </button>
            </td>
            <td>{(s.conversion_from_first * 100).toFixed(1)} %</td>
            <td>
              {i === 0 ? "–" : (
                <button type="button" class="link" onClick={() => props.onOpen(i, "dropped")} disabled={s.dropped === 0}>
                  {s.dropped.toLocaleString()}
                </button>
              )}
            </td>
            <td>{i === 0 ? "–" : duration(s.median_seconds)}</td>
            <td>{i === 0 ? "–" : duration(s.average_seconds)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const binLabel = (b: HistogramBin) => {
  const [from, to] = [duration(b.start_seconds), duration(b.end_seconds)];
  return from === to ? from : `${from} – ${to}`;
};

/** How long those who reached the last step took from the first, as bars of persons: one
 * colour per line when broken down (the readable bins are the same for every line; equal
 * bins are each line's own, so a broken-down funnel shows them for its first line only). */
function TimeToConvert(props: {
  lines: FunnelLine[];
  split: boolean;
  scale: string;
  onScale: (scale: string) => void;
  // A bar: the persons of its line who took that long.
  onOpen: (line: FunnelLine, took: { from_seconds: number; to_seconds: number | null; label: string }) => void;
}) {
  const shared = props.split && props.scale === "steps";
  const lines = shared ? props.lines : props.lines.slice(0, 1);
  // Every bin any line has, in order of its start.
  const starts = useMemo(
    () => [...new Set(lines.flatMap((l) => l.histogram.map((b) => b.start_seconds)))].sort((a, b) => a - b),
    [props.lines, props.scale, props.split],
  );
  const config = useMemo<ChartConfiguration | null>(() => {
    if (starts.length === 0) return null;
    const bins = starts.map((start) => lines.flatMap((l) => l.histogram).find((b) => b.start_seconds === start)!);
    return {
      type: "bar",
      data: {
        labels: bins.map(binLabel),
        datasets: lines.map((l, i) => ({
          label: props.split ? funnelLineName(l) : "Persons",
          data: starts.map((start) => l.histogram.find((b) => b.start_seconds === start)?.count ?? 0),
          backgroundColor: PALETTE[i % PALETTE.length],
        })),
      },
      options: { plugins: { legend: { display: props.split } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    };
  }, [starts]);
  const pick = (index: number, dataset: number) => {
    const line = lines[dataset];
    const own = line?.histogram ?? [];
    const bin = own.find((b) => b.start_seconds === starts[index]);
    if (!line || !bin || bin.count === 0) return;
    // A line's last bin holds its longest times, the window's edge included: no end.
    const last = bin === own[own.length - 1];
    props.onOpen(line, { from_seconds: bin.start_seconds, to_seconds: last ? null : bin.end_seconds, label: binLabel(bin) });
  };
  return (
    <>
      <div class="result-head">
        <h2>Time to convert</h2>
        <div class="head-note">
          <span class="muted">from step 1 to the last step{props.split && !shared ? `, ${funnelLineName(lines[0])} only` : ""},</span>
          <select aria-label="Histogram bins" class="small" value={props.scale} onChange={(e) => props.onScale(e.currentTarget.value)}>
            <option value="steps">in steps (1 min, 5 min, 1 h…)</option>
            <option value="linear">in equal bins</option>
          </select>
        </div>
      </div>
      {config ? <ChartView config={config} label="Time to convert" onPick={pick} /> : <p class="muted">Nobody reached the last step yet.</p>}
    </>
  );
}

/** A funnel over time: a row per period, with how many started in it and, per line, how many
 * of them converted (either opens those persons). The last periods may still convert. */
function PeriodsTable(props: {
  lines: FunnelLine[];
  interval: string;
  split: boolean;
  onOpen: (step: number, line: FunnelLine, period: string, status: Status) => void;
}) {
  const periods = props.lines[0].periods ?? [];
  const last = props.lines[0].steps.length - 1;
  const named = (l: FunnelLine, p: FunnelPeriod) => `${props.split ? `${funnelLineName(l)}, ` : ""}${bucketLabel(p.start, props.interval)}`;
  const persons = (l: FunnelLine, i: number, step: number, what: string) => {
    const p = (l.periods ?? [])[i];
    return p.counts[step] > 0 ? (
      <button type="button" class="link" aria-label={`Persons who ${what} · ${named(l, p)}`} onClick={() => props.onOpen(step, l, p.start, "converted")}>
        {p.counts[step].toLocaleString()}
      </button>
    ) : "0";
  };
  // Those who started in the period and did not reach the last step, wherever they stopped.
  const stopped = (l: FunnelLine, i: number) => {
    const p = (l.periods ?? [])[i];
    const n = p.counts[0] - p.counts[last];
    return n > 0 ? (
      <button type="button" class="link" aria-label={`Persons who did not convert · ${named(l, p)}`} onClick={() => props.onOpen(last, l, p.start, "not_converted")}>
        {n.toLocaleString()}
      </button>
    ) : "0";
  };
  return (
    <div class="scroll">
      <table class="table numbers" data-testid="funnel-periods">
        <thead>
          {props.split ? (
            <tr><th>Period</th>{props.lines.map((l) => <th key={`${l.is_other}:${l.breakdown_value}`}>{funnelLineName(l)}</th>)}</tr>
          ) : (
            <tr><th>Period</th><th>Started</th><th>Converted</th><th>Did not convert</th><th>Conversion</th></tr>
          )}
        </thead>
        <tbody>
          {periods.map((p, i) => (
            <tr key={p.start} class={p.complete ? "" : "pending"}>
              <td class="nowrap">
                {bucketLabel(p.start, props.interval)}
                {!p.complete && <span class="hint inline" title="Some attempts of this period still have time to convert">still converting</span>}
              </td>
              {props.split
                ? props.lines.map((l) => {
                    const mine = (l.periods ?? [])[i];
                    return (
                      <td key={`${l.is_other}:${l.breakdown_value}`}>
                        {mine.counts[0] ? `${(mine.conversion * 100).toFixed(1)} % ` : "– "}
                        <span class="small-note">({persons(l, i, last, "converted")} of {persons(l, i, 0, "started")})</span>
                      </td>
                    );
                  })
                : (
                  <>
                    <td>{persons(props.lines[0], i, 0, "started")}</td>
                    <td>{persons(props.lines[0], i, last, "converted")}</td>
                    <td>{stopped(props.lines[0], i)}</td>
                    <td>{p.counts[0] ? `${(p.conversion * 100).toFixed(1)} %` : "–"}</td>
                  </>
                )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A broken-down funnel: a row per value, its persons at each step (and how many dropped
 * before it; either opens them), and its conversion from first to last step. */
function LinesTable(props: { lines: FunnelLine[]; by: string; onOpen: (step: number, line: FunnelLine, status: Status) => void }) {
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
                  {s.count > 0 ? (
                    <button type="button" class="link" aria-label={`Persons of ${funnelLineName(l)} who reached step ${i + 1}`}
                      onClick={() => props.onOpen(i, l, "converted")}>
                      {s.count.toLocaleString()}
                    </button>
                  ) : "0"}
                  {i > 0 && s.dropped > 0 && (
                    <>
                      {" "}
                      <button type="button" class="link small-note" onClick={() => props.onOpen(i, l, "dropped")}>
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

export function Funnels(props: { projectId: number; names: string[]; leaveOut: LeaveOut; saved?: SavedInsight }) {
  const saved = props.saved;
  const [steps, setSteps] = useState<StepDraft[]>(() => field<Spec[]>(saved, "steps", [{ event: "$pageview" }, {}]).map(stepDraft));
  // A new funnel's second step is the app's most seen event of its own (not a `$` one), once
  // the names are known and unless the steps were changed by then: page views followed by
  // "any event" would convert everyone.
  const changed = useRef(saved !== undefined);
  useEffect(() => {
    const own = props.names.find((n) => !n.startsWith("$"));
    if (changed.current || !own) return;
    changed.current = true;
    setSteps((now) => now.map((s, i) => (i === 1 ? { ...s, event: own } : s)));
  }, [props.names]);
  const [days, setDays] = useState(() => String(field(saved, "window", 14)));
  const [unit, setUnit] = useState(() => field(saved, "window_unit", "day"));
  const range = useDateRange(saved, "-30d");
  const [order, setOrder] = useState(() => field(saved, "order", "ordered"));
  const [scale, setScale] = useState(() => field(saved, "histogram_scale", "steps"));
  // "" for the steps, or the period of conversion over time.
  const [overTime, setOverTime] = useState(() => field<string | null>(saved, "over_time", null) ?? "");
  // Persons who reached or dropped before a step, of one breakdown line (the only one without)
  // and, over time, of one period.
  const [opened, setOpened] = useState<{
    step: number;
    line: FunnelLine;
    status: Status;
    period?: string;
    took?: { from_seconds: number; to_seconds: number | null; label: string };
  } | null>(null);
  const filters = useFilters(saved);
  const breakdown = useBreakdown(props.projectId, saved);
  const split = breakdown.split;
  // Events that break an attempt between two of its steps (counted from 1 here, 0 in the spec).
  const [exclusions, setExclusions] = useState<{ event: string; from: number; to: number }[]>(() =>
    field<{ event: string; from_step: number; to_step: number }[]>(saved, "exclusions", []).map((x) => ({
      event: x.event,
      from: x.from_step + 1,
      to: x.to_step + 1,
    })),
  );
  const last = steps.length;
  const kept = order === "unordered" ? [] : exclusions.filter((x) => x.event.trim() && x.from < x.to && x.to <= last);
  const funnel = {
    ...saved?.spec,
    filters: filters.spec,
    filter_test_accounts: props.leaveOut.on,
    kind: "funnel",
    steps: steps.map((s) => ({ ...s.rest, event: s.event || null, filters: [...s.kept, ...ready(s.filters)] })),
    window: Math.max(1, Math.round(Number(days)) || 1),
    window_unit: unit,
    order,
    date_range: range.spec,
    ...breakdown.spec,
    exclusions: kept.map((x) => ({ event: x.event.trim(), from_step: x.from - 1, to_step: x.to - 1 })),
    histogram_scale: scale,
    over_time: overTime || null,
  };
  const asked = useQuery<FunnelResult>(props.projectId, funnel);
  const { error, busy } = asked;
  const result = useMemo(() => withCohortNames(asked.result, breakdown.byCohort, breakdown.name), [asked.result, breakdown.byCohort, breakdown.name]);
  const setExclusion = (i: number, x: { event: string; from: number; to: number } | null) =>
    setExclusions(x === null ? exclusions.filter((_, j) => j !== i) : exclusions.map((y, j) => (j === i ? x : y)));
  const stepOptions = steps.map((_, i): [string, string] => [String(i + 1), `step ${i + 1}`]);
  const lines = result?.lines ?? [];
  const line = lines[0];

  const timed = Boolean(result?.over_time) && line?.periods != null;
  const config = useMemo<ChartConfiguration | null>(() => {
    if (!line) return null;
    if (result?.over_time && line.periods) return funnelTrendChart({ ...result });
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
  // A bar opens its persons: those who reached the step (a line's bar, or "Converted"), or
  // those who dropped before it.
  const pick = (step: number, dataset: number) => {
    if (timed) {
      // A point: the persons of that line who converted in that period.
      const l = lines[dataset];
      const p = l?.periods?.[step];
      if (l && p && p.counts[p.counts.length - 1] > 0) setOpened({ step: l.steps.length - 1, line: l, status: "converted", period: p.start });
      return;
    }
    if (split && lines[dataset]) setOpened({ step, line: lines[dataset], status: "converted" });
    else if (!split && dataset === 1 && line && step > 0) setOpened({ step, line, status: "dropped" });
    else if (!split && dataset === 0 && line) setOpened({ step, line, status: "converted" });
  };

  const edit = (next: StepDraft[]) => {
    changed.current = true;
    setSteps(next);
  };
  const setStep = (i: number, change: Partial<StepDraft>) => edit(steps.map((s, j) => (j === i ? { ...s, ...change } : s)));
  const csvOverTime = () =>
    downloadCsv("funnel.csv", [
      [...(split ? [breakdown.title] : []), "period", ...(line?.steps ?? []).map((s, i) => `${i + 1}. ${s.label}`), "conversion", "complete"],
      ...lines.flatMap((l) =>
        (l.periods ?? []).map((p) => [...(split ? [funnelLineName(l)] : []), p.start, ...p.counts, p.conversion, p.complete ? "yes" : "no"]),
      ),
    ]);
  const csv = () =>
    line &&
    (timed ? csvOverTime() :
    downloadCsv("funnel.csv", [
      [...(split ? [breakdown.title] : []), "step", "persons", "conversion from first", "conversion from previous", "dropped", "median seconds", "average seconds"],
      ...lines.flatMap((l) =>
        l.steps.map((s, i) => [
          ...(split ? [funnelLineName(l)] : []),
          `${i + 1}. ${s.label}`, s.count, s.conversion_from_first, s.conversion_from_previous, s.dropped, s.median_seconds ?? "", s.average_seconds ?? "",
        ]),
      ),
    ]));

  return (
    <div class="builder">
      <form class="card stack controls" onSubmit={(e) => e.preventDefault()} aria-label="Funnel settings">
        {steps.map((s, i) => (
          <div class="step" key={i}>
            <div class="step-row">
              <EventPicker id={`funnel-step-${i + 1}`} label={`Step ${i + 1}`} value={s.event} names={props.names} onChange={(event) => setStep(i, { event })} />
              {steps.length > 2 && (
                <button type="button" class="ghost small" aria-label={`Remove step ${i + 1}`} onClick={() => edit(steps.filter((_, j) => j !== i))}>×</button>
              )}
            </div>
            <OwnFilters projectId={props.projectId} what={`step ${i + 1}`} filters={s.filters} onChange={(filters) => setStep(i, { filters })} />
          </div>
        ))}
        {steps.length < 20 && (
          <button type="button" class="ghost" onClick={() => edit([...steps, stepDraft({})])}>Add step</button>
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
        <DateRangeField id="funnel-range" range={range} />
        <Select id="funnel-view" label="Show" value={overTime}
          options={[["", "Steps"], ["hour", "Conversion per hour"], ["day", "Conversion per day"], ["week", "Conversion per week"], ["month", "Conversion per month"]]}
          onChange={(v) => (setOverTime(v), setOpened(null))} />
        <FiltersEditor projectId={props.projectId} filters={filters.filters} onChange={filters.setFilters} />
        <LeaveOutToggle {...props.leaveOut} />
        <BreakdownPicker projectId={props.projectId} value={breakdown.key} type={breakdown.type} cohortIds={breakdown.cohortIds} limit={breakdown.limit} onLimit={breakdown.setLimit}
          onChange={(key, type) => (breakdown.set(key, type), setOpened(null))}
          onCohorts={(ids) => (breakdown.setCohortIds(ids), setOpened(null))} />
      </form>
      <div class="stack">
        <section class="card result" aria-busy={busy} aria-label="Funnel result">
          <SaveBar projectId={props.projectId} spec={funnel} kind="funnel" saved={saved} />
          <ErrorNote error={error} />
          {config && <ChartView config={config} label="Funnel chart" onPick={pick} />}
          {line && (
            <div class="result-head">
              <h2>{timed ? "Conversion over time" : "Steps"}</h2>
              <div class="head-note">
                {timed && <span class="muted">from step 1 to the last, by when each person's attempt started</span>}
                <button type="button" class="ghost small" onClick={csv}>Export CSV</button>
              </div>
            </div>
          )}
          {timed
            ? <PeriodsTable lines={lines} interval={String(result?.over_time)} split={split}
                onOpen={(step, l, period, status) => setOpened({ step, line: l, status, period })} />
            : split
            ? line && <LinesTable lines={lines} by={breakdown.title} onOpen={(step, l, status) => setOpened({ step, line: l, status })} />
            : line && <StepsTable line={line} label="Steps" onOpen={(step, status) => setOpened({ step, line, status })} />}
          {!timed && line && (
            <TimeToConvert lines={lines} split={split} scale={scale} onScale={setScale}
              onOpen={(l, took) => setOpened({ step: l.steps.length - 1, line: l, status: "converted", took })} />
          )}
        </section>
        {!timed && line && line.steps[0].count > 0 && (
          <Correlation projectId={props.projectId} funnel={funnel}
            lines={split ? lines.map((l) => ({ value: l.breakdown_value, is_other: l.is_other, name: funnelLineName(l) })) : []} />
        )}
        {opened !== null && (
          <Persons projectId={props.projectId}
            title={`${opened.status === "not_converted" ? "Did not reach" : opened.status === "dropped" ? "Dropped before" : "Reached"} step ${opened.step + 1}${split ? ` · ${funnelLineName(opened.line)}` : ""}${
              opened.period ? ` · started ${bucketLabel(opened.period, overTime || "day")}` : ""}${
              opened.took ? ` · took ${opened.took.label}` : ""}`}
            spec={{
              kind: "funnel_persons",
              funnel,
              step: opened.step,
              status: opened.status,
              line: split ? { value: opened.line.breakdown_value, is_other: opened.line.is_other } : null,
              period: opened.period ?? null,
              converted_in: opened.took ? { from_seconds: opened.took.from_seconds, to_seconds: opened.took.to_seconds } : null,
            }}
            onClose={() => setOpened(null)} />
        )}
      </div>
    </div>
  );
}

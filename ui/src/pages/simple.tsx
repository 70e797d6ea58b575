// Retention, paths, lifecycle and stickiness: a spec form beside the view a dashboard tile
// draws, with the persons behind its numbers.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { downloadCsv } from "../chart";
import { BreakdownPicker, CohortPicks, FiltersEditor } from "../filters";
import { api } from "../api";
import { ErrorNote, message, useRole } from "../layout";
import { bucketLabel, csvRows, type Edge, funnelLineName, InsightView, type LineRef, RetentionCurve, withCohortNames } from "../views";
import {
  EventPicker, field, INTERVALS, type LeaveOut, LeaveOutToggle, Persons, DateRangeField, type SavedInsight, SaveBar, useDateRange, Select,
  useBreakdown, useEditableSettings, useFilters, useQuery,
} from "./builder";

function Simple(props: {
  projectId: number;
  kind: string;
  spec: object;
  label: string;
  saved?: SavedInsight;
  children: ComponentChildren;
  persons?: (cohort: number, period: number, line: LineRef | null) => { spec: object; title: string };
  edgePersons?: (edge: Edge) => { spec: object; title: string };
  // The persons behind a chart's bar, and behind a number of its table (row, column from 0).
  picked?: (index: number, dataset: number, result: Record<string, unknown>) => { spec: object; title: string };
  // Bumped when something the spec does not show changed (the project's page groups).
  generation?: number;
  // The result as shown (its cohort lines named).
  shown?: (result: Record<string, unknown>) => Record<string, unknown>;
}) {
  const asked = useQuery<Record<string, unknown>>(props.projectId, props.spec, props.generation);
  const { error, busy } = asked;
  const { shown } = props;
  const result = useMemo(() => (asked.result && shown ? shown(asked.result) : asked.result), [asked.result, shown]);
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
        <SaveBar projectId={props.projectId} spec={props.spec} kind={props.kind} saved={props.saved} />
        <ErrorNote error={error} />
        {result && (
          <>
            <div class="result-head first">
              <h2>{props.label}</h2>
              <button type="button" class="ghost small" onClick={() => downloadCsv(`${props.kind}.csv`, csvRows(result))}>
                Export CSV
              </button>
            </div>
            {props.kind === "retention" && <RetentionCurve result={result} />}
            <InsightView result={result} label={props.label}
              onCell={props.persons ? (c, p, line) => setCell(props.persons!(c, p, line)) : undefined}
              onEdge={props.edgePersons ? (e) => setCell(props.edgePersons!(e)) : undefined}
              onPick={props.picked ? (i, d) => setCell(props.picked!(i, d, result)) : undefined} />
            {props.picked && (
              <NumbersTable rows={csvRows(result)} interval={String(result.interval ?? "day")} kind={props.kind} onPick={(i, d) => setCell(props.picked!(i, d, result))} />
            )}
          </>
        )}
        {cell && <Persons projectId={props.projectId} spec={cell.spec} title={cell.title} onClose={() => setCell(null)} />}
      </section>
    </div>
  );
}

/** A CSV column's name as a table heads it: the first column by what its rows are. */
function heading(name: string, column: number, props: { interval: string; kind: string }): string {
  const capital = (s: string) => s[0].toUpperCase() + s.slice(1);
  if (column === 0 && name === "intervals") return `${capital(props.interval)}s active`;
  if (column === 0 && name === "bucket") return capital(props.interval);
  // Lifecycle's columns are its statuses; stickiness's are series, named as they were.
  return column === 0 || props.kind === "lifecycle" ? capital(name) : name;
}

/** A result's rows as a table whose numbers (but zeros) open the persons behind them. */
function NumbersTable(props: { rows: (string | number)[][]; interval: string; kind: string; onPick: (row: number, column: number) => void }) {
  const [head, ...body] = props.rows;
  // A row named by a bucket's start is named by its date, as the chart's axis.
  const name = (v: string | number) => (typeof v === "string" && /^\d{4}-\d\d-\d\d/.test(v) ? bucketLabel(v, props.interval) : String(v));
  if (!head) return null;
  return (
    <div class="scroll tall-scroll">
      <table class="table numbers" data-testid="numbers">
        <thead><tr>{head.map((h, i) => <th key={h}>{heading(String(h), i, props)}</th>)}</tr></thead>
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

type Ref = { event?: string | null } | null;

export function Retention(props: { projectId: number; names: string[]; leaveOut: LeaveOut; saved?: SavedInsight }) {
  const saved = props.saved;
  const [start, setStart] = useState(() => field<Ref>(saved, "start", { event: "$pageview" })?.event ?? "");
  const [back, setBack] = useState(() => field<Ref>(saved, "returning", null)?.event ?? "");
  const [period, setPeriod] = useState(() => field(saved, "period", "week"));
  const [periods, setPeriods] = useState(() => String(field(saved, "periods", 8)));
  const [type, setType] = useState(() => field(saved, "type", "recurring"));
  // A table per value of a person property (the first choice: retention is about persons), of
  // the start event's property, or per cohort.
  const breakdown = useBreakdown(props.projectId, saved, "person");
  const filters = useFilters(saved);
  const spec = {
    ...saved?.spec,
    kind: "retention",
    filters: filters.spec,
    // A saved event's own filters stay with it.
    start: { ...field<Ref>(saved, "start", {}), event: start || null },
    returning: back ? { ...field<Ref>(saved, "returning", {}), event: back } : null,
    period,
    periods: Math.max(1, Math.min(60, Number(periods) || 8)),
    type,
    filter_test_accounts: props.leaveOut.on,
    ...breakdown.spec,
  };
  const shown = useCallback((result: Record<string, unknown>) => withCohortNames(result, breakdown.byCohort, breakdown.name), [breakdown.byCohort, breakdown.name]);
  const lineName = (line: LineRef) =>
    (breakdown.byCohort && breakdown.name(line.value)) || funnelLineName({ breakdown_value: line.value, is_other: line.is_other });
  return (
    <Simple projectId={props.projectId} kind="retention" spec={spec} label="Retention" saved={saved}
      shown={shown}
      persons={(cohort, later, line) => ({
        spec: { kind: "retention_persons", retention: spec, cohort, period: later, line },
        title: `Cohort ${cohort + 1}, ${period} ${later}${line ? ` · ${lineName(line)}` : ""}`,
      })}>
      <EventPicker id="ret-start" label="Starting event" value={start} names={props.names} onChange={setStart} />
      <EventPicker id="ret-back" label="Coming back with (empty: the same)" value={back} names={props.names} onChange={setBack} />
      <Select id="ret-period" label="Period" value={period} options={[["day", "Day"], ["week", "Week"], ["month", "Month"]]} onChange={setPeriod} />
      <div class="field">
        <label for="ret-periods">Periods</label>
        <input id="ret-periods" type="number" min={1} max={60} value={periods} onInput={(e) => setPeriods(e.currentTarget.value)} />
      </div>
      <Select id="ret-type" label="Cohorts" value={type} options={[["recurring", "Did it in the period"], ["first_time", "Did it for the first time"]]} onChange={setType} />
      <FiltersEditor projectId={props.projectId} filters={filters.filters} onChange={filters.setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
      <BreakdownPicker projectId={props.projectId} value={breakdown.key} type={breakdown.type} cohortIds={breakdown.cohortIds} limit={breakdown.limit}
        onLimit={breakdown.setLimit} onChange={breakdown.set} onCohorts={breakdown.setCohortIds} />
    </Simple>
  );
}

export type Rule = { regex: string; alias: string };

/** Rules that name pages alike: every match of a pattern in a page's path replaced. */
export function GroupPages(props: { rules: Rule[]; onChange: (rules: Rule[]) => void }) {
  const set = (i: number, rule: Rule | null) =>
    props.onChange(rule === null ? props.rules.filter((_, j) => j !== i) : props.rules.map((r, j) => (j === i ? rule : r)));
  return (
    <fieldset class="group-pages" aria-label="Group pages">
      <legend>Group pages</legend>
      <span class="hint">Pages whose path matches a pattern (a regular expression) are one page, named as given: <code>/product/\d+</code> as <code>/product/:id</code>.</span>
      {props.rules.map((r, i) => (
        <div class="rule-row" role="group" aria-label={`Rule ${i + 1}`} key={i}>
          <input aria-label="Pattern" placeholder="/product/\d+" value={r.regex} onInput={(e) => set(i, { ...r, regex: e.currentTarget.value })} />
          <span class="muted">as</span>
          <input aria-label="Shown as" placeholder="/product/:id" value={r.alias} onInput={(e) => set(i, { ...r, alias: e.currentTarget.value })} />
          <button type="button" class="ghost small" aria-label={`Remove rule ${i + 1}`} onClick={() => set(i, null)}>×</button>
        </div>
      ))}
      {props.rules.length < 20 && (
        <button type="button" class="ghost small" onClick={() => props.onChange([...props.rules, { regex: "", alias: "" }])}>Add a rule</button>
      )}
    </fieldset>
  );
}

/** The switch for the project's own page groups (Settings), with the groups it applies. */
function ProjectGroups(props: { projectId: number; on: boolean; onChange: (on: boolean) => void; onSaved: () => void }) {
  const [settings, setSettings] = useEditableSettings<{ path_cleaning: Rule[] }>(props.projectId);
  const groups = settings?.path_cleaning ?? null;
  const admin = useRole(props.projectId) === "admin";
  // The rules as edited here, while the editor is open.
  const [editing, setEditing] = useState<Rule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setError(null);
    try {
      const saved = await api<{ path_cleaning: Rule[] }>("PATCH", `/api/projects/${props.projectId}/settings`, {
        path_cleaning: (editing ?? []).filter((r) => r.regex),
      });
      setSettings(saved);
      setEditing(null);
      props.onSaved();
    } catch (err) {
      setError(message(err));
    }
  };
  const settingsLink = <a href={`/projects/${props.projectId}/settings`}>Settings</a>;
  return (
    <div>
      <label class="check">
        <input type="checkbox" checked={props.on} onChange={(e) => props.onChange(e.currentTarget.checked)} /> First, the project's page groups
      </label>
      {groups !== null && editing === null && (
        <span class="hint" data-testid="project-groups">
          {groups.length === 0 ? <>None are defined yet: see {settingsLink}.</> : (
            <>
              {groups.slice(0, 5).map((g, i) => (
                <span key={i} class="group-line"><code>{g.regex}</code> as <code>{g.alias}</code></span>
              ))}
              {groups.length > 5 && ` and ${groups.length - 5} more`} ({settingsLink})
            </>
          )}
        </span>
      )}
      {groups !== null && admin && editing === null && (
        <button type="button" class="ghost small" onClick={() => setEditing(groups)}>Edit the project's page groups</button>
      )}
      {editing !== null && (
        <div class="card stack project-groups-editor" role="group" aria-label="The project's page groups">
          <GroupPages rules={editing} onChange={setEditing} />
          <span class="hint">Every paths insight of the project applies these first, unless it turns them off.</span>
          <ErrorNote error={error} />
          <div class="row-buttons">
            <button type="button" class="primary small" onClick={() => void save()}>Save for the project</button>
            <button type="button" class="ghost small" onClick={() => (setEditing(null), setError(null))}>Cancel</button>
          </div>
        </div>
      )}
    </div>
  );
}

export function Paths(props: { projectId: number; leaveOut: LeaveOut; saved?: SavedInsight }) {
  const saved = props.saved;
  const [start, setStart] = useState(() => field(saved, "start_point", ""));
  const [end, setEnd] = useState(() => field(saved, "end_point", ""));
  const [steps, setSteps] = useState(() => String(field(saved, "steps", 5)));
  const [cap, setCap] = useState(() => String(field(saved, "max_nodes_per_step", 10)));
  const [least, setLeast] = useState(() => String(field(saved, "min_edge_weight", 1)));
  const [custom, setCustom] = useState(() => field<string[]>(saved, "include", []).includes("custom"));
  const [rules, setRules] = useState(() => field<Rule[]>(saved, "path_cleaning", []));
  const [projectRules, setProjectRules] = useState(() => field(saved, "project_path_cleaning", true));
  // Bumped when the project's page groups are saved here, to ask again.
  const [groupsSaved, setGroupsSaved] = useState(0);
  const [leftOut, setLeftOut] = useState(() => field<string[]>(saved, "exclude", []).join("\n"));
  const range = useDateRange(saved, "-7d");
  const filters = useFilters(saved);
  const spec = {
    ...saved?.spec,
    kind: "paths",
    filters: filters.spec,
    include: custom ? ["pageview", "custom"] : ["pageview"],
    start_point: start || null,
    end_point: end || null,
    steps: Math.max(2, Math.min(20, Number(steps) || 5)),
    max_nodes_per_step: Math.max(1, Math.min(100, Number(cap) || 10)),
    min_edge_weight: Math.max(1, Number(least) || 1),
    date_range: range.spec,
    filter_test_accounts: props.leaveOut.on,
    path_cleaning: rules.filter((r) => r.regex),
    project_path_cleaning: projectRules,
    exclude: leftOut.split("\n").map((l) => l.trim()).filter(Boolean),
  };
  return (
    <Simple projectId={props.projectId} kind="paths" spec={spec} label="Paths" saved={saved} generation={groupsSaved}
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
      <GroupPages rules={rules} onChange={setRules} />
      <ProjectGroups projectId={props.projectId} on={projectRules} onChange={setProjectRules} onSaved={() => setGroupsSaved((n) => n + 1)} />
      <div class="field">
        <label for="paths-exclude">Leave out (one page or event a line)</label>
        <textarea id="paths-exclude" rows={2} placeholder="/login" value={leftOut} onInput={(e) => setLeftOut(e.currentTarget.value)} />
        <span class="hint">Paths go on past them, as if they were not there.</span>
      </div>
      <DateRangeField id="paths-range" range={range} />
      <FiltersEditor projectId={props.projectId} filters={filters.filters} onChange={filters.setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
    </Simple>
  );
}

export function Activity(props: { projectId: number; names: string[]; kind: "lifecycle" | "stickiness"; leaveOut: LeaveOut; saved?: SavedInsight }) {
  const saved = props.saved;
  const [event, setEvent] = useState(() =>
    (props.kind === "lifecycle" ? field<Ref>(saved, "event", { event: "$pageview" }) : field<Ref[]>(saved, "series", [{ event: "$pageview" }])[0])?.event ?? "",
  );
  const [interval, setInterval] = useState(() => field(saved, "interval", "day"));
  const range = useDateRange(saved, "-30d");
  const filters = useFilters(saved);
  // What the builder does not show stays as saved: the event's filters, further series.
  const savedSeries = field<Ref[]>(saved, "series", []);
  const first = props.kind === "lifecycle" ? field<Ref>(saved, "event", {}) : savedSeries[0];
  const ref = { ...first, event: event || null };
  const common = {
    ...saved?.spec,
    interval,
    date_range: range.spec,
    filters: filters.spec,
    filter_test_accounts: props.leaveOut.on,
  };
  // A line per saved cohort ticked (stickiness), or a lifecycle per cohort, one shown at a time.
  const breakdown = useBreakdown(props.projectId, saved);
  const byCohort = breakdown.cohortIds.length > 0;
  const cohorts = breakdown.cohortIds.map((id) => ({ type: "cohort", cohort_id: id }));
  const [of, setOf] = useState("");
  const cohortOf = props.kind === "lifecycle" && breakdown.cohortIds.some((id) => String(id) === of) ? of : null;
  const spec =
    props.kind === "lifecycle"
      ? { ...common, kind: "lifecycle", event: ref, breakdown_cohorts: cohorts }
      : { ...common, kind: "stickiness", series: [ref, ...savedSeries.slice(1)], breakdown_cohorts: cohorts };
  type Line = { series?: number; breakdown_value?: string | null; label?: string };
  const shown = useCallback(
    (result: Record<string, unknown>) => {
      if (props.kind === "stickiness") return withCohortNames(result, byCohort, breakdown.name);
      // The lifecycle of the cohort chosen, in place of everyone's.
      const line = ((result.lines as Line[] | null | undefined) ?? []).find((l) => l.breakdown_value === cohortOf);
      return line ? { ...result, ...line } : result;
    },
    [props.kind, byCohort, breakdown.name, cohortOf],
  );
  const ofWhom = cohortOf === null ? "" : ` · ${breakdown.name(cohortOf) ?? ""}`;
  const lifecycleLine = cohortOf === null ? {} : { line: { value: cohortOf, is_other: false } };
  const label = props.kind === "lifecycle" ? "Lifecycle" : "Stickiness";
  const statuses = ["new", "returning", "resurrecting", "dormant"];
  const picked = (index: number, dataset: number, result: Record<string, unknown>) =>
    props.kind === "lifecycle"
      ? {
          spec: { kind: "lifecycle_persons", lifecycle: spec, bucket: index, status: statuses[dataset], ...lifecycleLine },
          title: `${statuses[dataset][0].toUpperCase()}${statuses[dataset].slice(1)} on ${bucketLabel(String((result.buckets as string[])[index]), interval)}${ofWhom}`,
        }
      : (() => {
          // A chart's dataset (a table's column) is a line: its series, and its cohort's.
          const line = ((result.series as Line[] | undefined) ?? [])[dataset] ?? {};
          const cohort = byCohort ? { line: { value: line.breakdown_value ?? null, is_other: false } } : {};
          return {
            spec: { kind: "stickiness_persons", stickiness: spec, series: line.series ?? dataset, intervals: index + 1, ...cohort },
            title: `Active on ${index + 1} ${interval}${index ? "s" : ""}${byCohort ? ` · ${breakdown.name(line.breakdown_value ?? null) ?? ""}` : ""}`,
          };
        })();
  return (
    <Simple projectId={props.projectId} kind={props.kind} spec={spec} label={label} picked={picked} saved={saved} shown={shown}>
      <EventPicker id={`${props.kind}-event`} label="Event" value={event} names={props.names} onChange={setEvent} />
      <Select id={`${props.kind}-interval`} label="Interval" value={interval} options={INTERVALS.map((i) => [i, i[0].toUpperCase() + i.slice(1)])} onChange={setInterval} />
      <DateRangeField id={`${props.kind}-range`} range={range} />
      <FiltersEditor projectId={props.projectId} filters={filters.filters} onChange={filters.setFilters} />
      <LeaveOutToggle {...props.leaveOut} />
      <div class="field">
        <span class="label">Break down by cohorts</span>
        <CohortPicks projectId={props.projectId} cohortIds={breakdown.cohortIds} onChange={breakdown.setCohortIds} />
      </div>
      {props.kind === "lifecycle" && byCohort && (
        <Select id="lifecycle-of" label="Lifecycle of" value={cohortOf ?? ""}
          options={[["", "Everyone"], ...breakdown.cohortIds.map((id): [string, string] => [String(id), breakdown.name(String(id)) ?? `Cohort ${id}`])]}
          onChange={setOf} />
      )}
    </Simple>
  );
}

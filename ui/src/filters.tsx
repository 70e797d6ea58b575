// Property and cohort filters, and breakdowns, with the property names and values the project
// has seen and its saved cohorts.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api";

export interface PropertyFilter {
  key: string;
  type: "event" | "person";
  operator: string;
  value: string | number | null;
}
/** The event's person is (or, `negate`, is not) in a saved cohort. */
export interface CohortRef {
  type: "cohort";
  cohort_id: number;
  negate: boolean;
}
export type Filter = PropertyFilter | CohortRef;

export interface SavedCohort {
  id: number;
  name: string;
  description: string;
  definition: Record<string, unknown>;
  updated_at: string;
}

/** The project's saved cohorts (none until they are in). */
export function useCohorts(projectId: number): SavedCohort[] {
  const [cohorts, setCohorts] = useState<SavedCohort[]>([]);
  useEffect(() => {
    api<SavedCohort[]>("GET", `/api/projects/${projectId}/cohorts`)
      .then(setCohorts)
      .catch(() => setCohorts([]));
  }, [projectId]);
  return cohorts;
}

/** A cohort's name by its id as a breakdown line gives it (the id itself for one since
 * deleted). */
export function cohortNamer(cohorts: SavedCohort[]): (value: string | null) => string | null {
  const names = new Map(cohorts.map((c) => [String(c.id), c.name]));
  return (value) => (value === null ? null : names.get(value) ?? `Cohort ${value}`);
}

export const OPERATORS: [string, string][] = [
  ["exact", "equals"],
  ["is_not", "does not equal"],
  ["contains", "contains"],
  ["not_contains", "does not contain"],
  ["regex", "matches regex"],
  ["gt", "greater than"],
  ["lt", "less than"],
  ["is_set", "is set"],
  ["is_not_set", "is not set"],
];

/** A stored filter (from an API that takes groups, inline cohorts and lists too) this editor
 * can show: one property, an operator it offers, and one value; or a saved cohort. */
export function editable(f: unknown): f is Filter {
  if (!f || typeof f !== "object") return false;
  const g = f as Record<string, unknown>;
  if (g.type === "cohort") return typeof g.cohort_id === "number" && (g.definition === null || g.definition === undefined);
  return typeof g.key === "string" && (g.type === "event" || g.type === "person") &&
    OPERATORS.some(([op]) => op === g.operator) && (g.value === null || g.value === undefined || typeof g.value !== "object");
}

/** Names (of events, properties or values) the API lists at `url`; none while `url` is null. */
export function useSeen(url: string | null): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!url) return setNames([]);
    api<{ name: string }[]>("GET", url)
      .then((seen) => setNames(seen.map((s) => s.name)))
      .catch(() => setNames([]));
  }, [url]);
  return names;
}

/** A text filter with the values the project has seen offered as you type. */
export function Suggest(props: { id: string; label: string; value: string; placeholder: string; seen: string[]; onChange: (v: string) => void }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} value={props.value} placeholder={props.placeholder} list={`${props.id}-seen`}
        onInput={(e) => props.onChange(e.currentTarget.value)} />
      <datalist id={`${props.id}-seen`}>{props.seen.map((v) => <option value={v} key={v} />)}</datalist>
    </div>
  );
}

/** Stored filters: those the editor shows (ready to edit), and the others (groups, inline
 * cohort definitions, lists), which are kept as they are. */
export function splitFilters(all: unknown[]): { shown: Filter[]; kept: unknown[] } {
  return {
    shown: all.filter(editable).map((f) => (f.type === "cohort" ? f : { ...f, value: f.value ?? "" })),
    kept: all.filter((f) => !editable(f)),
  };
}

/** A filter as the API takes it: numbers for gt/lt, no value for (not) set; cohort filters
 * once a cohort is chosen. */
export function ready(filters: Filter[]): object[] {
  return filters
    .filter((f) => (f.type === "cohort" ? f.cohort_id > 0 : f.key.trim()))
    .map((f) => {
      if (f.type === "cohort") return { type: "cohort", cohort_id: f.cohort_id, negate: f.negate };
      if (f.operator === "is_set" || f.operator === "is_not_set") return { key: f.key, type: f.type, operator: f.operator };
      const value = f.operator === "gt" || f.operator === "lt" ? Number(f.value) || 0 : String(f.value ?? "");
      return { key: f.key, type: f.type, operator: f.operator, value };
    });
}

/** What a filter becomes when its kind changes: a property filter keeps its key and operator
 * between event and person; a cohort filter starts on the first cohort. */
function retyped(f: Filter, type: string, cohorts: SavedCohort[]): Filter {
  if (type === "cohort") return f.type === "cohort" ? f : { type: "cohort", cohort_id: cohorts[0]?.id ?? 0, negate: false };
  const kind = type as "event" | "person";
  return f.type === "cohort" ? { key: "", type: kind, operator: "exact", value: "" } : { ...f, type: kind };
}

function KindSelect(props: { filter: Filter; cohorts: SavedCohort[]; onChange: (f: Filter) => void }) {
  return (
    <select aria-label="Property of" value={props.filter.type}
      onChange={(e) => props.onChange(retyped(props.filter, e.currentTarget.value, props.cohorts))}>
      <option value="event">Event</option>
      <option value="person">Person</option>
      <option value="cohort">Cohort</option>
    </select>
  );
}

/** What a filter row is called: "Filter 2", or "Step 1 filter 2" in a step's own filters. */
const rowName = (noun: string, index: number) => `${noun[0].toUpperCase()}${noun.slice(1)} ${index + 1}`;

function CohortRow(props: { index: number; noun: string; filter: CohortRef; cohorts: SavedCohort[]; onChange: (f: Filter | null) => void }) {
  const f = props.filter;
  return (
    <fieldset class="filter" aria-label={rowName(props.noun, props.index)}>
      <div class="filter-line">
        <KindSelect filter={f} cohorts={props.cohorts} onChange={props.onChange} />
        <select aria-label="In or not in" value={f.negate ? "out" : "in"} onChange={(e) => props.onChange({ ...f, negate: e.currentTarget.value === "out" })}>
          <option value="in">in</option>
          <option value="out">not in</option>
        </select>
        <button type="button" class="ghost small" aria-label={`Remove ${props.noun} ${props.index + 1}`} onClick={() => props.onChange(null)}>×</button>
      </div>
      <div class="filter-line">
        {props.cohorts.length === 0 ? (
          <span class="hint">No cohorts yet: make one on the Cohorts page.</span>
        ) : (
          <select class="grow" aria-label="Cohort" value={String(f.cohort_id)} onChange={(e) => props.onChange({ ...f, cohort_id: Number(e.currentTarget.value) })}>
            {!props.cohorts.some((c) => c.id === f.cohort_id) && <option value={String(f.cohort_id)}>Cohort {f.cohort_id}</option>}
            {props.cohorts.map((c) => <option value={String(c.id)} key={c.id}>{c.name}</option>)}
          </select>
        )}
      </div>
    </fieldset>
  );
}

function FilterRow(props: {
  projectId: number;
  index: number;
  noun: string;
  filter: Filter;
  cohorts: SavedCohort[];
  onChange: (f: Filter | null) => void;
}) {
  const f = props.filter;
  const id = `${props.noun.replace(/\W+/g, "-")}-${props.index}`;
  const type = f.type === "cohort" ? "event" : f.type;
  const key = f.type === "cohort" ? "" : f.key;
  const keys = useSeen(f.type === "cohort" ? null : `/api/projects/${props.projectId}/catalog/properties?type=${type}`);
  const values = useSeen(key ? `/api/projects/${props.projectId}/catalog/values?${new URLSearchParams({ key, type })}` : null);
  if (f.type === "cohort") return <CohortRow index={props.index} noun={props.noun} filter={f} cohorts={props.cohorts} onChange={props.onChange} />;
  const noValue = f.operator === "is_set" || f.operator === "is_not_set";
  return (
    <fieldset class="filter" aria-label={rowName(props.noun, props.index)}>
      <div class="filter-line">
        <KindSelect filter={f} cohorts={props.cohorts} onChange={props.onChange} />
        <input aria-label="Property" list={`${id}-keys`} placeholder="property" value={f.key}
          onInput={(e) => props.onChange({ ...f, key: e.currentTarget.value })} />
        <datalist id={`${id}-keys`}>{keys.map((k) => <option value={k} key={k} />)}</datalist>
        <button type="button" class="ghost small" aria-label={`Remove ${props.noun} ${props.index + 1}`} onClick={() => props.onChange(null)}>×</button>
      </div>
      <div class="filter-line">
        <select aria-label="Operator" value={f.operator} onChange={(e) => props.onChange({ ...f, operator: e.currentTarget.value })}>
          {OPERATORS.map(([v, t]) => <option value={v} key={v}>{t}</option>)}
        </select>
        {!noValue && (
          <>
            <input aria-label="Value" list={`${id}-values`} value={f.value ?? ""}
              onInput={(e) => props.onChange({ ...f, value: e.currentTarget.value })} />
            <datalist id={`${id}-values`}>{values.map((v) => <option value={v} key={v} />)}</datalist>
          </>
        )}
      </div>
    </fieldset>
  );
}

const BLANK_FILTER: Filter = { key: "", type: "event", operator: "exact", value: "" };

/** Filters, all of which must hold. */
export function FiltersEditor(props: { projectId: number; filters: Filter[]; onChange: (f: Filter[]) => void }) {
  const cohorts = useCohorts(props.projectId);
  return (
    <div class="stack filters-editor">
      <span class="label">Filters {props.filters.length > 1 && <span class="hint inline">all must hold</span>}</span>
      <FilterRows projectId={props.projectId} noun="filter" filters={props.filters} cohorts={cohorts} onChange={props.onChange} />
      <button type="button" class="ghost" onClick={() => props.onChange([...props.filters, BLANK_FILTER])}>
        Add filter
      </button>
    </div>
  );
}

function FilterRows(props: { projectId: number; noun: string; filters: Filter[]; cohorts: SavedCohort[]; onChange: (f: Filter[]) => void }) {
  const set = (i: number, f: Filter | null) =>
    props.onChange(f === null ? props.filters.filter((_, j) => j !== i) : props.filters.map((g, j) => (j === i ? f : g)));
  return (
    <>
      {props.filters.map((f, i) => (
        <FilterRow key={i} projectId={props.projectId} index={i} noun={props.noun} filter={f} cohorts={props.cohorts} onChange={(g) => set(i, g)} />
      ))}
    </>
  );
}

/** The filters of one funnel step or trends series (`what`, as "step 2"): none shown until
 * one is added. */
export function OwnFilters(props: { projectId: number; what: string; filters: Filter[]; onChange: (f: Filter[]) => void }) {
  const cohorts = useCohorts(props.projectId);
  return (
    <div class="own-filters">
      <FilterRows projectId={props.projectId} noun={`${props.what} filter`} filters={props.filters} cohorts={cohorts} onChange={props.onChange} />
      <button type="button" class="link small-note" aria-label={`Add a filter to ${props.what}`}
        onClick={() => props.onChange([...props.filters, BLANK_FILTER])}>
        + where…
      </button>
    </div>
  );
}

/** What a breakdown picker gives the API: a property of events or persons, or saved cohorts
 * (a line each). */
export function breakdownSpec(key: string, type: string, cohortIds: number[]): object {
  if (type === "cohort") {
    return { breakdown: null, breakdown_type: "event", breakdown_cohorts: cohortIds.map((id) => ({ type: "cohort", cohort_id: id })) };
  }
  return { breakdown: key.trim() || null, breakdown_type: type, breakdown_cohorts: [] };
}

export function BreakdownPicker(props: {
  projectId: number;
  value: string;
  type: string;
  cohortIds: number[];
  limit: string;
  onChange: (key: string, type: string) => void;
  onCohorts: (ids: number[]) => void;
  onLimit: (limit: string) => void;
}) {
  const keys = useSeen(props.type === "cohort" ? null : `/api/projects/${props.projectId}/catalog/properties?type=${props.type}`);
  return (
    <div class="field">
      <label for="breakdown">Break down by</label>
      <div class="filter-line">
        <select id={props.type === "cohort" ? "breakdown" : undefined} aria-label="Breakdown property of" value={props.type}
          onChange={(e) => props.onChange(props.value, e.currentTarget.value)}>
          <option value="event">Event</option>
          <option value="person">Person</option>
          <option value="cohort">Cohorts</option>
        </select>
        {props.type !== "cohort" && (
          <>
            <input id="breakdown" list="breakdown-keys" placeholder="none" value={props.value}
              onInput={(e) => props.onChange(e.currentTarget.value, props.type)} />
            <datalist id="breakdown-keys">{keys.map((k) => <option value={k} key={k} />)}</datalist>
          </>
        )}
      </div>
      {props.type !== "cohort" && props.value.trim() !== "" && (
        <div class="top-values">
          <div class="filter-line">
            <label for="breakdown-limit">Lines for the top</label>
            <input id="breakdown-limit" type="number" min={1} max={100} value={props.limit} onInput={(e) => props.onLimit(e.currentTarget.value)} />
            <span>values</span>
          </div>
          <span class="hint">The others share one “Other” line.</span>
        </div>
      )}
      {props.type === "cohort" && <CohortPicks projectId={props.projectId} cohortIds={props.cohortIds} onChange={props.onCohorts} />}
    </div>
  );
}

/** Saved cohorts to tick, a line each. */
export function CohortPicks(props: { projectId: number; cohortIds: number[]; onChange: (ids: number[]) => void }) {
  const cohorts = useCohorts(props.projectId);
  const toggle = (id: number, on: boolean) =>
    props.onChange(on ? [...props.cohortIds.filter((c) => c !== id), id] : props.cohortIds.filter((c) => c !== id));
  return (
    <div class="cohort-picks" role="group" aria-label="Cohorts to break down by">
      {cohorts.length === 0 && props.cohortIds.length === 0 && <span class="hint">No cohorts yet: make one on the Cohorts page.</span>}
      {/* Chosen cohorts that are not (or not yet) listed, such as one deleted since the
          insight was saved, stay visible so that they can be unticked. */}
      {[...cohorts, ...props.cohortIds.filter((id) => !cohorts.some((c) => c.id === id)).map((id) => ({ id, name: `Cohort ${id}` }))].map((c) => (
        <label class="check" key={c.id}>
          <input type="checkbox" checked={props.cohortIds.includes(c.id)} onChange={(e) => toggle(c.id, e.currentTarget.checked)} /> {c.name}
        </label>
      ))}
    </div>
  );
}

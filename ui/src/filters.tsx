// Property filters and breakdowns, with the property names and values the project has seen.
import { useEffect, useState } from "preact/hooks";
import { api } from "./api";

export interface PropertyFilter {
  key: string;
  type: "event" | "person";
  operator: string;
  value: string | number | null;
}

const OPERATORS: [string, string][] = [
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

/** A stored filter (from an API that takes groups, cohorts and lists too) this editor can
 * show: one property, an operator it offers, and one value. */
export function editable(f: unknown): f is PropertyFilter {
  if (!f || typeof f !== "object") return false;
  const g = f as Record<string, unknown>;
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

/** A filter as the API takes it: numbers for gt/lt, no value for (not) set. */
export function ready(filters: PropertyFilter[]): object[] {
  return filters
    .filter((f) => f.key.trim())
    .map((f) => {
      if (f.operator === "is_set" || f.operator === "is_not_set") return { key: f.key, type: f.type, operator: f.operator };
      const value = f.operator === "gt" || f.operator === "lt" ? Number(f.value) || 0 : String(f.value ?? "");
      return { key: f.key, type: f.type, operator: f.operator, value };
    });
}

function FilterRow(props: { projectId: number; index: number; filter: PropertyFilter; onChange: (f: PropertyFilter | null) => void }) {
  const f = props.filter;
  const id = `filter-${props.index}`;
  const keys = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=${f.type}`);
  const values = useSeen(f.key ? `/api/projects/${props.projectId}/catalog/values?${new URLSearchParams({ key: f.key, type: f.type })}` : null);
  const noValue = f.operator === "is_set" || f.operator === "is_not_set";
  return (
    <fieldset class="filter" aria-label={`Filter ${props.index + 1}`}>
      <div class="filter-line">
        <select aria-label="Property of" value={f.type} onChange={(e) => props.onChange({ ...f, type: e.currentTarget.value as "event" | "person" })}>
          <option value="event">Event</option>
          <option value="person">Person</option>
        </select>
        <input aria-label="Property" list={`${id}-keys`} placeholder="property" value={f.key}
          onInput={(e) => props.onChange({ ...f, key: e.currentTarget.value })} />
        <datalist id={`${id}-keys`}>{keys.map((k) => <option value={k} key={k} />)}</datalist>
        <button type="button" class="ghost small" aria-label={`Remove filter ${props.index + 1}`} onClick={() => props.onChange(null)}>×</button>
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

export function FiltersEditor(props: { projectId: number; filters: PropertyFilter[]; onChange: (f: PropertyFilter[]) => void }) {
  const set = (i: number, f: PropertyFilter | null) =>
    props.onChange(f === null ? props.filters.filter((_, j) => j !== i) : props.filters.map((g, j) => (j === i ? f : g)));
  return (
    <div class="stack filters-editor">
      <span class="label">Filters {props.filters.length > 1 && <span class="hint inline">all must hold</span>}</span>
      {props.filters.map((f, i) => (
        <FilterRow key={i} projectId={props.projectId} index={i} filter={f} onChange={(g) => set(i, g)} />
      ))}
      <button type="button" class="ghost" onClick={() => props.onChange([...props.filters, { key: "", type: "event", operator: "exact", value: "" }])}>
        Add filter
      </button>
    </div>
  );
}

export function BreakdownPicker(props: { projectId: number; value: string; type: string; onChange: (key: string, type: string) => void }) {
  const keys = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=${props.type}`);
  return (
    <div class="field">
      <label for="breakdown">Break down by</label>
      <div class="filter-line">
        <select aria-label="Breakdown property of" value={props.type} onChange={(e) => props.onChange(props.value, e.currentTarget.value)}>
          <option value="event">Event</option>
          <option value="person">Person</option>
        </select>
        <input id="breakdown" list="breakdown-keys" placeholder="none" value={props.value}
          onInput={(e) => props.onChange(e.currentTarget.value, props.type)} />
        <datalist id="breakdown-keys">{keys.map((k) => <option value={k} key={k} />)}</datalist>
      </div>
    </div>
  );
}

// What every insight builder shares: asking the query API, the event and option pickers,
// saving onto a dashboard, the "leave out internal and test users" switch, and the persons
// behind a number.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { breakdownSpec, cohortNamer, type Filter, ready, splitFilters, useCohorts } from "../filters";
import { ErrorNote, message, useCanChange } from "../layout";
import { PersonLink } from "../people";

export interface PersonHit {
  person_id: string;
  distinct_ids: string[];
  properties: Record<string, unknown>;
  timestamp: string | null;
  session_id: string | null;
}

export const RANGES: [string, string][] = [
  ["-24h", "Last 24 hours"],
  ["-7d", "Last 7 days"],
  ["-14d", "Last 14 days"],
  ["-30d", "Last 30 days"],
  ["-90d", "Last 90 days"],
  ["-180d", "Last 180 days"],
  ["-12m", "Last 12 months"],
];

// -- a saved insight, opened in its builder ------------------------------------------------------

export type Spec = Record<string, unknown>;
export interface SavedInsight {
  id: number;
  name: string;
  spec: Spec;
}

/** A saved spec's field (a default when there is no saved spec, or no such field). */
export function field<T>(saved: SavedInsight | undefined, key: string, fallback: T): T {
  const value = saved?.spec[key];
  return value === undefined || value === null ? fallback : (value as T);
}

/** The date ranges a builder offers: the usual ones, and the saved one when it is another
 * (an absolute range, say), kept as saved. Its option's value is its JSON. */
function rangeChoices(saved: SavedInsight | undefined, fallback: string): { initial: string; options: [string, string][]; spec: (v: string) => object } {
  const range = saved?.spec.date_range as { date_from?: string; date_to?: string | null } | undefined;
  const usual = range && !range.date_to && RANGES.some(([v]) => v === range.date_from) ? range.date_from : undefined;
  if (!range || usual) return { initial: usual ?? fallback, options: RANGES, spec: (v) => ({ date_from: v }) };
  const own = JSON.stringify(range);
  const text = range.date_to ? `${range.date_from} to ${range.date_to}` : `Since ${range.date_from}`;
  return {
    initial: own,
    options: [...RANGES, [own, text]],
    spec: (v) => (v === own ? range : { date_from: v }),
  };
}

const CUSTOM = "custom";
const ISO_DAY = /^\d{4}-\d\d-\d\d$/;

/** A day in the browser's calendar, `days` before today, as the API's ISO date. */
function dayBefore(days: number): string {
  const d = new Date();
  d.setDate(d.getDate() - days);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** A builder's date range: one of the usual ones, a saved one that is none of them, or
 * custom dates (whole days from one to the other, both included, in the project's time
 * zone). A saved range with two dates opens as custom dates. */
export function useDateRange(saved: SavedInsight | undefined, fallback: string) {
  const ranges = useMemo(() => rangeChoices(saved, fallback), [saved]);
  const range = saved?.spec.date_range as { date_from?: string; date_to?: string | null } | undefined;
  const dated = !!range && ISO_DAY.test(range.date_from ?? "") && ISO_DAY.test(range.date_to ?? "");
  const [choice, setChoice] = useState(dated ? CUSTOM : ranges.initial);
  const [from, setFrom] = useState(dated ? range.date_from! : dayBefore(29));
  const [to, setTo] = useState(dated ? range.date_to! : dayBefore(0));
  const options: [string, string][] = [...(dated ? RANGES : ranges.options), [CUSTOM, "Custom dates…"]];
  const spec = choice === CUSTOM ? { date_from: from, date_to: to } : ranges.spec(choice);
  return { spec, choice, setChoice, from, setFrom, to, setTo, options };
}

/** The date range field: a choice, and for custom dates, the first and last day. */
export function DateRangeField(props: { id: string; range: ReturnType<typeof useDateRange> }) {
  const r = props.range;
  return (
    <>
      <Select id={props.id} label="Date range" value={r.choice} options={r.options} onChange={r.setChoice} />
      {r.choice === CUSTOM && (
        <div class="date-pair" role="group" aria-label="Custom dates">
          <label for={`${props.id}-from`}>From</label>
          <input id={`${props.id}-from`} type="date" value={r.from} min="1970-01-01" max={r.to} required onInput={(e) => e.currentTarget.value && r.setFrom(e.currentTarget.value)} />
          <label for={`${props.id}-to`}>To</label>
          <input id={`${props.id}-to`} type="date" value={r.to} min={r.from} max="2999-12-31" required onInput={(e) => e.currentTarget.value && r.setTo(e.currentTarget.value)} />
        </div>
      )}
    </>
  );
}

/** A saved spec's filters: those the editor shows, and the others (groups, inline cohort
 * definitions), which are kept as they are. */
export function savedFilters(saved: SavedInsight | undefined): { shown: Filter[]; kept: unknown[] } {
  return splitFilters(field<unknown[]>(saved, "filters", []));
}

/** A builder's filters, starting from the saved ones; `spec` is what the API takes (with the
 * saved filters the editor does not show). */
export function useFilters(saved: SavedInsight | undefined) {
  const first = useMemo(() => savedFilters(saved), [saved]);
  const [filters, setFilters] = useState<Filter[]>(first.shown);
  return { filters, setFilters, spec: [...first.kept, ...ready(filters)] };
}

/** A builder's breakdown, starting from the saved one: by a property, or by saved cohorts
 * (whose lines are named by `name`). */
export function useBreakdown(projectId: number, saved: SavedInsight | undefined, propertyOf = "event") {
  const first = useMemo(() => savedBreakdown(saved, propertyOf), [saved, propertyOf]);
  const [key, setKey] = useState(first.key);
  const [type, setType] = useState(first.type);
  const [cohortIds, setCohortIds] = useState<number[]>(first.cohortIds);
  const [limit, setLimit] = useState(() => String(field(saved, "breakdown_limit", 10)));
  const cohorts = useCohorts(projectId);
  const name = useMemo(() => cohortNamer(cohorts), [cohorts]);
  const byCohort = type === "cohort" && cohortIds.length > 0;
  return {
    key,
    type,
    cohortIds,
    byCohort,
    split: byCohort || (type !== "cohort" && key.trim() !== ""),
    // The breakdown's title in tables.
    title: byCohort ? "Cohort" : key.trim(),
    name,
    spec: { ...breakdownSpec(key, type, cohortIds), breakdown_limit: Math.max(1, Math.min(100, Math.round(Number(limit)) || 10)) },
    set: (k: string, t: string) => (setKey(k), setType(t)),
    setCohortIds,
    // How many of the property's values get a line of their own (the rest: "Other").
    limit,
    setLimit,
  };
}

/** A saved breakdown: by a property (its key and kind, `propertyOf` when the spec does not
 * say) or by saved cohorts (their ids). */
export function savedBreakdown(saved: SavedInsight | undefined, propertyOf = "event"): { key: string; type: string; cohortIds: number[] } {
  const cohorts = field<{ cohort_id?: number | null }[]>(saved, "breakdown_cohorts", []);
  const ids = cohorts.map((c) => c.cohort_id).filter((id): id is number => typeof id === "number");
  if (ids.length) return { key: "", type: "cohort", cohortIds: ids };
  return { key: field(saved, "breakdown", ""), type: field(saved, "breakdown_type", propertyOf), cohortIds: [] };
}

export const INTERVALS = ["hour", "day", "week", "month"];

export function useCatalog(projectId: number): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    api<{ name: string }[]>("GET", `/api/projects/${projectId}/catalog/events`)
      .then((seen) => setNames(seen.map((s) => s.name)))
      .catch(() => setNames([]));
  }, [projectId]);
  return names;
}

/** The answer to `spec`, asked again when it changes (after a pause) or `generation` does. */
export function useQuery<T>(projectId: number, spec: object, generation = 0): { result: T | null; error: string | null; busy: boolean } {
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
  }, [projectId, key, generation]);
  return state;
}

export function EventPicker(props: { id: string; label: string; value: string; names: string[]; onChange: (v: string) => void }) {
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

export function Select(props: { id: string; label: string; value: string; options: [string, string][]; onChange: (v: string) => void }) {
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

export function SaveBar(props: { projectId: number; spec: object; kind: string; saved?: SavedInsight }) {
  const [name, setName] = useState("");
  const [boards, setBoards] = useState<{ id: number; name: string; tiles: { id: number }[] }[]>([]);
  // The dashboard chosen ("" for none); until someone chooses, the first one.
  const [chosen, setBoard] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<typeof boards>("GET", `/api/projects/${props.projectId}/dashboards`).then(setBoards).catch(() => setBoards([]));
  }, [props.projectId]);
  const board = chosen ?? (boards[0] ? String(boards[0].id) : "");
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const saved = await api<{ id: number; name: string }>("POST", `/api/projects/${props.projectId}/insights`, { name, spec: props.spec });
      const target = boards.find((b) => String(b.id) === board);
      if (target) {
        const updated = await api<(typeof boards)[number]>("PATCH", `/api/projects/${props.projectId}/dashboards/${target.id}`, {
          tiles: [...target.tiles.map((t) => t.id), saved.id],
        });
        // The next save adds to the dashboard as it is now, this insight included.
        setBoards(boards.map((b) => (b.id === updated.id ? updated : b)));
        setNote(`Saved “${saved.name}” and added it to ${target.name}.`);
      } else setNote(`Saved “${saved.name}”.`);
      setName("");
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  // An opened insight is changed in place; dashboards showing it show the change.
  const update = async () => {
    if (!props.saved) return;
    setError(null);
    try {
      const saved = await api<{ name: string }>("PATCH", `/api/projects/${props.projectId}/insights/${props.saved.id}`, { spec: props.spec });
      setNote(`Saved the changes to “${saved.name}”.`);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <form class="savebar" onSubmit={save} aria-label="Save this insight">
      {props.saved && (
        <button type="button" class="primary" onClick={() => void update()}>Save changes to “{props.saved.name}”</button>
      )}
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
      <button type="submit" class={props.saved ? "ghost" : "primary"}>{props.saved ? "Save as new" : "Save"}</button>
      {note && <span class="ok" role="status">{note}</span>}
      <ErrorNote error={error} />
    </form>
  );
}

/** The "leave out internal and test users" switch, one for every builder: the project's test
 * account filters (Settings) then also apply to the insight. */
export interface LeaveOut {
  projectId: number;
  on: boolean;
  // Whether the project has test account filters; null while not known.
  defined: boolean | null;
  onChange: (on: boolean) => void;
}

/** The "leave out internal and test users" switch's state, starting at `initial`, and
 * whether the project has test account filters to leave them out by. */
export function useLeaveOut(projectId: number, initial: boolean): LeaveOut {
  const [on, setOn] = useState(initial);
  const settings = useProjectSettings<{ test_account_filters: unknown[] }>(projectId);
  return { projectId, on, defined: settings ? settings.test_account_filters.length > 0 : null, onChange: setOn };
}

/** The project's settings (`GET …/settings`), for a builder that shows what they apply;
 * null while they load or when they cannot be read. */
export function useProjectSettings<T>(projectId: number): T | null {
  return useEditableSettings<T>(projectId)[0];
}

/** The project's settings, and a way to show them as changed (once saved). */
export function useEditableSettings<T>(projectId: number): [T | null, (settings: T) => void] {
  const [settings, setSettings] = useState<T | null>(null);
  useEffect(() => {
    api<T>("GET", `/api/projects/${projectId}/settings`)
      .then(setSettings)
      .catch(() => setSettings(null));
  }, [projectId]);
  return [settings, setSettings];
}

export function LeaveOutToggle(props: LeaveOut) {
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

/** Keeps the persons behind a number as a list cohort (all of them, not only those shown). */
function SaveAsCohort(props: { projectId: number; spec: object }) {
  const canChange = useCanChange(props.projectId);
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [made, setMade] = useState<{ id: number; name: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify(props.spec);
  useEffect(() => (setMade(null), setOpen(false), setError(null)), [key]);
  if (!canChange) return null;
  const save = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      setMade(await api<{ id: number; name: string }>("POST", `/api/projects/${props.projectId}/cohorts/from-persons`, { name: name.trim(), persons: props.spec }));
      setOpen(false);
      setName("");
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <div class="save-cohort">
      {made && (
        <span class="ok" role="status">
          Saved as the cohort <a href={`/projects/${props.projectId}/cohorts/${made.id}`}>{made.name}</a>
        </span>
      )}
      {open ? (
        <form class="row-buttons" onSubmit={save} aria-label="Save as a cohort">
          <input aria-label="Cohort name" placeholder="Cohort name" required maxLength={200} value={name}
            onInput={(e) => setName(e.currentTarget.value)} />
          <button type="submit" class="primary small">Save cohort</button>
          <button type="button" class="ghost small" onClick={() => setOpen(false)}>Cancel</button>
        </form>
      ) : (
        !made && <button type="button" class="ghost small" onClick={() => setOpen(true)}>Save as cohort…</button>
      )}
      <ErrorNote error={error} />
    </div>
  );
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
        <div class="row-buttons">
          {result && result.total > 0 && <SaveAsCohort projectId={props.projectId} spec={props.spec} />}
          <button type="button" class="ghost small" onClick={props.onClose}>Close</button>
        </div>
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

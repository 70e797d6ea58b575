// Saved cohorts: the list with how many persons each holds now, and one cohort's page where
// its rules (or its list of persons) are set and its persons are listed.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, localDay } from "../api";
import { OPERATORS, type SavedCohort, useSeen } from "../filters";
import { ErrorNote, message, Outcome, TwoStepDelete, useCanChange, useSubmit } from "../layout";
import { type PersonRow, PersonRows } from "../people";
import { navigate } from "../router";
import { useCatalog } from "./builder";

type Rule =
  | { kind: "did_event"; event: string; min_count: number; days: number }
  | { kind: "has_property"; filter: { key: string; type: "person"; operator: string; value?: string | number } };
interface Definition {
  distinct_ids?: string[] | null;
  match?: "all" | "any";
  rules?: Rule[];
}
interface Members {
  count: number;
  persons: PersonRow[];
}

const operatorName = (op: string) => OPERATORS.find(([v]) => v === op)?.[1] ?? op;
const noValue = (op: string) => op === "is_set" || op === "is_not_set";
const plural = (n: number, one: string) => `${n.toLocaleString()} ${one}${n === 1 ? "" : "s"}`;

/** A cohort's definition in words. */
export function describe(definition: Definition): string {
  if (definition.distinct_ids?.length === 0) return "An empty list";
  if (definition.distinct_ids) return `A list of ${plural(definition.distinct_ids.length, "distinct id")}`;
  const parts = (definition.rules ?? []).map((r) =>
    r.kind === "did_event"
      ? `did ${r.event} at least ${plural(r.min_count, "time")} in the last ${plural(r.days, "day")}`
      : `${r.filter.key} ${operatorName(r.filter.operator)}${noValue(r.filter.operator) ? "" : ` ${r.filter.value}`}`,
  );
  return parts.join(definition.match === "any" ? " or " : " and ");
}

function useMembers(projectId: number, cohortId: number, limit: number, generation = 0): { members: Members | null; error: string | null } {
  const [members, setMembers] = useState<Members | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api<Members>("GET", `/api/projects/${projectId}/cohorts/${cohortId}/persons?limit=${limit}`)
      .then((m) => live && (setMembers(m), setError(null)))
      .catch((err) => live && setError(message(err)));
    return () => {
      live = false;
    };
  }, [projectId, cohortId, limit, generation]);
  return { members, error };
}

function Count(props: { projectId: number; cohortId: number }) {
  const { members, error } = useMembers(props.projectId, props.cohortId, 1);
  if (error) return <span class="muted">–</span>;
  return members ? <span data-testid="cohort-count">{members.count.toLocaleString()}</span> : <span class="muted">…</span>;
}

export function CohortsPage(props: { projectId: number; cohortId: string | null }) {
  if (props.cohortId !== null) return <CohortPage projectId={props.projectId} cohortId={props.cohortId === "new" ? null : Number(props.cohortId)} />;
  return <CohortList projectId={props.projectId} />;
}

function CohortList(props: { projectId: number }) {
  const [cohorts, setCohorts] = useState<SavedCohort[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const canChange = useCanChange(props.projectId);
  const deleted = new URLSearchParams(location.search).get("deleted");
  useEffect(() => {
    api<SavedCohort[]>("GET", `/api/projects/${props.projectId}/cohorts`)
      .then(setCohorts)
      .catch((err) => setError(message(err)));
  }, [props.projectId]);
  const base = `/projects/${props.projectId}/cohorts`;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Cohorts</h1>
        {canChange && <button type="button" class="primary" onClick={() => navigate(`${base}/new`)}>New cohort</button>}
      </div>
      <p class="hint">
        Groups of persons, by what they did or what is known about them, or a list you keep. Every insight can keep to a cohort,
        leave it out, or break down by cohorts.
      </p>
      {deleted && <p class="ok" role="status">The cohort “{deleted}” was deleted.</p>}
      <ErrorNote error={error} />
      <section class="card">
        {cohorts === null ? (
          !error && <p class="muted" aria-busy="true">Loading…</p>
        ) : cohorts.length === 0 ? (
          <p class="muted">No cohorts yet.{canChange && " Make one with “New cohort”."}</p>
        ) : (
          <table class="table" data-testid="cohorts-list">
            <thead><tr><th>Cohort</th><th>Who is in it</th><th class="num">Persons</th><th class="w-time">Changed</th></tr></thead>
            <tbody>
              {cohorts.map((c) => (
                <tr key={c.id}>
                  <td class="clip"><a href={`${base}/${c.id}`}>{c.name}</a>{c.description && <div class="muted clip">{c.description}</div>}</td>
                  <td class="clip muted" title={describe(c.definition as Definition)}>{describe(c.definition as Definition)}</td>
                  <td class="num"><Count projectId={props.projectId} cohortId={c.id} /></td>
                  <td class="nowrap">{localDay(c.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

// The form's state: numbers and values as typed.
type RuleDraft = { kind: "did_event" | "has_property"; event: string; minCount: string; days: string; key: string; operator: string; value: string };
const BLANK: RuleDraft = { kind: "did_event", event: "", minCount: "1", days: "30", key: "", operator: "exact", value: "" };

function draftOf(rule: Rule): RuleDraft {
  if (rule.kind === "did_event") return { ...BLANK, event: rule.event, minCount: String(rule.min_count), days: String(rule.days) };
  return { ...BLANK, kind: "has_property", key: rule.filter.key, operator: rule.filter.operator, value: String(rule.filter.value ?? "") };
}

function ruleOf(d: RuleDraft): Rule {
  if (d.kind === "did_event") {
    return { kind: "did_event", event: d.event.trim(), min_count: Math.round(Number(d.minCount)) || 1, days: Math.round(Number(d.days)) || 30 };
  }
  const value = d.operator === "gt" || d.operator === "lt" ? Number(d.value) || 0 : d.value;
  return { kind: "has_property", filter: { key: d.key.trim(), type: "person", operator: d.operator, ...(noValue(d.operator) ? {} : { value }) } };
}

function RuleRow(props: { index: number; rule: RuleDraft; removable: boolean; onChange: (r: RuleDraft | null) => void }) {
  const r = props.rule;
  const n = props.index + 1;
  return (
    <fieldset class="filter" aria-label={`Rule ${n}`}>
      <div class="filter-line">
        <select aria-label="Kind of rule" value={r.kind} onChange={(e) => props.onChange({ ...r, kind: e.currentTarget.value as RuleDraft["kind"] })}>
          <option value="did_event">Did an event</option>
          <option value="has_property">Has a person property</option>
        </select>
        {props.removable && <button type="button" class="ghost small" aria-label={`Remove rule ${n}`} onClick={() => props.onChange(null)}>×</button>}
      </div>
      {r.kind === "did_event" ? (
        <>
          <div class="filter-line">
            <input aria-label="Event" list="cohort-events" placeholder="event name" required value={r.event}
              onInput={(e) => props.onChange({ ...r, event: e.currentTarget.value })} />
          </div>
          <div class="filter-line rule-numbers">
            <span>at least</span>
            <input aria-label="At least this many times" type="number" min={1} required value={r.minCount}
              onInput={(e) => props.onChange({ ...r, minCount: e.currentTarget.value })} />
            <span>times in the last</span>
            <input aria-label="In the last this many days" type="number" min={1} max={3650} required value={r.days}
              onInput={(e) => props.onChange({ ...r, days: e.currentTarget.value })} />
            <span>days</span>
          </div>
        </>
      ) : (
        <>
          <div class="filter-line">
            <input aria-label="Person property" list="cohort-keys" placeholder="property" required value={r.key}
              onInput={(e) => props.onChange({ ...r, key: e.currentTarget.value })} />
          </div>
          <div class="filter-line">
            <select aria-label="Operator" value={r.operator} onChange={(e) => props.onChange({ ...r, operator: e.currentTarget.value })}>
              {OPERATORS.map(([v, t]) => <option value={v} key={v}>{t}</option>)}
            </select>
            {!noValue(r.operator) && (
              <input aria-label="Value" value={r.value} onInput={(e) => props.onChange({ ...r, value: e.currentTarget.value })} />
            )}
          </div>
        </>
      )}
    </fieldset>
  );
}

function CohortPage(props: { projectId: number; cohortId: number | null }) {
  const base = `/projects/${props.projectId}/cohorts`;
  const canChange = useCanChange(props.projectId);
  const events = useCatalog(props.projectId);
  const keys = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=person`);
  const [loaded, setLoaded] = useState<SavedCohort | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [kind, setKind] = useState<"rules" | "list">("rules");
  const [match, setMatch] = useState<"all" | "any">("all");
  const [rules, setRules] = useState<RuleDraft[]>([BLANK]);
  const [ids, setIds] = useState("");
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (props.cohortId === null) return;
    api<SavedCohort>("GET", `/api/projects/${props.projectId}/cohorts/${props.cohortId}`)
      .then((c) => {
        const d = c.definition as Definition;
        setLoaded(c);
        setName(c.name);
        setDescription(c.description);
        setKind(d.distinct_ids ? "list" : "rules");
        setMatch(d.match ?? "all");
        setRules(d.rules?.length ? d.rules.map(draftOf) : [BLANK]);
        setIds((d.distinct_ids ?? []).join("\n"));
      })
      .catch((err) => setLoadError(message(err)));
  }, [props.projectId, props.cohortId]);

  const { note, error, submit } = useSubmit(async () => {
    const listed = [...new Set(ids.split("\n").map((s) => s.trim()).filter(Boolean))];
    // A stored list emptied by deleting everyone in it keeps its name and description editable.
    const keptEmpty = kind === "list" && listed.length === 0 && emptied(loaded);
    if (kind === "list" && listed.length === 0 && !keptEmpty) throw new ApiError(400, "invalid", "List at least one distinct id, one per line.");
    const definition = kind === "list" ? { distinct_ids: listed } : { match, rules: rules.map(ruleOf) };
    const body = { name: name.trim(), description: description.trim(), ...(keptEmpty ? {} : { definition }) };
    if (props.cohortId === null) {
      const made = await api<SavedCohort>("POST", `/api/projects/${props.projectId}/cohorts`, body);
      navigate(`${base}/${made.id}`, true);
      return "";
    }
    setLoaded(await api<SavedCohort>("PATCH", `/api/projects/${props.projectId}/cohorts/${props.cohortId}`, body));
    setGeneration(generation + 1);
    return "Saved. Insights that use this cohort now count its persons by these rules.";
  });
  const remove = async () => {
    await api("DELETE", `/api/projects/${props.projectId}/cohorts/${props.cohortId}`);
    navigate(`${base}?${new URLSearchParams({ deleted: loaded?.name ?? "" })}`, true);
  };

  if (loadError) return <div class="page"><ErrorNote error={loadError} /><p><a href={base}>All cohorts</a></p></div>;
  if (props.cohortId !== null && !loaded) return <div class="page"><p class="muted" aria-busy="true">Loading…</p></div>;
  const setRule = (i: number, r: RuleDraft | null) => setRules(r === null ? rules.filter((_, j) => j !== i) : rules.map((x, j) => (j === i ? r : x)));
  return (
    <div class="page">
      <p class="back"><a href={base}>← All cohorts</a></p>
      <div class="page-head">
        <h1>{loaded ? loaded.name : "New cohort"}</h1>
        {loaded && <span class="muted">{describe(loaded.definition as Definition)}</span>}
      </div>
      <div class="columns">
        <form class="card stack" onSubmit={submit} aria-label="Cohort">
          <fieldset class="stack plain" disabled={!canChange}>
            <div class="field">
              <label for="cohort-name">Name</label>
              <input id="cohort-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </div>
            <div class="field">
              <label for="cohort-description">Description (optional)</label>
              <input id="cohort-description" maxLength={2000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
            </div>
            <div class="field">
              <label for="cohort-kind">Who is in it</label>
              <select id="cohort-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as "rules" | "list")}>
                <option value="rules">Persons who match rules</option>
                <option value="list">A list of persons</option>
              </select>
            </div>
            {kind === "rules" ? (
              <>
                <div class="field">
                  <label for="cohort-match">Rules that must hold</label>
                  <select id="cohort-match" value={match} onChange={(e) => setMatch(e.currentTarget.value as "all" | "any")}>
                    <option value="all">All of them</option>
                    <option value="any">Any of them</option>
                  </select>
                </div>
                {rules.map((r, i) => (
                  <RuleRow key={i} index={i} rule={r} removable={rules.length > 1} onChange={(x) => setRule(i, x)} />
                ))}
                <datalist id="cohort-events">{events.map((n) => <option value={n} key={n} />)}</datalist>
                <datalist id="cohort-keys">{keys.map((k) => <option value={k} key={k} />)}</datalist>
                {rules.length < 20 && <button type="button" class="ghost" onClick={() => setRules([...rules, BLANK])}>Add rule</button>}
                <p class="hint">“In the last N days” counts back from the moment an insight runs, so persons join and leave as time passes.</p>
              </>
            ) : (
              <div class="field">
                <label for="cohort-ids">Distinct ids, one per line</label>
                <textarea id="cohort-ids" rows={8} value={ids} onInput={(e) => setIds(e.currentTarget.value)} />
                <span class="hint">A person is in the cohort when any of their distinct ids is listed.</span>
                {emptied(loaded) && <span class="hint" data-testid="emptied-list">Everyone it listed was deleted, so it matches nobody. It can keep its name, or be given new ids.</span>}
              </div>
            )}
          </fieldset>
          <Outcome note={note || null} error={error} />
          {canChange && (
            <div class="row-buttons">
              <button type="submit" class="primary">{props.cohortId === null ? "Create cohort" : "Save cohort"}</button>
              {props.cohortId !== null && (
                <TwoStepDelete ask="Delete cohort…" confirm={`Delete “${loaded?.name}” for good`} done={remove}
                  warning={<UsedBy projectId={props.projectId} cohortId={props.cohortId} />} />
              )}
            </div>
          )}
        </form>
        {props.cohortId !== null && <MembersCard projectId={props.projectId} cohortId={props.cohortId} generation={generation} />}
      </div>
    </div>
  );
}

/** Whether a saved list cohort was left with no ids (everyone in it was deleted). */
function emptied(cohort: SavedCohort | null): boolean {
  const ids = (cohort?.definition as Definition | undefined)?.distinct_ids;
  return Array.isArray(ids) && ids.length === 0;
}

/** Whether a spec (any JSON) names the saved cohort `id`. */
function names(node: unknown, id: number): boolean {
  if (Array.isArray(node)) return node.some((n) => names(n, id));
  if (!node || typeof node !== "object") return false;
  const o = node as Record<string, unknown>;
  return (o.type === "cohort" && o.cohort_id === id) || Object.values(o).some((v) => names(v, id));
}

/** Before a cohort is deleted: the saved insights and settings that use it, which would stop
 * answering until changed. */
function UsedBy(props: { projectId: number; cohortId: number }) {
  const [users, setUsers] = useState<{ insights: { id: number; name: string }[]; settings: boolean } | null>(null);
  useEffect(() => {
    Promise.all([
      api<{ id: number; name: string; spec: unknown }[]>("GET", `/api/projects/${props.projectId}/insights`),
      api<{ test_account_filters: unknown[] }>("GET", `/api/projects/${props.projectId}/settings`),
    ])
      .then(([insights, settings]) =>
        setUsers({
          insights: insights.filter((i) => names(i.spec, props.cohortId)),
          settings: names(settings.test_account_filters, props.cohortId),
        }),
      )
      .catch(() => setUsers(null));
  }, [props.projectId, props.cohortId]);
  if (!users || (users.insights.length === 0 && !users.settings)) return null;
  return (
    <p class="error" role="alert" data-testid="cohort-used-by">
      In use: {users.insights.map((i, n) => (
        <span key={i.id}>{n > 0 && ", "}<a href={`/projects/${props.projectId}/insights?insight=${i.id}`}>{i.name}</a></span>
      ))}
      {users.settings && <>{users.insights.length > 0 && ", "}the internal and test users in Settings</>}. Deleted, they stop
      answering until changed.
    </p>
  );
}

function MembersCard(props: { projectId: number; cohortId: number; generation: number }) {
  const limit = 100;
  const { members, error } = useMembers(props.projectId, props.cohortId, limit, props.generation);
  return (
    <section class="card" aria-label="Persons in the cohort">
      <h2>{members ? plural(members.count, "person") : "Persons"}</h2>
      <ErrorNote error={error} />
      {members === null ? (
        !error && <p class="muted" aria-busy="true">Counting…</p>
      ) : members.count === 0 ? (
        <p class="muted">Nobody is in this cohort now.</p>
      ) : (
        <>
          {members.count > limit && <p class="hint">The newest {limit} of them.</p>}
          <PersonRows projectId={props.projectId} rows={members.persons} testId="cohort-members" />
        </>
      )}
    </section>
  );
}

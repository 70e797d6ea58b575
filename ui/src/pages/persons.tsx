import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type StoredEvent } from "../api";
import { ErrorNote, ListFoot, message, pageOf, TwoStepDelete, useCanChange } from "../layout";
import { navigate } from "../router";
import { type PersonRow, PersonRows, personName, shownValue } from "../people";
import { clock, type SessionSummary } from "./sessions";

interface Person {
  id: string;
  created_at: string;
  is_identified: boolean;
  distinct_ids: string[];
  properties: Record<string, unknown>;
}

const PAGE = 50;


export function PersonsPage(props: { projectId: number }) {
  const deleted = new URLSearchParams(location.search).get("deleted");
  const [search, setSearch] = useState("");
  const [rows, setRows] = useState<PersonRow[] | null>(null);
  // Whether the last page was full, so that there may be more.
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const page = (offset: number) =>
    api<PersonRow[]>("GET", `/api/projects/${props.projectId}/persons?${new URLSearchParams({ search, limit: String(PAGE), offset: String(offset) })}`);
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      page(0)
        .then((r) => current && (setRows(r), setMore(r.length === PAGE), setError(null)))
        .catch((e) => current && setError(message(e)));
    }, 200);
    return () => ((current = false), clearTimeout(timer));
  }, [props.projectId, search]);
  const showMore = () => {
    if (!rows) return;
    setLoading(true);
    page(rows.length)
      .then((r) => (setRows([...rows, ...r]), setMore(r.length === PAGE), setError(null)))
      .catch((e) => setError(message(e)))
      .finally(() => setLoading(false));
  };

  return (
    <div class="page">
      <h1>Persons</h1>
      <div class="filters">
        <div class="field wide">
          <label for="person-search">Search distinct ids and properties</label>
          <input id="person-search" type="search" value={search} placeholder="email, id, plan…" onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
      </div>
      {deleted && <p class="ok" role="status">{deleted} was deleted, with their events and recordings.</p>}
      <ErrorNote error={error} />
      <section class="card">
        {rows === null ? (
          <p class="muted" aria-busy="true">Loading…</p>
        ) : rows.length === 0 ? (
          <p class="muted">Nobody matches.</p>
        ) : (
          <>
            <PersonRows projectId={props.projectId} rows={rows} testId="persons-list" withProperties />
            <ListFoot count={rows.length} noun={["person", "persons"]} more={more} loading={loading} onMore={showMore} />
          </>
        )}
      </section>
    </div>
  );
}

/** Deleting a person, as a request to be forgotten asks: a first click arms it, a second,
 * naming them, deletes their events, person record and recordings. Viewers cannot. */
function DeletePerson(props: { projectId: number; distinctId: string; name: string }) {
  const canDelete = useCanChange(props.projectId);
  if (!canDelete) return null;
  return (
    <section class="card stack" aria-labelledby="delete-person">
      <h2 id="delete-person">Delete this person</h2>
      <p class="hint">Their events, their person record and their recordings are deleted at once, for good, and they leave every list cohort; backups made before lose them within a minute.</p>
      <div class="row-buttons">
        <TwoStepDelete ask="Delete person…" confirm={`Delete ${props.name} for good`}
          done={async () => {
            await api("DELETE", `/api/projects/${props.projectId}/persons/${encodeURIComponent(props.distinctId)}`);
            navigate(`/projects/${props.projectId}/persons?${new URLSearchParams({ deleted: props.name })}`);
          }} />
      </div>
    </section>
  );
}

export function PersonPage(props: { projectId: number; distinctId: string }) {
  const [person, setPerson] = useState<Person | null>(null);
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    const base = `/api/projects/${props.projectId}`;
    setMissing(false);
    api<Person>("GET", `${base}/persons/${encodeURIComponent(props.distinctId)}`)
      .then(async (p) => {
        setPerson(p);
        const ids = p.distinct_ids.slice(0, 10);
        const pages = await Promise.all(
          ids.map((id) => api<{ results: StoredEvent[] }>("GET", `${base}/events?${new URLSearchParams({ distinct_id: id, limit: "100" })}`)),
        );
        setEvents(pages.flatMap((pg) => pg.results).sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, 100));
        const found = await Promise.all(
          ids.map((id) => api<{ results: SessionSummary[] }>("GET", `${base}/sessions?${new URLSearchParams({ distinct_id: id, limit: "50" })}`)),
        );
        const unique = new Map(found.flatMap((pg) => pg.results).map((s) => [s.session_id, s]));
        setSessions([...unique.values()].sort((a, b) => b.start.localeCompare(a.start)));
      })
      .catch((e) => (e instanceof ApiError && e.status === 404 ? setMissing(true) : setError(message(e))));
  }, [props.projectId, props.distinctId]);

  if (missing) {
    return (
      <div class="page">
        <h1>No such person</h1>
        <section class="card stack">
          <p>Nobody in this project has the distinct id <code>{props.distinctId}</code>: it was never sent, or its person was deleted.</p>
          <p><a href={`/projects/${props.projectId}/persons`}>Search the persons</a></p>
        </section>
      </div>
    );
  }
  if (error) return <div class="page"><ErrorNote error={error} /></div>;
  if (!person) return <div class="page"><p class="muted" aria-busy="true">Loading…</p></div>;
  return (
    <div class="page">
      <div class="page-head">
        <h1>{personName(person.properties, person.distinct_ids)}</h1>
        <span class="muted">{person.is_identified ? "identified" : "anonymous"} · first seen {new Date(person.created_at).toLocaleString()}</span>
      </div>
      <div class="columns">
        <div class="stack">
          <section class="card">
            <h2>Properties</h2>
            <table class="table" data-testid="person-properties">
              <tbody>
                {Object.entries(person.properties).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => (
                  <tr key={k}><td class="clip"><code>{k}</code></td><td class="clip" title={shownValue(v)}>{shownValue(v)}</td></tr>
                ))}
                <tr>
                  <td><code>distinct ids</code></td>
                  <td data-testid="distinct-ids">{person.distinct_ids.map((id) => <div key={id} class="clip" title={id}>{id}</div>)}</td>
                </tr>
              </tbody>
            </table>
          </section>
          <section class="card">
            <h2>Sessions</h2>
            {sessions.length === 0 ? <p class="muted">No recorded sessions.</p> : (
              <ul class="list">
                {sessions.map((s) => (
                  <li key={s.session_id}>
                    <a href={`/projects/${props.projectId}/sessions/${encodeURIComponent(s.session_id)}`}>
                      <span>{new Date(s.start).toLocaleString()}</span>
                      <span class="muted">{clock(s.duration_s)} · {s.pageviews} pages</span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <DeletePerson projectId={props.projectId} distinctId={props.distinctId} name={personName(person.properties, person.distinct_ids)} />
        </div>
        <section class="card">
          <div class="result-head first">
            <h2>Events</h2>
            <a href={`/projects/${props.projectId}/events?${new URLSearchParams({ person_id: person.id, name: personName(person.properties, person.distinct_ids) })}`}>
              All their events
            </a>
          </div>
          <ol class="events history" data-testid="person-events">
            {events.map((e) => (
              <li key={e.uuid}>
                <span class="at">{new Date(e.timestamp).toLocaleString()}</span> <code>{e.event}</code>{" "}
                <span class="muted clip" title={e.current_url ?? ""}>{pageOf(e.current_url)}</span>
              </li>
            ))}
            {events.length === 0 && <li class="muted">No events.</li>}
          </ol>
        </section>
      </div>
    </div>
  );
}

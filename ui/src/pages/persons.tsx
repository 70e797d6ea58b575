import { useEffect, useState } from "preact/hooks";
import { api, type StoredEvent } from "../api";
import { ErrorNote, message, useCanChange } from "../layout";
import { navigate } from "../router";
import { parsedProperties, PersonLink, personName } from "../people";
import { clock, type SessionSummary } from "./sessions";

interface PersonRow {
  id: string;
  distinct_ids: string[];
  properties: string;
  created_at: string;
}
interface Person {
  id: string;
  created_at: string;
  is_identified: boolean;
  distinct_ids: string[];
  properties: Record<string, unknown>;
}

const shown = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

export function PersonsPage(props: { projectId: number }) {
  const deleted = new URLSearchParams(location.search).get("deleted");
  const [search, setSearch] = useState("");
  const [rows, setRows] = useState<PersonRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      api<PersonRow[]>("GET", `/api/projects/${props.projectId}/persons?${new URLSearchParams({ search })}`)
        .then((r) => (setRows(r), setError(null)))
        .catch((e) => setError(message(e)));
    }, 200);
    return () => clearTimeout(timer);
  }, [props.projectId, search]);

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
          <table class="table" data-testid="persons-list">
            <thead><tr><th>Person</th><th>Properties</th><th class="w-time">First seen</th></tr></thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.id}>
                  <td class="clip">
                    <PersonLink projectId={props.projectId} distinctIds={p.distinct_ids} properties={parsedProperties(p.properties)} />
                  </td>
                  <td class="clip muted" title={p.properties}>{p.properties}</td>
                  <td class="nowrap">{new Date(p.created_at.endsWith("Z") ? p.created_at : `${p.created_at}Z`).toLocaleDateString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

/** Deleting a person, as a request to be forgotten asks: a first click arms it, a second,
 * naming them, deletes their events, person record and recordings. Viewers cannot. */
function DeletePerson(props: { projectId: number; distinctId: string; name: string }) {
  const canDelete = useCanChange(props.projectId);
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!canDelete) return null;
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await api("DELETE", `/api/projects/${props.projectId}/persons/${encodeURIComponent(props.distinctId)}`);
      navigate(`/projects/${props.projectId}/persons?${new URLSearchParams({ deleted: props.name })}`);
    } catch (err) {
      setError(message(err));
      setBusy(false);
    }
  };
  return (
    <section class="card stack" aria-labelledby="delete-person">
      <h2 id="delete-person">Delete this person</h2>
      <p class="hint">Their events, their person record and their recordings are deleted at once, for good.</p>
      {armed ? (
        <div class="row-buttons">
          <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>Delete {props.name} for good</button>
          <button type="button" class="ghost" onClick={() => setArmed(false)}>Keep</button>
        </div>
      ) : (
        <div class="row-buttons">
          <button type="button" class="ghost" onClick={() => setArmed(true)}>Delete person…</button>
        </div>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

export function PersonPage(props: { projectId: number; distinctId: string }) {
  const [person, setPerson] = useState<Person | null>(null);
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [sessions, setSessions] = useState<SessionSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const base = `/api/projects/${props.projectId}`;
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
      .catch((e) => setError(message(e)));
  }, [props.projectId, props.distinctId]);

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
                  <tr key={k}><td class="clip"><code>{k}</code></td><td class="clip" title={shown(v)}>{shown(v)}</td></tr>
                ))}
                <tr><td><code>distinct ids</code></td><td class="clip">{person.distinct_ids.join(", ")}</td></tr>
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
          <h2>Events</h2>
          <ol class="events history" data-testid="person-events">
            {events.map((e) => (
              <li key={e.uuid}>
                <span class="at">{new Date(e.timestamp).toLocaleString()}</span> <code>{e.event}</code>{" "}
                <span class="muted clip">{e.current_url ?? ""}</span>
              </li>
            ))}
            {events.length === 0 && <li class="muted">No events.</li>}
          </ol>
        </section>
      </div>
    </div>
  );
}

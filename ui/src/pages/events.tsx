// The project's events as they were stored, newest first: to check what an app sends, with
// every property of one event a click away.
import { useState } from "preact/hooks";
import { type StoredEvent } from "../api";
import { type Filter, FiltersEditor, ready, Suggest, useSeen } from "../filters";
import { ErrorNote, hoursAgo, ListFoot, pageOf, useCursorPages } from "../layout";
import { shownValue } from "../people";
import { LeaveOutToggle, useLeaveOut } from "./builder";

const PAGE = 50;

/** An event with what the list shows of it besides `StoredEvent`'s columns. */
interface FullEvent extends StoredEvent {
  session_id: string | null;
  pathname: string | null;
  properties: Record<string, unknown>;
}


/** Every property of an event, in name order, the product's own before the `$` ones. */
function Properties(props: { event: FullEvent; projectId: number; name: string }) {
  const e = props.event;
  const keys = Object.keys(e.properties).sort((a, b) => Number(a.startsWith("$")) - Number(b.startsWith("$")) || a.localeCompare(b));
  return (
    <div class="stack" data-testid="event-properties">
      <p class="muted">
        {new Date(e.timestamp).toLocaleString()} · <a href={`/projects/${props.projectId}/persons/${encodeURIComponent(e.distinct_id)}`}>{props.name}</a>
        {props.name !== e.distinct_id && <> · distinct id <code>{e.distinct_id}</code></>}
        {e.session_id && <> · session <code>{e.session_id}</code></>}
      </p>
      {keys.length === 0 ? (
        <p class="muted">No properties.</p>
      ) : (
        <table class="table" aria-label={`Properties of ${e.event}`}>
          <tbody>
            {keys.map((k) => (
              <tr key={k}><td class="clip w-key"><code>{k}</code></td><td class="clip" title={shownValue(e.properties[k])}>{shownValue(e.properties[k])}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function EventsPage(props: { projectId: number }) {
  const [event, setEvent] = useState("");
  const [person, setPerson] = useState("");
  const [since, setSince] = useState("");
  const [filters, setFilters] = useState<Filter[]>([]);
  const leaveOut = useLeaveOut(props.projectId, false);
  // One person's events (all their distinct ids), when a person's page links here.
  const [owner, setOwner] = useState(() => {
    const asked = new URLSearchParams(location.search);
    const id = asked.get("person_id");
    return id ? { id, name: asked.get("name") || id } : null;
  });
  const [open, setOpen] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const names = useSeen(`/api/projects/${props.projectId}/catalog/events`);
  const query = new URLSearchParams({ limit: String(PAGE) });
  if (event.trim()) query.set("event", event.trim());
  if (person.trim()) query.set("distinct_id", person.trim());
  if (owner) query.set("person_id", owner.id);
  if (since) query.set("after", hoursAgo(Number(since)));
  const properties = ready(filters);
  if (properties.length > 0) query.set("properties", JSON.stringify(properties));
  if (leaveOut.on) query.set("filter_test_accounts", "true");
  const list = useCursorPages<FullEvent>(`/api/projects/${props.projectId}/events`, query, generation);
  const events = list.rows;
  // A person by the name they go by (their email or name), else by the event's distinct id.
  const nameOf = (e: FullEvent) => (e.person_id && list.names[e.person_id]) || e.distinct_id;

  const filtered = event.trim() !== "" || person.trim() !== "" || since !== "" || properties.length > 0 || leaveOut.on || owner !== null;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Events</h1>
        <div class="spacer" />
        <button type="button" class="ghost" onClick={() => setGeneration(generation + 1)}>Refresh</button>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Event filters">
        <Suggest id="events-event" label="Event" value={event} placeholder="signup" onChange={setEvent} seen={names} />
        <div class="field">
          <label for="events-person">Person (distinct id)</label>
          <input id="events-person" value={person} onInput={(e) => setPerson(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="events-since">Sent</label>
          <select id="events-since" value={since} onChange={(e) => setSince(e.currentTarget.value)}>
            <option value="">Any time</option>
            <option value="1">In the last hour</option>
            <option value="24">In the last 24 hours</option>
            <option value="168">In the last 7 days</option>
          </select>
        </div>
      </form>
      {owner && (
        <p class="owner">
          <span>Events of <strong>{owner.name}</strong>, all their distinct ids</span>
          <button type="button" class="ghost small" aria-label={`Show everyone's events, not only ${owner.name}'s`}
            onClick={() => (setOwner(null), history.replaceState(null, "", location.pathname))}>×</button>
        </p>
      )}
      <div class="events-filters">
        <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
        <LeaveOutToggle {...leaveOut} />
      </div>
      <ErrorNote error={list.error} />
      <section class="card">
        {events === null ? (
          <p class="muted" aria-busy="true">Loading…</p>
        ) : events.length === 0 ? (
          <p class="muted">
            {filtered ? "No events match." : <>No events yet. Add the snippet to your app (see <a href={`/projects/${props.projectId}`}>Install</a>) or send them with any PostHog SDK.</>}
          </p>
        ) : (
          <table class="table" data-testid="events">
            <thead>
              <tr>
                <th class="w-when">Time</th>
                <th class="w-name">Event</th>
                <th>Person</th>
                <th>Page</th>
                <th>Browser</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => [
                <tr key={e.uuid}>
                  <td class="nowrap">
                    <button type="button" class="linkish" aria-expanded={open === e.uuid} aria-label={`${e.event} at ${new Date(e.timestamp).toLocaleString()}`}
                      onClick={() => setOpen(open === e.uuid ? null : e.uuid)}>
                      <span class="caret" aria-hidden="true">{open === e.uuid ? "▾" : "▸"}</span>{new Date(e.timestamp).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" })}
                    </button>
                  </td>
                  <td class="clip" title={e.event}><code>{e.event}</code></td>
                  <td class="clip" title={nameOf(e) === e.distinct_id ? e.distinct_id : `${nameOf(e)} · ${e.distinct_id}`}><a href={`/projects/${props.projectId}/persons/${encodeURIComponent(e.distinct_id)}`}>{nameOf(e)}</a></td>
                  <td class="clip" title={e.current_url ?? ""}>{e.pathname ?? (pageOf(e.current_url) || "–")}</td>
                  <td class="clip">{[e.browser, e.os].filter(Boolean).join(" · ") || "–"}</td>
                </tr>,
                open === e.uuid && (
                  <tr key={`${e.uuid}-open`} class="opened">
                    <td colSpan={5}><Properties event={e} projectId={props.projectId} name={nameOf(e)} /></td>
                  </tr>
                ),
              ])}
            </tbody>
          </table>
        )}
        {events && events.length > 0 && (
          <ListFoot count={events.length} noun={["event", "events"]} more={list.more} loading={list.loading} onMore={list.showMore} />
        )}
      </section>
    </div>
  );
}

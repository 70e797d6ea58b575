import { useState } from "preact/hooks";
import { Suggest, useCohorts, useSeen } from "../filters";
import { ErrorNote, hoursAgo, ListFoot, pageOf, useCursorPages } from "../layout";

export interface SessionSummary {
  session_id: string;
  distinct_id: string;
  // The person's email or name, when known.
  person_name: string | null;
  start: string;
  duration_s: number;
  first_url: string | null;
  pageviews: number;
  errors: number;
  console_errors: number;
  rage_clicks: number;
  clicks: number;
  browser: string | null;
  os: string | null;
  device_type: string | null;
}

const LIMIT = 100;

export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function SessionsPage(props: { projectId: number }) {
  const [person, setPerson] = useState("");
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [minSeconds, setMinSeconds] = useState("");
  const [url, setUrl] = useState("");
  const [didEvent, setDidEvent] = useState("");
  const [browser, setBrowser] = useState("");
  const [os, setOs] = useState("");
  const [device, setDevice] = useState("");
  const [country, setCountry] = useState("");
  const [since, setSince] = useState("");
  const [cohort, setCohort] = useState("");
  const cohorts = useCohorts(props.projectId);
  const [rage, setRage] = useState(false);
  const [dead, setDead] = useState(false);
  const [sort, setSort] = useState("start");
  const catalog = `/api/projects/${props.projectId}/catalog`;
  const events = useSeen(`${catalog}/events`);
  const urls = useSeen(`${catalog}/values?key=%24current_url&type=event`);
  const browsers = useSeen(`${catalog}/values?key=%24browser&type=event`);
  const systems = useSeen(`${catalog}/values?key=%24os&type=event`);
  const devices = useSeen(`${catalog}/values?key=%24device_type&type=event`);
  const countries = useSeen(`${catalog}/values?key=%24geoip_country_code&type=event`);

  const query = new URLSearchParams({ limit: String(LIMIT) });
  if (person.trim()) query.set("distinct_id", person.trim());
  if (errorsOnly) query.set("has_errors", "true");
  if (Number(minSeconds) > 0) query.set("min_duration_s", String(Number(minSeconds)));
  if (url.trim()) query.set("url_contains", url.trim());
  if (didEvent.trim()) query.set("did_event", didEvent.trim());
  if (browser.trim()) query.set("browser", browser.trim());
  if (os.trim()) query.set("os", os.trim());
  if (device.trim()) query.set("device_type", device.trim());
  if (country.trim()) query.set("country", country.trim().toUpperCase());
  if (cohort) query.set("cohort_id", cohort);
  if (since) query.set("after", hoursAgo(Number(since)));
  if (rage) query.set("has_rage_clicks", "true");
  if (dead) query.set("has_dead_clicks", "true");
  query.set("sort", sort);
  // Newest first pages by cursor; the other orders give one page.
  const list = useCursorPages<SessionSummary>(`/api/projects/${props.projectId}/sessions`, query);
  const sessions = list.rows;

  const filtered =
    [person, minSeconds, url, didEvent, browser, os, device, country, since, cohort].some((v) => v.trim() !== "") ||
    errorsOnly || rage || dead;
  return (
    <div class="page">
      <h1>Sessions</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Session filters">
        <div class="field">
          <label for="sessions-person">Person (distinct id)</label>
          <input id="sessions-person" value={person} onInput={(e) => setPerson(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="sessions-min">At least (seconds)</label>
          <input id="sessions-min" type="number" min={0} value={minSeconds} onInput={(e) => setMinSeconds(e.currentTarget.value)} />
        </div>
        <Suggest id="sessions-url" label="Visited URL with" value={url} placeholder="/checkout" onChange={setUrl}
          seen={urls} />
        <Suggest id="sessions-event" label="Did the event" value={didEvent} placeholder="signup" onChange={setDidEvent}
          seen={events} />
        <Suggest id="sessions-browser" label="Browser" value={browser} placeholder="Chrome" onChange={setBrowser}
          seen={browsers} />
        <Suggest id="sessions-os" label="OS" value={os} placeholder="Mac OS X" onChange={setOs} seen={systems} />
        <Suggest id="sessions-device" label="Device" value={device} placeholder="Desktop" onChange={setDevice}
          seen={devices} />
        <Suggest id="sessions-country" label="Country" value={country} placeholder="DE" onChange={setCountry}
          seen={countries} />
        {cohorts.length > 0 && (
          <div class="field">
            <label for="sessions-cohort">Person in cohort</label>
            <select id="sessions-cohort" value={cohort} onChange={(e) => setCohort(e.currentTarget.value)}>
              <option value="">Anyone</option>
              {cohorts.map((c) => <option value={String(c.id)} key={c.id}>{c.name}</option>)}
            </select>
          </div>
        )}
        <div class="field">
          <label for="sessions-since">Started</label>
          <select id="sessions-since" value={since} onChange={(e) => setSince(e.currentTarget.value)}>
            <option value="">Any time</option>
            <option value="24">In the last 24 hours</option>
            <option value="168">In the last 7 days</option>
            <option value="720">In the last 30 days</option>
          </select>
        </div>
        <div class="field">
          <label for="sessions-sort">Sort by</label>
          <select id="sessions-sort" value={sort} onChange={(e) => setSort(e.currentTarget.value)}>
            <option value="start">Newest</option>
            <option value="duration">Longest</option>
            <option value="errors">Most errors</option>
            <option value="activity">Most clicks</option>
          </select>
        </div>
        <label class="check">
          <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.currentTarget.checked)} /> With errors
        </label>
        <label class="check">
          <input type="checkbox" checked={rage} onChange={(e) => setRage(e.currentTarget.checked)} /> With rage clicks
        </label>
        <label class="check">
          <input type="checkbox" checked={dead} onChange={(e) => setDead(e.currentTarget.checked)} /> With dead clicks
        </label>
      </form>
      <ErrorNote error={list.error} />
      <section class="card">
        {sessions === null ? (
          <p class="muted" aria-busy="true">Loading…</p>
        ) : sessions.length === 0 && filtered ? (
          <p class="muted">No recorded sessions match.</p>
        ) : sessions.length === 0 ? (
          <p class="muted" data-testid="no-recordings">
            Nothing recorded yet. Visits are recorded once the snippet is on your site (see{" "}
            <a href={`/projects/${props.projectId}/install`}>Install</a>); what is recorded, and how
            much, is set in <a href={`/projects/${props.projectId}/settings`}>Settings</a>.
          </p>
        ) : (
          <table class="table" data-testid="sessions">
            <thead>
              <tr>
                <th class="w-start">Started</th>
                <th>Person</th>
                <th>First page</th>
                <th class="w-num">Length</th>
                <th class="w-num">Pages</th>
                <th class="w-num">Errors</th>
                <th>Device</th>
              </tr>
            </thead>
            <tbody>
              {sessions.map((s) => (
                <tr key={s.session_id}>
                  <td class="nowrap">
                    <a href={`/projects/${props.projectId}/sessions/${encodeURIComponent(s.session_id)}`}>
                      {new Date(s.start).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })}
                    </a>
                  </td>
                  <td class="clip" title={s.distinct_id}>{s.person_name ?? s.distinct_id}</td>
                  <td class="clip" title={s.first_url ?? ""}>{pageOf(s.first_url) || "–"}</td>
                  <td>{s.duration_s > 0 && s.duration_s < 1 ? "< 0:01" : clock(s.duration_s)}</td>
                  <td>{s.pageviews}</td>
                  <td class={s.errors + s.console_errors ? "bad" : ""}>{s.errors + s.console_errors}</td>
                  <td class="clip">{[s.browser, s.os].filter(Boolean).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {sessions && sessions.length > 0 && (sort !== "start" && sessions.length === LIMIT ? (
          <div class="list-foot"><span class="muted">The first {LIMIT} in this order; sort by newest to page through them all.</span></div>
        ) : (
          <ListFoot count={sessions.length} noun={["session", "sessions"]} more={list.more} loading={list.loading} onMore={list.showMore} />
        ))}
      </section>
    </div>
  );
}

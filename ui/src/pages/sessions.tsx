import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { ErrorNote } from "../layout";

export interface SessionSummary {
  session_id: string;
  distinct_id: string;
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
  const [rage, setRage] = useState(false);
  const [sort, setSort] = useState("start");
  const [sessions, setSessions] = useState<SessionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const query = new URLSearchParams({ limit: "100" });
    if (person.trim()) query.set("distinct_id", person.trim());
    if (errorsOnly) query.set("has_errors", "true");
    if (Number(minSeconds) > 0) query.set("min_duration_s", String(Number(minSeconds)));
    if (url.trim()) query.set("url_contains", url.trim());
    if (didEvent.trim()) query.set("did_event", didEvent.trim());
    if (browser.trim()) query.set("browser", browser.trim());
    if (rage) query.set("has_rage_clicks", "true");
    query.set("sort", sort);
    const timer = setTimeout(() => {
      api<{ results: SessionSummary[] }>("GET", `/api/projects/${props.projectId}/sessions?${query}`)
        .then((page) => {
          setSessions(page.results);
          setError(null);
        })
        .catch((err) => setError(err instanceof ApiError ? err.message : String(err)));
    }, 200);
    return () => clearTimeout(timer);
  }, [props.projectId, person, errorsOnly, minSeconds, url, didEvent, browser, rage, sort]);

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
        <div class="field">
          <label for="sessions-url">Visited URL with</label>
          <input id="sessions-url" value={url} placeholder="/checkout" onInput={(e) => setUrl(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="sessions-event">Did the event</label>
          <input id="sessions-event" value={didEvent} placeholder="signup" onInput={(e) => setDidEvent(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="sessions-browser">Browser</label>
          <input id="sessions-browser" value={browser} placeholder="Chrome" onInput={(e) => setBrowser(e.currentTarget.value)} />
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
      </form>
      <ErrorNote error={error} />
      <section class="card">
        {sessions === null ? (
          <p class="muted" aria-busy="true">Loading…</p>
        ) : sessions.length === 0 ? (
          <p class="muted">No recorded sessions match.</p>
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
                  <td class="clip" title={s.distinct_id}>{s.distinct_id}</td>
                  <td class="clip" title={s.first_url ?? ""}>{s.first_url ?? "–"}</td>
                  <td>{clock(s.duration_s)}</td>
                  <td>{s.pageviews}</td>
                  <td class={s.errors + s.console_errors ? "bad" : ""}>{s.errors + s.console_errors}</td>
                  <td class="clip">{[s.browser, s.os].filter(Boolean).join(" · ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

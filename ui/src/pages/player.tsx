// The replay player: rrweb's Replayer rebuilds the recorded page in an iframe sandboxed
// without scripts, beside the session's pages, clicks, console and network, all in step.
import { Replayer } from "@rrweb/replay";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, snapshotsUrl, type StoredEvent } from "../api";
import { ErrorNote, pageOf } from "../layout";
import { usePersonName } from "../people";
import { clock } from "./sessions";

interface RrwebEvent {
  type: number;
  timestamp: number;
  data: Record<string, unknown>;
}

interface Marker {
  at: number; // ms from the start
  kind: "page" | "click" | "error" | "console" | "network" | "rage" | "custom";
  text: string;
  failed?: boolean; // a request that got no answer or an error status
}

// The session's analytics events: its person, device, rage clicks and custom events.
function eventMarkers(events: StoredEvent[], start: number): Marker[] {
  const out: Marker[] = [];
  for (const e of events) {
    const at = Date.parse(e.timestamp) - start;
    if (e.event === "$rageclick") out.push({ at, kind: "rage", text: "Rage click" });
    else if (e.event === "$exception") out.push({ at, kind: "error", text: "Exception" });
    else if (!e.event.startsWith("$")) out.push({ at, kind: "custom", text: e.event });
  }
  return out;
}

const FULL_SNAPSHOT = 2;
const META = 4;
const INCREMENTAL = 3;
const PLUGIN = 6;
const MOUSE_INTERACTION = 2;
const CLICK = 2;

function markersOf(events: RrwebEvent[], start: number): Marker[] {
  const out: Marker[] = [];
  for (const e of events) {
    const at = e.timestamp - start;
    if (e.type === META && typeof e.data.href === "string") {
      out.push({ at, kind: "page", text: e.data.href });
    } else if (e.type === INCREMENTAL && e.data.source === MOUSE_INTERACTION && e.data.type === CLICK) {
      out.push({ at, kind: "click", text: "Click" });
    } else if (e.type === PLUGIN) {
      const payload = (e.data.payload ?? {}) as Record<string, unknown>;
      if (e.data.plugin === "rrweb/console@1") {
        const level = String(payload.level ?? "log");
        const text = Array.isArray(payload.payload) ? payload.payload.map(String).join(" ") : "";
        out.push({ at, kind: level === "error" ? "error" : "console", text: `${level}: ${text}` });
      } else if (e.data.plugin === "rrweb/network@1") {
        // The recorder sends `{requests: [...]}`, each with its own time.
        const requests = Array.isArray(payload.requests) ? (payload.requests as Record<string, unknown>[]) : [payload];
        for (const r of requests) {
          const when = typeof r.timestamp === "number" ? r.timestamp - start : at;
          const ms = typeof r.duration === "number" ? ` · ${Math.round(r.duration)} ms` : "";
          const failed = typeof r.status === "number" && (r.status === 0 || r.status >= 400);
          out.push({ at: when, kind: "network", failed, text: `${r.method ?? "GET"} ${r.name ?? ""} → ${r.status ?? ""}${ms}` });
        }
      }
    }
  }
  return out;
}

export function PlayerPage(props: {
  projectId: number;
  sessionId: string;
  startAt: number;
  startTime?: string | null;
  prefetched?: Promise<{ events: unknown[] }> | null;
}) {
  const stage = useRef<HTMLDivElement>(null);
  const replayer = useRef<Replayer | null>(null);
  const [events, setEvents] = useState<RrwebEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [playing, setPlaying] = useState(false);
  const [now, setNow] = useState(0);
  const [speed, setSpeed] = useState(1);
  const [skip, setSkip] = useState(true);
  const [analytics, setAnalytics] = useState<StoredEvent[]>([]);

  useEffect(() => {
    const url = snapshotsUrl(props.projectId, props.sessionId);
    // The app may have asked for the recording already, while this page's code loaded.
    (props.prefetched ?? Promise.reject(new Error("none")))
      .catch(() => api<{ events: unknown[] }>("GET", url))
      .then((body) => setEvents(body.events as RrwebEvent[]))
      .catch((err) => setError(err instanceof ApiError ? err.message : String(err)));
    const query = new URLSearchParams({ session_id: props.sessionId, limit: "1000" });
    api<{ results: StoredEvent[] }>("GET", `/api/projects/${props.projectId}/events?${query}`)
      .then((page) => setAnalytics(page.results))
      .catch(() => setAnalytics([]));
  }, [props.projectId, props.sessionId]);

  // A loop, not Math.min(...spread): a long recording has more events than arguments fit.
  const [start, total] = useMemo(() => {
    if (!events || !events.length) return [0, 0];
    let lo = Infinity;
    let hi = -Infinity;
    for (const e of events) {
      lo = Math.min(lo, e.timestamp);
      hi = Math.max(hi, e.timestamp);
    }
    return [lo, hi - lo];
  }, [events]);
  // Seconds with a tenth for a recording of a few seconds, where m:ss would read 0:00.
  const stamp = (ms: number) => (total < 10_000 ? `${(ms / 1000).toFixed(1)} s` : clock(ms / 1000));
  // rrweb cannot go back to a moment at or before the first full snapshot once it has played
  // past it (the frame keeps the later state): such seeks land just after it instead.
  const floor = useMemo(() => {
    const full = events?.find((e) => e.type === FULL_SNAPSHOT);
    return full ? full.timestamp - start + 1 : 0;
  }, [events, start]);
  const markers = useMemo(
    () => (events ? [...markersOf(events, start), ...eventMarkers(analytics, start)].sort((a, b) => a.at - b.at) : []),
    [events, analytics],
  );
  const who = analytics.length ? analytics[analytics.length - 1] : null;
  const name = usePersonName(props.projectId, who?.distinct_id ?? null);

  useEffect(() => {
    if (!events || !stage.current || events.length < 2) return;
    const r = new Replayer(events as never, {
      root: stage.current,
      skipInactive: true,
      mouseTail: false,
      showWarning: false,
      UNSAFE_replayCanvas: false,
    });
    replayer.current = r;
    // The recorded viewport, scaled to fit the stage.
    const fit = (size: { width: number; height: number }) => {
      const box = stage.current;
      const wrapper = box?.querySelector<HTMLElement>(".replayer-wrapper");
      if (!box || !wrapper || !size.width || !size.height) return;
      const scale = Math.min(box.clientWidth / size.width, box.clientHeight / size.height, 1);
      const x = (box.clientWidth - size.width * scale) / 2;
      const y = (box.clientHeight - size.height * scale) / 2;
      wrapper.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
    };
    r.on("resize", (size) => fit(size as { width: number; height: number }));
    const meta = events.find((e) => e.type === META);
    if (meta) fit({ width: Number(meta.data.width), height: Number(meta.data.height) });
    // `t`: milliseconds into the recording; `at`: a moment (a drill-down's step time).
    const at = props.startTime ? Date.parse(props.startTime) - start : props.startAt;
    const first = Math.max(0, Math.min(Number.isFinite(at) ? at : 0, total));
    r.pause(first);
    setNow(first);
    const timer = setInterval(() => {
      const t = r.getCurrentTime();
      setNow(Math.min(t, total));
      if (t >= total) setPlaying(false);
    }, 200);
    return () => {
      clearInterval(timer);
      r.destroy();
      replayer.current = null;
    };
  }, [events]);

  const seek = (to: number) => {
    const r = replayer.current;
    if (!r) return;
    const at = Math.min(total, Math.max(to, floor));
    if (playing) r.play(at);
    else r.pause(at);
    setNow(at);
  };
  const toggle = () => {
    const r = replayer.current;
    if (!r) return;
    if (playing) r.pause();
    else r.play(now >= total ? floor : now);
    setPlaying(!playing);
  };
  useEffect(() => replayer.current?.setConfig({ speed, skipInactive: skip }), [speed, skip, events]);
  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest("input, select, textarea")) return;
      if (e.key === " ") {
        e.preventDefault();
        toggle();
      } else if (e.key === "ArrowRight") seek(Math.min(total, now + 5000));
      else if (e.key === "ArrowLeft") seek(Math.max(0, now - 5000));
    };
    addEventListener("keydown", keys);
    return () => removeEventListener("keydown", keys);
  });

  const share = `${location.origin}/projects/${props.projectId}/sessions/${encodeURIComponent(props.sessionId)}?t=${Math.round(now)}`;
  const consoleLines = markers.filter((m) => m.kind === "console" || m.kind === "error" || m.kind === "network");
  const listed = markers.filter((m) => m.kind !== "network");
  return (
    <div class="page player-page">
      <div class="page-head">
        <h1>Session</h1>
        <code class="muted">{props.sessionId}</code>
      </div>
      <ErrorNote error={error} />
      <div class="player">
        <div class="card stage-card">
          <div class="stage" ref={stage} data-testid="stage" />
          <div class="controls-bar">
            <button type="button" class="primary" onClick={toggle} aria-label={playing ? "Pause" : "Play"}>
              {playing ? "Pause" : "Play"}
            </button>
            <span class="time" aria-live="off">{stamp(now)} / {stamp(total)}</span>
            <div class="timeline">
              <input type="range" aria-label="Position" min={0} max={total} step={100} value={now}
                onInput={(e) => seek(Number(e.currentTarget.value))} />
              {total > 0 && markers.filter((m) => m.kind !== "console" && m.kind !== "network").map((m, i) => (
                <span key={i} class={`mark m-${m.kind}`} style={{ left: `${(m.at / total) * 100}%` }} title={m.text} />
              ))}
            </div>
            <select aria-label="Speed" value={speed} onChange={(e) => setSpeed(Number(e.currentTarget.value))}>
              {[1, 2, 4, 8].map((s) => <option value={s} key={s}>{s}×</option>)}
            </select>
            <label class="check"><input type="checkbox" checked={skip} onChange={(e) => setSkip(e.currentTarget.checked)} /> Skip idle</label>
            <button type="button" class="ghost small" onClick={() => navigator.clipboard?.writeText(share)} title={share}>Copy link</button>
          </div>
        </div>
        <aside class="side">
          {who && (
            <section class="card who" data-testid="who">
              <h2>Person</h2>
              <p>
                <a href={`/projects/${props.projectId}/persons/${encodeURIComponent(who.distinct_id)}`}>{name}</a>
                {name !== who.distinct_id && <span class="muted"> · {who.distinct_id}</span>}
              </p>
              <p class="muted">{[who.browser, who.os].filter(Boolean).join(" · ") || "Unknown device"}</p>
            </section>
          )}
          <section class="card">
            <h2>Events</h2>
            <ol class="events" data-testid="event-list">
              {listed.map((m, i) => (
                <li key={i} class={`ev-${m.kind}`}>
                  <button type="button" class="row" onClick={() => seek(m.at)}>
                    <span class="at">{clock(m.at / 1000)}</span>
                    <span class="clip" title={m.text}>{m.kind === "page" ? pageOf(m.text) : m.text}</span>
                  </button>
                </li>
              ))}
            </ol>
          </section>
          <section class="card">
            <h2>Console and network</h2>
            <ol class="events console" data-testid="console">
              {consoleLines.map((m, i) => (
                <li key={i} class={`ev-${m.kind}${m.failed ? " ev-failed" : ""} ${m.at <= now ? "past" : "future"}`}>
                  <span class="at">{clock(m.at / 1000)}</span> <span>{m.text}</span>
                </li>
              ))}
              {events !== null && consoleLines.length === 0 && <li class="muted">Nothing was logged and no request was recorded.</li>}
            </ol>
          </section>
        </aside>
      </div>
    </div>
  );
}

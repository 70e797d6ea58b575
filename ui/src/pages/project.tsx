import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Project, type StoredEvent } from "../api";
import { ErrorNote, pageOf } from "../layout";

function CopyBlock(props: { label: string; text: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard?.writeText(props.text).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <div class="copy">
      <div class="copy-head">
        <span>{props.label}</span>
        <button type="button" class="ghost small" onClick={copy}>{copied ? "Copied" : "Copy"}</button>
      </div>
      <pre><code>{props.text}</code></pre>
    </div>
  );
}

function LiveEvents(props: { projectId: number }) {
  const [events, setEvents] = useState<StoredEvent[] | null>(null);
  useEffect(() => {
    let stop = false;
    const tick = async () => {
      try {
        const page = await api<{ results: StoredEvent[] }>("GET", `/api/projects/${props.projectId}/events?limit=20`);
        if (!stop) setEvents(page.results);
      } catch {
        /* the next tick tries again */
      }
      if (!stop) timer = setTimeout(tick, 2000);
    };
    let timer = setTimeout(tick, 0);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [props.projectId]);

  return (
    <section class="card" aria-labelledby="live">
      <h2 id="live">
        Events arriving now <span class={events?.length ? "dot on" : "dot"} aria-hidden="true" />
      </h2>
      {events === null ? (
        <p class="muted" aria-busy="true">Loading…</p>
      ) : events.length === 0 ? (
        <p class="muted">Waiting for the first event. Open your app in a browser once the snippet is in.</p>
      ) : (
        <table class="table" data-testid="live-events">
          <thead>
            <tr>
              <th class="w-time">Time</th>
              <th class="w-event">Event</th>
              <th>Person</th>
              <th>Page</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.uuid}>
                <td class="nowrap">{new Date(e.timestamp).toLocaleTimeString()}</td>
                <td class="clip" title={e.event}><code>{e.event}</code></td>
                <td class="clip" title={e.distinct_id}>{e.distinct_id}</td>
                <td class="clip" title={e.current_url ?? ""}>{pageOf(e.current_url)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function ProjectPage(props: { id: number; tab: string }) {
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setProject(null);
    api<Project[]>("GET", "/api/projects")
      .then((all) => {
        const found = all.find((p) => p.id === props.id);
        if (found) setProject(found);
        else setError("There is no such project, or you are not a member of it.");
      })
      .catch((err) => setError(err instanceof ApiError ? err.message : "The server did not answer."));
  }, [props.id]);

  if (error) return <div class="page"><ErrorNote error={error} /></div>;
  if (!project) return <div class="page"><p class="muted" aria-busy="true">Loading…</p></div>;

  const origin = location.origin;
  const snippet = `<script src="${origin}/static/userlens.js" data-token="${project.api_token}" async></script>`;
  const posthog = `posthog.init("${project.api_token}", { api_host: "${origin}" })`;
  return (
    <div class="page">
      <div class="page-head">
        <h1>{project.name}</h1>
        <span class="muted">Time zone {project.timezone}</span>
      </div>
      <div class="columns">
        <section class="card stack" aria-labelledby="install">
          <h2 id="install">Install</h2>
          <p>Paste this tag into every page of your app, before <code>&lt;/head&gt;</code>:</p>
          <CopyBlock label="HTML" text={snippet} />
          <p class="muted">Already using posthog-js? Point it at this server instead:</p>
          <CopyBlock label="JavaScript" text={posthog} />
          <p class="muted">
            Server-side SDKs (posthog-python, posthog-node, …) work too, with the project token{" "}
            <code>{project.api_token}</code> and host <code>{origin}</code>.
          </p>
        </section>
        <LiveEvents projectId={project.id} />
      </div>
    </div>
  );
}

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Me, type Project } from "../api";
import { ErrorNote, message, Outcome, useSubmit } from "../layout";
import { navigate } from "../router";

export function zones(): string[] {
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone");
  return all && all.length ? ["UTC", ...all.filter((z) => z !== "UTC")] : ["UTC"];
}

function NewProject(props: { onCreated: (p: Project) => void }) {
  const [name, setName] = useState("");
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [error, setError] = useState<string | null>(null);

  const send = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      props.onCreated(await api<Project>("POST", "/api/projects", { name, timezone }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "The server did not answer.");
    }
  };

  return (
    <form class="card stack" onSubmit={send} aria-labelledby="new-project">
      <h2 id="new-project">New project</h2>
      <div class="field">
        <label for="project-name">Name</label>
        <input id="project-name" name="name" required maxLength={200} placeholder="My web app"
          value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="project-timezone">Time zone</label>
        <select id="project-timezone" name="timezone" value={timezone} aria-describedby="timezone-hint"
          onChange={(e) => setTimezone(e.currentTarget.value)}>
          {zones().map((z) => (
            <option value={z} key={z}>{z}</option>
          ))}
        </select>
        <span class="hint" id="timezone-hint">Days and weeks in charts start at midnight here.</span>
      </div>
      <ErrorNote error={error} />
      <button type="submit" class="primary">Create project</button>
    </form>
  );
}

interface Backup {
  name: string;
  created_at: string;
  seconds: number;
  events: number;
  recorded_sessions: number;
  metadata: boolean;
  bytes: number;
  pending_erasures: number;
}

function size(bytes: number): string {
  const units = ["bytes", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function Backups() {
  const [backups, setBackups] = useState<Backup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [freeMb, setFreeMb] = useState<number | null>(null);
  const load = async () => {
    try {
      setBackups(await api<Backup[]>("GET", "/api/backups"));
      setFreeMb((await api<{ disk_free_mb: number }>("GET", "/_health")).disk_free_mb);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => void load(), []);
  const [busy, setBusy] = useState(false);
  const made = useSubmit(async () => {
    setBusy(true);
    try {
      const b = await api<Backup>("POST", "/api/backups");
      await load();
      return `Backed up ${b.events.toLocaleString()} events and ${b.recorded_sessions.toLocaleString()} recorded sessions in ${b.seconds.toFixed(1)} s, into the folder ${b.name}.`;
    } finally {
      setBusy(false);
    }
  });
  return (
    <section class="card stack" aria-labelledby="backups">
      <h2 id="backups">Backups</h2>
      <p class="muted">
        A backup copies every project, user and recording while the server runs, into a folder of the
        server's backups directory. Copy that folder off this machine. To restore, stop the server, run{" "}
        <code>userlens backup restore NAME --into DIR</code> and start the server on <code>DIR</code>.
      </p>
      {freeMb !== null && <p class="hint" data-testid="disk-free">{size(freeMb * 1024 * 1024)} free on the server's disk.</p>}
      {backups !== null && backups.length === 0 && <p class="muted">No backups yet.</p>}
      {backups !== null && backups.length > 0 && (
        <table class="table numbers" data-testid="backups">
          <thead><tr><th>Taken</th><th class="w-num">Events</th><th class="w-num">Recordings</th><th class="w-num">Size</th></tr></thead>
          <tbody>
            {backups.map((b) => (
              <tr key={b.name} title={b.name}>
                <td>
                  {new Date(b.created_at).toLocaleString()}
                  {b.name.endsWith("-before-upgrade") && <span class="muted"> · before an upgrade</span>}
                  {b.pending_erasures > 0 && (
                    <div
                      class="hint"
                      data-testid="pending-erasures"
                      title="Persons or projects deleted since this backup: deleted from it within a minute, or, if an older version made it, when it is restored"
                    >
                      {b.pending_erasures.toLocaleString()} {b.pending_erasures === 1 ? "deletion" : "deletions"} to repeat in it
                    </div>
                  )}
                </td>
                <td class="w-num">{b.events.toLocaleString()}</td>
                <td class="w-num">{b.recorded_sessions.toLocaleString()}</td>
                <td class="w-num">{size(b.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={made.submit} aria-label="Back up now">
        <button type="submit" class="primary" disabled={busy}>{busy ? "Backing up…" : "Back up now"}</button>
      </form>
      <Outcome note={made.note} error={made.error ?? error} />
    </section>
  );
}

export function ProjectsPage(props: { me: Me }) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const deleted = new URLSearchParams(location.search).get("deleted");
  useEffect(() => {
    void api<Project[]>("GET", "/api/projects").then(setProjects);
  }, []);

  return (
    <div class="page">
      <h1>Projects</h1>
      {deleted && <p class="ok" role="status">{deleted} was deleted, with all its data.</p>}
      <div class="columns">
        <section class="card">
          {projects === null ? (
            <p class="muted" aria-busy="true">Loading…</p>
          ) : projects.length === 0 ? (
            <p class="muted">
              No projects yet. {props.me.is_admin ? "Create one to get a snippet for your app." : "Ask an admin to add you to one."}
            </p>
          ) : (
            <ul class="list">
              {projects.map((p) => (
                <li key={p.id}>
                  <a href={`/projects/${p.id}`}>
                    <strong>{p.name}</strong>
                    <span class="muted">{p.timezone}</span>
                  </a>
                </li>
              ))}
            </ul>
          )}
        </section>
        {props.me.is_admin && (
          <div class="stack">
            <NewProject onCreated={(p) => navigate(`/projects/${p.id}`)} />
            <Backups />
          </div>
        )}
      </div>
    </div>
  );
}

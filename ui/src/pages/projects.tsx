import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Me, type Project } from "../api";
import { ErrorNote } from "../layout";
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
        {props.me.is_admin && <NewProject onCreated={(p) => navigate(`/projects/${p.id}`)} />}
      </div>
    </div>
  );
}

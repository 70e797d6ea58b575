import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Me, type Project } from "./api";

export function Shell(props: {
  me: Me;
  projectId: number | null;
  path: string;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const trouble = useServerTrouble(props.path);
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true">◎</span> Userlens
        </a>
        <nav class="crumbs" aria-label="Sections">
          <a href="/" aria-current={props.path === "/" ? "page" : undefined}>Projects</a>
          {props.projectId !== null &&
            [
              ["/dashboards", "Dashboards"],
              ["/insights", "Insights"],
              ["/events", "Events"],
              ["/sessions", "Sessions"],
              ["/persons", "Persons"],
              ["/cohorts", "Cohorts"],
              ["", "Install"],
              ["/settings", "Settings"],
            ].map(([suffix, text]) => {
              const href = `/projects/${props.projectId}${suffix}`;
              return (
                <a href={href} key={href}
                  aria-current={props.path === href || (suffix && props.path.startsWith(`${href}/`)) ? "page" : undefined}>
                  {text}
                </a>
              );
            })}
        </nav>
        <div class="user">
          <a href="/account" class="muted">{props.me.email}</a>
          <button type="button" class="ghost" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      {trouble && (
        <div class="server-alert" role="alert" data-testid="server-alert">
          <strong>The server needs attention:</strong> {trouble}
        </div>
      )}
      <main class="content">{props.children}</main>
    </div>
  );
}

/** What the server's health check says is wrong (events that cannot be loaded, a disk
 * nearly full), looked at again on every page; null when all is well. */
function useServerTrouble(path: string): string | null {
  const [trouble, setTrouble] = useState<string | null>(null);
  useEffect(() => {
    api<{ detail: string | null }>("GET", "/_health")
      .then((health) => setTrouble(health.detail))
      .catch((err) => setTrouble(message(err)));
  }, [path]);
  return trouble;
}

export function ErrorNote(props: { error: string | null }) {
  if (!props.error) return null;
  // A project that is gone, or not this user's: say so, and offer the way back.
  const gone = props.error === "no such project";
  return (
    <p class="error" role="alert">
      {gone ? "No such project: it does not exist, or you are not a member of it. " : props.error}
      {gone && <a href="/projects">Back to your projects</a>}
    </p>
  );
}

/** What went wrong, as the page says it. */
export const message = (err: unknown) => (err instanceof ApiError ? err.message : String(err));

/** A form's submit: clears the last outcome, runs `action`, then shows the note it returns,
 * or what went wrong (`Outcome`). */
export function useSubmit(action: () => Promise<string>) {
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setNote(null);
    try {
      setNote(await action());
    } catch (err) {
      setError(message(err));
    }
  };
  return { note, error, submit };
}

export function Outcome(props: { note: string | null; error: string | null }) {
  return (
    <>
      <ErrorNote error={props.error} />
      {props.note && <p class="ok" role="status">{props.note}</p>}
    </>
  );
}

/** Whether the signed-in user may change this project's things (admins and members; not
 * viewers). False until known. */
/** The signed-in user's role in the project (null until known, or when none). */
export function useRole(projectId: number): string | null {
  const [role, setRole] = useState<string | null>(null);
  useEffect(() => {
    api<Project[]>("GET", "/api/projects")
      .then((all) => setRole(all.find((p) => p.id === projectId)?.role ?? null))
      .catch(() => setRole(null));
  }, [projectId]);
  return role;
}

export function useCanChange(projectId: number): boolean {
  const role = useRole(projectId);
  return role !== null && role !== "viewer";
}

/** "Rename…", then the name in a field to change and save (`save` throws to say why not). */
export function Rename(props: { what: string; name: string; save: (name: string) => Promise<void> }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(props.name);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await props.save(name.trim());
      setEditing(false);
    } catch (err) {
      setError(message(err));
    }
  };
  if (!editing) {
    return (
      <button type="button" class="ghost small" onClick={() => (setName(props.name), setEditing(true))}>
        Rename {props.what}…
      </button>
    );
  }
  return (
    <form class="row-buttons" onSubmit={submit} aria-label={`Rename ${props.what}`}>
      <input aria-label={`New name of the ${props.what}`} required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <button type="submit" class="primary small">Save name</button>
      <button type="button" class="ghost small" onClick={() => setEditing(false)}>Cancel</button>
      <ErrorNote error={error} />
    </form>
  );
}

/** Deleting in two clicks: `ask` arms it (and shows `warning`); `confirm` (naming what goes)
 * does it, or "Keep" disarms. `done` throws to say why not. */
export function TwoStepDelete(props: {
  ask: string;
  askLabel?: string;
  confirm: string;
  small?: boolean;
  warning?: ComponentChildren;
  done: () => Promise<void>;
}) {
  const [armed, setArmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const size = props.small ? " small" : "";
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.done();
      setArmed(false);
    } catch (err) {
      setError(message(err));
    }
    setBusy(false);
  };
  return (
    <>
      {armed ? (
        <>
          <span class="row-buttons">
            <button type="button" class={`danger${size}`} disabled={busy} onClick={() => void remove()}>{props.confirm}</button>
            <button type="button" class={`ghost${size}`} onClick={() => setArmed(false)}>Keep</button>
          </span>
          {props.warning}
        </>
      ) : (
        <button type="button" class={`ghost${size}`} aria-label={props.askLabel} onClick={() => setArmed(true)}>{props.ask}</button>
      )}
      <ErrorNote error={error} />
    </>
  );
}

/** The moment `hours` ago, to the minute (so that a query naming it stays the same from one
 * render to the next), as ISO text. */
export function hoursAgo(hours: number): string {
  return new Date(Math.floor((Date.now() - hours * 3600_000) / 60_000) * 60_000).toISOString();
}

/** A page's URL as a list shows it: its path (and a hash route's path, for apps that route by
 * `#/…`), without the scheme and host that every page of an app shares; the whole URL is for
 * the element's title. Text that is not a URL comes back as it is. */
export function pageOf(url: string | null | undefined): string {
  if (!url) return "";
  try {
    const parsed = new URL(url);
    return parsed.pathname + (parsed.hash.startsWith("#/") ? parsed.hash : "");
  } catch {
    return url;
  }
}

interface CursorPage<T> {
  results: T[];
  next_cursor: string | null;
  // Lists of events also name the persons they show, by person id.
  person_names?: Record<string, string>;
}

/** A list the API pages by cursor (`results`, `next_cursor`): its first page for `query`
 * (asked again, a moment after the query last changed, and when `generation` does), and
 * `showMore` for the next. `names` gathers the pages' person names, when they give some. */
export function useCursorPages<T>(url: string, query: URLSearchParams, generation = 0) {
  const [rows, setRows] = useState<T[] | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const asked = query.toString();
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      api<CursorPage<T>>("GET", `${url}?${asked}`)
        .then((page) => current && (setRows(page.results), setNames(page.person_names ?? {}), setNext(page.next_cursor), setError(null)))
        .catch((e) => current && setError(message(e)));
    }, 200);
    return () => ((current = false), clearTimeout(timer));
  }, [url, asked, generation]);
  const showMore = () => {
    if (!next || !rows) return;
    const more = new URLSearchParams(asked);
    more.set("cursor", next);
    setLoading(true);
    api<CursorPage<T>>("GET", `${url}?${more}`)
      .then((page) => (setRows([...rows, ...page.results]), setNames({ ...names, ...page.person_names }), setNext(page.next_cursor), setError(null)))
      .catch((e) => setError(message(e)))
      .finally(() => setLoading(false));
  };
  return { rows, names, more: next !== null, loading, error, showMore };
}

/** Under a list: how many it shows, and a button for more when there are. */
export function ListFoot(props: { count: number; noun: [string, string]; more: boolean; loading: boolean; onMore: () => void }) {
  return (
    <div class="list-foot">
      <span class="muted">{props.count.toLocaleString()} {props.noun[props.count === 1 ? 0 : 1]}{props.more ? " so far" : ""}</span>
      {props.more && <button type="button" class="ghost small" onClick={props.onMore} disabled={props.loading}>{props.loading ? "Loading…" : "Show more"}</button>}
    </div>
  );
}

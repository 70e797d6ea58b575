import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Me, onSessionEnded, setCsrfToken, signOut, snapshotsUrl } from "./api";
import { Shell } from "./layout";
import { AccountPage } from "./pages/account";
import { CohortsPage } from "./pages/cohorts";
import { DashboardsPage } from "./pages/dashboards";
import { EventsPage } from "./pages/events";
import { PersonPage, PersonsPage } from "./pages/persons";
import { SettingsPage } from "./pages/settings";
import { InsightsPage } from "./pages/insights";
import { SessionsPage } from "./pages/sessions";
import { ProjectPage } from "./pages/project";
import { ProjectsPage } from "./pages/projects";
import { SetupPage, SignInPage } from "./pages/signin";
import { interceptLinks, navigate, usePath } from "./router";

type Boot = { state: "loading" } | { state: "setup" } | { state: "signed-out" } | { state: "in"; me: Me };

// Opening a recording straight from a link: its (large) snapshots and the player's code are
// asked for at once, side by side with the sign-in check, rather than one after another.
const opened = location.pathname.match(/^\/projects\/(\d+)\/sessions\/([^/]+)$/);
let early: { key: string; snapshots: Promise<{ events: unknown[] }> } | null = opened
  ? {
      key: `${opened[1]}/${decodeURIComponent(opened[2])}`,
      snapshots: api<{ events: unknown[] }>("GET", snapshotsUrl(opened[1], decodeURIComponent(opened[2]))),
    }
  : null;
early?.snapshots.catch(() => undefined); // not signed in yet: the player asks again
const playerCode = opened ? import("./pages/player") : null;

/** The early request for this session, once: later visits ask afresh. */
function takeEarly(projectId: number, sessionId: string): Promise<{ events: unknown[] }> | null {
  const found = early && early.key === `${projectId}/${sessionId}` ? early.snapshots : null;
  early = null;
  return found;
}

function App() {
  const path = usePath();
  const [boot, setBoot] = useState<Boot>({ state: "loading" });

  async function load(): Promise<void> {
    // Both at once: one round trip before the first page, not two.
    const [setup, me] = await Promise.allSettled([
      api<{ needed: boolean }>("GET", "/api/setup"),
      api<Me>("GET", "/api/me"),
    ]);
    if (setup.status === "fulfilled" && setup.value.needed) return setBoot({ state: "setup" });
    if (me.status === "rejected") return setBoot({ state: "signed-out" });
    setCsrfToken(me.value.csrf_token);
    setBoot({ state: "in", me: me.value });
  }

  useEffect(() => {
    void load();
  }, []);

  // A session that ends while a page is open brings the sign-in form up where the user is;
  // signing in again carries on on the same page.
  useEffect(() => {
    onSessionEnded(boot.state === "in" ? () => setBoot({ state: "signed-out" }) : null);
  }, [boot.state]);

  const signedIn = (me: Me) => {
    setCsrfToken(me.csrf_token);
    setBoot({ state: "in", me });
    if (path === "/setup" || path === "/signin") navigate("/", true);
  };

  if (boot.state === "loading") return <div class="boot" aria-busy="true" />;
  if (boot.state === "setup") return <SetupPage onDone={signedIn} />;
  if (boot.state === "signed-out") return <SignInPage onDone={signedIn} />;

  const leave = async () => {
    await signOut();
    setBoot({ state: "signed-out" });
    navigate("/signin", true);
  };
  const replay = path.match(/^\/replay\/([^/]+)/);
  if (replay) return <FindReplay sessionId={decodeURIComponent(replay[1])} />;
  const project = path.match(/^\/projects\/(\d+)(?:\/([a-z-]+)(?:\/([^/]+))?)?/);
  return (
    <Shell me={boot.me} onSignOut={leave} projectId={project ? Number(project[1]) : null} path={path}>
      {project && project[2] === "sessions" && project[3] ? (
        <LazyPlayer projectId={Number(project[1])} sessionId={decodeURIComponent(project[3])} />
      ) : project && project[2] === "sessions" ? (
        <SessionsPage projectId={Number(project[1])} />
      ) : project && project[2] === "dashboards" ? (
        <DashboardsPage projectId={Number(project[1])} dashboardId={project[3] ? Number(project[3]) : null} />
      ) : project && project[2] === "persons" && project[3] ? (
        <PersonPage projectId={Number(project[1])} distinctId={decodeURIComponent(project[3])} />
      ) : project && project[2] === "persons" ? (
        <PersonsPage projectId={Number(project[1])} />
      ) : project && project[2] === "cohorts" ? (
        <CohortsPage projectId={Number(project[1])} cohortId={project[3] ? decodeURIComponent(project[3]) : null} />
      ) : project && project[2] === "events" ? (
        <EventsPage projectId={Number(project[1])} />
      ) : project && project[2] === "settings" ? (
        <SettingsPage projectId={Number(project[1])} />
      ) : project && project[2] === "insights" ? (
        <InsightsPage projectId={Number(project[1])} />
      ) : project ? (
        <ProjectPage id={Number(project[1])} tab={project[2] ?? "install"} />
      ) : path === "/account" ? (
        <AccountPage me={boot.me} />
      ) : (
        <ProjectsPage me={boot.me} />
      )}
    </Shell>
  );
}

// The player (with rrweb) loads only when a session is opened.
function LazyPlayer(props: { projectId: number; sessionId: string }) {
  const [Player, setPlayer] = useState<null | typeof import("./pages/player").PlayerPage>(null);
  const [prefetched] = useState(() => takeEarly(props.projectId, props.sessionId));
  useEffect(() => {
    void (playerCode ?? import("./pages/player")).then((m) => setPlayer(() => m.PlayerPage));
  }, []);
  const query = new URLSearchParams(location.search);
  return Player ? (
    <Player projectId={props.projectId} sessionId={props.sessionId} prefetched={prefetched}
      startAt={Number(query.get("t") ?? 0) || 0} startTime={query.get("at")} />
  ) : (
    <div class="page"><p class="muted" aria-busy="true">Loading the player…</p></div>
  );
}

// Links from the snippet name the session alone: find its project, then open the player.
function FindReplay(props: { sessionId: string }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ project_id: number }>("GET", `/api/replay/${encodeURIComponent(props.sessionId)}`)
      .then((found) =>
        navigate(`/projects/${found.project_id}/sessions/${encodeURIComponent(props.sessionId)}${location.search}`, true),
      )
      .catch(() => setError("There is no such recording, or it is in a project you are not a member of."));
  }, [props.sessionId]);
  return <div class="page">{error ? <p class="error" role="alert">{error}</p> : <p class="muted">Finding the recording…</p>}</div>;
}

interceptLinks();
render(<App />, document.getElementById("app")!);

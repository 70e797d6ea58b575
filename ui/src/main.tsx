import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Me, setCsrfToken } from "./api";
import { Shell } from "./layout";
import { InsightsPage } from "./pages/insights";
import { ProjectPage } from "./pages/project";
import { ProjectsPage } from "./pages/projects";
import { SetupPage, SignInPage } from "./pages/signin";
import { interceptLinks, navigate, usePath } from "./router";

type Boot = { state: "loading" } | { state: "setup" } | { state: "signed-out" } | { state: "in"; me: Me };

function App() {
  const path = usePath();
  const [boot, setBoot] = useState<Boot>({ state: "loading" });

  async function load(): Promise<void> {
    const setup = await api<{ needed: boolean }>("GET", "/api/setup");
    if (setup.needed) return setBoot({ state: "setup" });
    try {
      const me = await api<Me>("GET", "/api/me");
      setCsrfToken(me.csrf_token);
      setBoot({ state: "in", me });
    } catch {
      setBoot({ state: "signed-out" });
    }
  }

  useEffect(() => {
    void load();
  }, []);

  const signedIn = (me: Me) => {
    setCsrfToken(me.csrf_token);
    setBoot({ state: "in", me });
    if (path === "/setup" || path === "/signin") navigate("/", true);
  };

  if (boot.state === "loading") return <div class="boot" aria-busy="true" />;
  if (boot.state === "setup") return <SetupPage onDone={signedIn} />;
  if (boot.state === "signed-out") return <SignInPage onDone={signedIn} />;

  const signOut = async () => {
    await api("DELETE", "/api/session");
    setCsrfToken(null);
    setBoot({ state: "signed-out" });
    navigate("/signin", true);
  };
  const project = path.match(/^\/projects\/(\d+)(?:\/([a-z-]+))?/);
  return (
    <Shell me={boot.me} onSignOut={signOut} projectId={project ? Number(project[1]) : null} path={path}>
      {project && project[2] === "insights" ? (
        <InsightsPage projectId={Number(project[1])} />
      ) : project ? (
        <ProjectPage id={Number(project[1])} tab={project[2] ?? "install"} />
      ) : (
        <ProjectsPage me={boot.me} />
      )}
    </Shell>
  );
}

interceptLinks();
render(<App />, document.getElementById("app")!);

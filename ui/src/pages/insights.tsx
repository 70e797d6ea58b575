// The insights page: a tab per insight kind, each its builder; or a saved insight
// (`?insight=ID`) opened in the builder of its kind, to change and save again.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorNote, message, Rename, useCanChange } from "../layout";
import { navigate } from "../router";
import { type SavedInsight, useCatalog, useLeaveOut } from "./builder";
import { Funnels } from "./funnels";
import { Activity, Paths, Retention } from "./simple";
import { SavedInsights } from "./saved";
import { Trends } from "./trends";

const KINDS: [string, string][] = [
  ["trends", "Trends"],
  ["funnel", "Funnel"],
  ["retention", "Retention"],
  ["paths", "Paths"],
  ["lifecycle", "Lifecycle"],
  ["stickiness", "Stickiness"],
  ["saved", "Saved insights"],
];

export function InsightsPage(props: { projectId: number }) {
  const query = new URLSearchParams(location.search);
  const insightId = Number(query.get("insight")) || null;
  return insightId ? <SavedInsightPage projectId={props.projectId} insightId={insightId} key={insightId} /> : <Builders projectId={props.projectId} />;
}

/** A saved insight, loaded, then shown in its builder. */
function SavedInsightPage(props: { projectId: number; insightId: number }) {
  const [saved, setSaved] = useState<SavedInsight | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<SavedInsight>("GET", `/api/projects/${props.projectId}/insights/${props.insightId}`)
      .then(setSaved)
      .catch((err) => setError(message(err)));
  }, [props.projectId, props.insightId]);
  if (error) return <div class="page"><ErrorNote error={error} /><p><a href={`/projects/${props.projectId}/insights`}>New insight</a></p></div>;
  if (!saved) return <p class="muted" aria-busy="true">Loading…</p>;
  return <Builders projectId={props.projectId} saved={saved} />;
}

function Builders(props: { projectId: number; saved?: SavedInsight }) {
  const saved = props.saved;
  const names = useCatalog(props.projectId);
  const asked = saved ? String(saved.spec.kind) : new URLSearchParams(location.search).get("kind");
  const [kind, setKind] = useState(KINDS.some(([k]) => k === asked) ? String(asked) : "trends");
  // Another kind's tab starts a new insight; the opened one stays a click away (back).
  const choose = (k: string) => {
    if (saved) return navigate(`${location.pathname}?kind=${k}`);
    setKind(k);
    history.replaceState(null, "", `${location.pathname}?kind=${k}`);
  };
  const id = props.projectId;
  const shared = useLeaveOut(id, saved?.spec.filter_test_accounts === true);
  const [title, setTitle] = useState(saved?.name ?? "");
  const canChange = useCanChange(id);
  // The builder saves changes under the name as it is now.
  const opened = useMemo(() => saved && { ...saved, name: title }, [saved, title]);
  const mine = (k: string) => (opened && opened.spec.kind === k ? opened : undefined);
  return (
    <div>
      {saved && (
        <div class="page-head opened">
          <h1>{title}</h1>
          {canChange && (
            <Rename what="insight" name={title}
              save={async (name) => setTitle((await api<SavedInsight>("PATCH", `/api/projects/${id}/insights/${saved.id}`, { name })).name)} />
          )}
          <a href={`/projects/${id}/insights?kind=${kind}`}>New insight</a>
        </div>
      )}
      <div class="tabs" role="tablist" aria-label="Insight kind">
        {KINDS.map(([k, text]) => (
          <button type="button" role="tab" aria-selected={kind === k} class={`tab${kind === k ? " on" : ""}${k === "saved" ? " apart" : ""}`} key={k}
            onClick={() => choose(k)}>
            {text}
          </button>
        ))}
      </div>
      {kind === "saved" && <SavedInsights projectId={id} />}
      {kind === "trends" && <Trends projectId={id} names={names} leaveOut={shared} saved={mine("trends")} />}
      {kind === "funnel" && <Funnels projectId={id} names={names} leaveOut={shared} saved={mine("funnel")} />}
      {kind === "retention" && <Retention projectId={id} names={names} leaveOut={shared} saved={mine("retention")} />}
      {kind === "paths" && <Paths projectId={id} leaveOut={shared} saved={mine("paths")} />}
      {(kind === "lifecycle" || kind === "stickiness") && (
        <Activity projectId={id} names={names} kind={kind} key={kind} leaveOut={shared} saved={mine(kind)} />
      )}
    </div>
  );
}

// The insights page: a tab per insight kind, each its builder.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { type LeaveOut, useCatalog } from "./builder";
import { Funnels } from "./funnels";
import { Activity, Paths, Retention } from "./simple";
import { Trends } from "./trends";

const KINDS: [string, string][] = [
  ["trends", "Trends"],
  ["funnel", "Funnel"],
  ["retention", "Retention"],
  ["paths", "Paths"],
  ["lifecycle", "Lifecycle"],
  ["stickiness", "Stickiness"],
];

export function InsightsPage(props: { projectId: number }) {
  const names = useCatalog(props.projectId);
  const asked = new URLSearchParams(location.search).get("kind");
  const [kind, setKind] = useState(KINDS.some(([k]) => k === asked) ? String(asked) : "trends");
  const choose = (k: string) => {
    setKind(k);
    history.replaceState(null, "", `${location.pathname}?kind=${k}`);
  };
  const id = props.projectId;
  const [leaveOut, setLeaveOut] = useState(false);
  const [defined, setDefined] = useState<boolean | null>(null);
  useEffect(() => {
    api<{ test_account_filters: unknown[] }>("GET", `/api/projects/${id}/settings`)
      .then((s) => setDefined(s.test_account_filters.length > 0))
      .catch(() => setDefined(null));
  }, [id]);
  const shared: LeaveOut = { projectId: id, on: leaveOut, defined, onChange: setLeaveOut };
  return (
    <div>
      <div class="tabs" role="tablist" aria-label="Insight kind">
        {KINDS.map(([k, text]) => (
          <button type="button" role="tab" aria-selected={kind === k} class={kind === k ? "tab on" : "tab"} key={k}
            onClick={() => choose(k)}>
            {text}
          </button>
        ))}
      </div>
      {kind === "trends" && <Trends projectId={id} names={names} leaveOut={shared} />}
      {kind === "funnel" && <Funnels projectId={id} names={names} leaveOut={shared} />}
      {kind === "retention" && <Retention projectId={id} names={names} leaveOut={shared} />}
      {kind === "paths" && <Paths projectId={id} leaveOut={shared} />}
      {(kind === "lifecycle" || kind === "stickiness") && <Activity projectId={id} names={names} kind={kind} key={kind} leaveOut={shared} />}
    </div>
  );
}

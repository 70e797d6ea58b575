// Every saved insight of the project, whether on a dashboard or not: open one in its builder,
// put it on a dashboard, or delete it.
import { useEffect, useState } from "preact/hooks";
import { api, localDay } from "../api";
import { ErrorNote, message, TwoStepDelete, useCanChange } from "../layout";
import type { Dashboard } from "./dashboards";

interface Saved {
  id: number;
  name: string;
  description: string;
  spec: { kind: string };
  updated_at: string;
}

const KIND_NAMES: Record<string, string> = {
  trends: "Trends",
  funnel: "Funnel",
  retention: "Retention",
  paths: "Paths",
  lifecycle: "Lifecycle",
  stickiness: "Stickiness",
};

function Row(props: { projectId: number; insight: Saved; boards: Dashboard[]; canChange: boolean; onBoards: (b: Dashboard[]) => void; onDeleted: () => void }) {
  const i = props.insight;
  const [error, setError] = useState<string | null>(null);
  const on = props.boards.filter((b) => b.tiles.some((t) => t.id === i.id));
  const off = props.boards.filter((b) => !on.includes(b));
  const add = async (boardId: string) => {
    const board = props.boards.find((b) => String(b.id) === boardId);
    if (!board) return;
    setError(null);
    try {
      const updated = await api<Dashboard>("PATCH", `/api/projects/${props.projectId}/dashboards/${board.id}`, {
        tiles: [...board.tiles.map((t) => t.id), i.id],
      });
      props.onBoards(props.boards.map((b) => (b.id === updated.id ? updated : b)));
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <tr>
      <td class="clip">
        <a href={`/projects/${props.projectId}/insights?insight=${i.id}`}>{i.name}</a>
        {i.description && <div class="muted clip">{i.description}</div>}
        <ErrorNote error={error} />
      </td>
      <td>{KIND_NAMES[i.spec.kind] ?? i.spec.kind}</td>
      <td class="clip">
        {on.length === 0 ? <span class="muted">none</span> : on.map((b, n) => (
          <span key={b.id}>{n > 0 && ", "}<a href={`/projects/${props.projectId}/dashboards/${b.id}`}>{b.name}</a></span>
        ))}
      </td>
      <td class="nowrap">{localDay(i.updated_at)}</td>
      {props.canChange && (
        <td class="nowrap">
          <div class="row-tools">
            {off.length > 0 && (
              <select aria-label={`Add ${i.name} to a dashboard`} value="" onChange={(e) => void add(e.currentTarget.value)}>
                <option value="">Add to…</option>
                {off.map((b) => <option value={String(b.id)} key={b.id}>{b.name}</option>)}
              </select>
            )}
            <TwoStepDelete ask="Delete…" askLabel={`Delete ${i.name}`} confirm="Delete for good" small
              done={async () => {
                await api("DELETE", `/api/projects/${props.projectId}/insights/${i.id}`);
                props.onDeleted();
              }} />
          </div>
        </td>
      )}
    </tr>
  );
}

export function SavedInsights(props: { projectId: number }) {
  const [insights, setInsights] = useState<Saved[] | null>(null);
  const [boards, setBoards] = useState<Dashboard[]>([]);
  const [error, setError] = useState<string | null>(null);
  const canChange = useCanChange(props.projectId);
  useEffect(() => {
    Promise.all([
      api<Saved[]>("GET", `/api/projects/${props.projectId}/insights`),
      api<Dashboard[]>("GET", `/api/projects/${props.projectId}/dashboards`),
    ])
      .then(([found, dashboards]) => (setInsights(found), setBoards(dashboards)))
      .catch((err) => setError(message(err)));
  }, [props.projectId]);
  return (
    <section class="card" aria-label="Saved insights">
      <ErrorNote error={error} />
      {insights === null ? (
        !error && <p class="muted" aria-busy="true">Loading…</p>
      ) : insights.length === 0 ? (
        <p class="muted">Nothing saved yet: build an insight and save it.</p>
      ) : (
        <table class="table" data-testid="saved-insights">
          <thead>
            <tr><th>Insight</th><th>Kind</th><th>On dashboards</th><th class="w-time">Changed</th>{canChange && <th />}</tr>
          </thead>
          <tbody>
            {[...insights].reverse().map((i) => (
              <Row key={i.id} projectId={props.projectId} insight={i} boards={boards} canChange={canChange} onBoards={setBoards}
                onDeleted={() => setInsights(insights.filter((x) => x.id !== i.id))} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

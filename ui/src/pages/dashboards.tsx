import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { ErrorNote, message, Rename, TwoStepDelete, useCanChange } from "../layout";
import { navigate } from "../router";
import { cohortNamer, type Filter, FiltersEditor, ready, splitFilters, useCohorts } from "../filters";
import { byCohorts, InsightView, withCohortNames } from "../views";
import { RANGES } from "./builder";

export interface SavedInsight {
  id: number;
  name: string;
  spec: Record<string, unknown>;
}
export interface Dashboard {
  id: number;
  name: string;
  tiles: SavedInsight[];
  // What it applies to every tile, as saved: a start of the date range, and filters.
  filters: { date_from: string | null; filters: unknown[] };
}

// Filters as the API takes them, in one form whether saved or just edited (to compare).
const asSpec = (filters: unknown[]) => ready(splitFilters(filters).shown);

const OVERRIDES: [string, string][] = [["", "Each tile's own dates"], ...RANGES];

// A shared date range replaces each tile's own (for the kinds that have one); shared filters
// hold on top of each tile's own.
function withShared(spec: Record<string, unknown>, range: string, filters: object[]): Record<string, unknown> {
  const ranged = range && "date_range" in spec ? { ...spec, date_range: { date_from: range } } : spec;
  const own = Array.isArray(spec.filters) ? spec.filters : [];
  return filters.length ? { ...ranged, filters: [...own, ...filters] } : ranged;
}

function Tile(props: {
  projectId: number;
  insight: SavedInsight;
  range: string;
  filters: object[];
  generation: number;
  cohortName: (value: string | null) => string | null;
  first: boolean;
  last: boolean;
  onMove: (by: number) => void;
  onRemove: () => void;
}) {
  const [result, setResult] = useState<Record<string, unknown> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const refresh = props.generation > 0 ? "?refresh=true" : "";
    api<Record<string, unknown>>("POST", `/api/projects/${props.projectId}/query${refresh}`, withShared(props.insight.spec, props.range, props.filters))
      .then((r) => live && (setResult(r), setError(null)))
      .catch((err) => live && setError(err instanceof ApiError ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, [props.insight, props.range, props.filters, props.generation]);

  return (
    <section class="card tile" aria-label={props.insight.name} data-testid="tile">
      <div class="tile-head">
        <h2><a class="tile-title" href={`/projects/${props.projectId}/insights?insight=${props.insight.id}`} title="Open in its builder">{props.insight.name}</a></h2>
        <div class="tile-tools">
          <button type="button" class="ghost small" aria-label={`Move ${props.insight.name} earlier`} disabled={props.first} onClick={() => props.onMove(-1)}>↑</button>
          <button type="button" class="ghost small" aria-label={`Move ${props.insight.name} later`} disabled={props.last} onClick={() => props.onMove(1)}>↓</button>
          <button type="button" class="ghost small" aria-label={`Remove ${props.insight.name}`} onClick={props.onRemove}>×</button>
        </div>
      </div>
      <ErrorNote error={error} />
      {result ? <InsightView result={withCohortNames(result, byCohorts(props.insight.spec), props.cohortName)} label={props.insight.name} display={props.insight.spec.display} /> : !error && <div class="tile-wait" aria-busy="true" />}
    </section>
  );
}

/** Make another dashboard, or delete this one (in two clicks). */
function BoardActions(props: {
  projectId: number;
  board: Dashboard;
  others: number;
  onMade: (d: Dashboard) => void;
  onRenamed: (d: Dashboard) => void;
  onDeleted: () => void;
}) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const make = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const made = await api<Dashboard>("POST", `/api/projects/${props.projectId}/dashboards`, { name: name.trim() });
      setName("");
      props.onMade(made);
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <div class="board-actions">
      <form class="row-buttons" onSubmit={make} aria-label="New dashboard">
        <input aria-label="New dashboard name" placeholder="New dashboard" required maxLength={200} value={name}
          onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="ghost">Create</button>
      </form>
      <Rename what="dashboard" name={props.board.name} key={props.board.id}
        save={async (name) => props.onRenamed(await api<Dashboard>("PATCH", `/api/projects/${props.projectId}/dashboards/${props.board.id}`, { name }))} />
      {props.others > 0 && (
        <TwoStepDelete ask="Delete dashboard…" confirm={`Delete “${props.board.name}” for good`}
          done={async () => {
            await api("DELETE", `/api/projects/${props.projectId}/dashboards/${props.board.id}`);
            props.onDeleted();
          }} />
      )}
      <ErrorNote error={error} />
    </div>
  );
}

export function DashboardsPage(props: { projectId: number; dashboardId: number | null }) {
  const [boards, setBoards] = useState<Dashboard[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Dashboard[]>("GET", `/api/projects/${props.projectId}/dashboards`)
      .then(setBoards)
      .catch((err) => setError(err instanceof ApiError ? err.message : String(err)));
  }, [props.projectId]);

  if (error) return <div class="page"><ErrorNote error={error} /></div>;
  if (!boards) return <div class="page"><p class="muted" aria-busy="true">Loading…</p></div>;
  const board = boards.find((b) => b.id === props.dashboardId) ?? boards[0];
  if (!board) return <div class="page"><h1>Dashboards</h1><p class="muted">No dashboards yet.</p></div>;
  return <Board key={board.id} projectId={props.projectId} board={board} boards={boards} setBoards={setBoards} />;
}

/** One dashboard: its tiles, with the dates and filters it applies to all of them (as saved,
 * or as changed here and not saved yet). */
function Board(props: { projectId: number; board: Dashboard; boards: Dashboard[]; setBoards: (b: Dashboard[]) => void }) {
  const { board, boards, setBoards } = props;
  const saved = board.filters;
  const [range, setRange] = useState(saved.date_from ?? "");
  // Filters for every tile: as edited, and as applied once the editing pauses.
  const [filters, setFilters] = useState<Filter[]>(() => splitFilters(saved.filters).shown);
  const [showFilters, setShowFilters] = useState(false);
  const [applied, setApplied] = useState<object[]>(() => asSpec(saved.filters));
  const wanted = JSON.stringify(ready(filters));
  useEffect(() => {
    const timer = setTimeout(() => setApplied((was) => (JSON.stringify(was) === wanted ? was : (JSON.parse(wanted) as object[]))), 400);
    return () => clearTimeout(timer);
  }, [wanted]);
  const [generation, setGeneration] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const canChange = useCanChange(props.projectId);
  const cohorts = useCohorts(props.projectId);
  // Changed here and not saved: the dates, or the filters.
  const unsaved = range !== (saved.date_from ?? "") || wanted !== JSON.stringify(asSpec(saved.filters));
  const replace = (updated: Dashboard) => setBoards(boards.map((b) => (b.id === updated.id ? updated : b)));

  const save = async (tiles: SavedInsight[]) => {
    const updated = await api<Dashboard>("PATCH", `/api/projects/${props.projectId}/dashboards/${board.id}`, { tiles: tiles.map((t) => t.id) });
    replace(updated);
  };
  const keep = async () => {
    setError(null);
    try {
      replace(await api<Dashboard>("PATCH", `/api/projects/${props.projectId}/dashboards/${board.id}`, {
        filters: { date_from: range || null, filters: JSON.parse(wanted) as object[] },
      }));
    } catch (err) {
      setError(message(err));
    }
  };
  const discard = () => {
    setRange(saved.date_from ?? "");
    setFilters(splitFilters(saved.filters).shown);
  };
  const move = (i: number, by: number) => {
    const tiles = board.tiles.slice();
    const [tile] = tiles.splice(i, 1);
    tiles.splice(i + by, 0, tile);
    void save(tiles);
  };

  return (
    <div class="page">
      <div class="page-head">
        <h1>{board.name}</h1>
        {boards.length > 1 && (
          <nav class="muted" aria-label="Dashboards">
            {boards.map((b) => (
              <a key={b.id} href={`/projects/${props.projectId}/dashboards/${b.id}`} class={b.id === board.id ? "current" : undefined}
                aria-current={b.id === board.id ? "page" : undefined}>
                {b.name}
              </a>
            ))}
          </nav>
        )}
        <div class="spacer" />
        <div class="field inline">
          <label for="dash-range">Dates</label>
          <select id="dash-range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {(OVERRIDES.some(([v]) => v === range) ? OVERRIDES : [...OVERRIDES, [range, `From ${range}`]]).map(([v, t]) => <option value={v} key={v}>{t}</option>)}
          </select>
        </div>
        <button type="button" class={applied.length ? "primary" : "ghost"} aria-expanded={showFilters} onClick={() => setShowFilters(!showFilters)}>
          {applied.length ? `Filters (${applied.length})` : "Filters"}
        </button>
        <button type="button" class="ghost" onClick={() => setGeneration(generation + 1)}>Refresh</button>
      </div>
      {unsaved && (
        <div class="card unsaved" role="status" aria-label="Changes not saved">
          <span>{canChange ? "These dates and filters are not saved with the dashboard." : "These dates and filters last until you leave the page."}</span>
          <div class="row-buttons">
            {canChange && <button type="button" class="primary small" onClick={() => void keep()}>Save for everyone</button>}
            <button type="button" class="ghost small" onClick={discard}>{canChange ? "Discard" : "Back to the saved ones"}</button>
          </div>
        </div>
      )}
      <ErrorNote error={error} />
      {showFilters && (
        <section class="card board-filters" aria-label="Filters for every tile">
          <FiltersEditor projectId={props.projectId} filters={filters} onChange={setFilters} />
          <span class="hint">Every tile keeps to these as well as to its own filters.</span>
        </section>
      )}
      <div class="tiles">
        {board.tiles.map((t, i) => (
          <Tile key={t.id} projectId={props.projectId} insight={t} range={range} filters={applied} generation={generation} cohortName={cohortNamer(cohorts)}
            first={i === 0} last={i === board.tiles.length - 1}
            onMove={(by) => move(i, by)} onRemove={() => void save(board.tiles.filter((x) => x.id !== t.id))} />
        ))}
      </div>
      {board.tiles.length === 0 && <p class="muted">This dashboard is empty. Save an insight and add it here.</p>}
      {canChange && (
        <BoardActions projectId={props.projectId} board={board} others={boards.length - 1}
          onMade={(made) => {
            setBoards([...boards, made]);
            navigate(`/projects/${props.projectId}/dashboards/${made.id}`);
          }}
          onRenamed={replace}
          onDeleted={() => {
            const left = boards.filter((b) => b.id !== board.id);
            setBoards(left);
            navigate(`/projects/${props.projectId}/dashboards/${left[0].id}`);
          }} />
      )}
    </div>
  );
}

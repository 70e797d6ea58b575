// What sets the persons who converted apart from those who dropped: the events most tied to
// each outcome, done during their counted attempt, with the persons behind each count.
import { useState } from "preact/hooks";
import { ErrorNote } from "../layout";
import { Persons, useQuery } from "./builder";

interface CorrelatedEvent {
  event: string;
  converted: number;
  dropped: number;
  odds_ratio: number;
  direction: "success" | "failure";
}
interface CorrelationResult {
  converted: number;
  dropped: number;
  success: CorrelatedEvent[];
  failure: CorrelatedEvent[];
}
interface Line {
  value: string | null;
  is_other: boolean;
}

// Events a page sends on its own, left out until asked for: they say little about a choice.
const NOISE = ["$pageleave", "$web_vitals", "$feature_flag_called", "$set", "$groupidentify"];

const share = (part: number, whole: number) => (whole ? `${Math.round((part / whole) * 100)} %` : "–");

/** "3.2× more likely to convert" / "2.5× less likely": the odds ratio as a person reads it. */
export function oddsLabel(ratio: number): string {
  const times = ratio >= 1 ? ratio : 1 / ratio;
  const shown = times >= 10 ? Math.round(times).toLocaleString() : times.toFixed(1);
  return `${shown}× ${ratio >= 1 ? "more" : "less"} likely to convert`;
}

function Rows(props: {
  title: string;
  side: "success" | "failure";
  rows: CorrelatedEvent[];
  totals: { converted: number; dropped: number };
  onOpen: (event: string, converted: boolean) => void;
  onLeaveOut: (event: string) => void;
}) {
  return (
    <table class="table numbers correlation" data-testid={`correlation-${props.side}`} aria-label={props.title}>
      <thead>
        <tr><th>{props.title}</th><th>Of the converted</th><th>Of the dropped</th><th>Odds</th><th /></tr>
      </thead>
      <tbody>
        {props.rows.length === 0 && (
          <tr><td colSpan={5} class="muted">No event here.</td></tr>
        )}
        {props.rows.map((e) => (
          <tr key={e.event}>
            <td class="clip"><code>{e.event}</code></td>
            <td>
              <button type="button" class="link" disabled={e.converted === 0} aria-label={`Persons who did ${e.event} and converted`}
                onClick={() => props.onOpen(e.event, true)}>
                {e.converted.toLocaleString()}
              </button>{" "}
              <span class="muted">{share(e.converted, props.totals.converted)}</span>
            </td>
            <td>
              <button type="button" class="link" disabled={e.dropped === 0} aria-label={`Persons who did ${e.event} and dropped`}
                onClick={() => props.onOpen(e.event, false)}>
                {e.dropped.toLocaleString()}
              </button>{" "}
              <span class="muted">{share(e.dropped, props.totals.dropped)}</span>
            </td>
            <td><span class={`odds ${props.side}`}>{oddsLabel(e.odds_ratio)}</span></td>
            <td>
              <button type="button" class="ghost small" aria-label={`Leave out ${e.event}`} title="Leave this event out"
                onClick={() => props.onLeaveOut(e.event)}>×</button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Found(props: { projectId: number; funnel: object; line: Line | null; lineName: string | null; onClose: () => void }) {
  // Events left out by hand, and whether the automatic ones are left out too.
  const [mine, setMine] = useState<string[]>([]);
  const [quiet, setQuiet] = useState(true);
  const exclude = [...(quiet ? NOISE : []), ...mine];
  const leaveOut = (event: string) => setMine([...mine, event]);
  const [opened, setOpened] = useState<{ event: string; converted: boolean } | null>(null);
  const { result, error, busy } = useQuery<CorrelationResult>(props.projectId, {
    kind: "funnel_correlation",
    funnel: props.funnel,
    line: props.line,
    exclude,
  });
  const totals = result ?? { converted: 0, dropped: 0 };
  return (
    <>
      <section class="card result" aria-busy={busy} aria-label="Correlated events">
        <div class="result-head">
          <h2>What sets converters apart{props.lineName ? ` · ${props.lineName}` : ""}</h2>
          <button type="button" class="ghost small" onClick={props.onClose}>Close</button>
        </div>
        <p class="hint">
          Events done during the counted attempt, from its first step to its last (or to the end of the window for those who
          dropped), other than the funnel's own steps. The odds compare those who did an event with those who did not.
          {result && ` ${result.converted.toLocaleString()} converted, ${result.dropped.toLocaleString()} dropped.`}
        </p>
        <ErrorNote error={error} />
        {result && (
          <div class="stack">
            <Rows title="Tied to converting" side="success" rows={result.success} totals={totals}
              onOpen={(event, converted) => setOpened({ event, converted })} onLeaveOut={leaveOut} />
            <Rows title="Tied to dropping" side="failure" rows={result.failure} totals={totals}
              onOpen={(event, converted) => setOpened({ event, converted })} onLeaveOut={leaveOut} />
          </div>
        )}
        <div class="row-buttons left-out">
          <label class="check">
            <input type="checkbox" checked={quiet} onChange={(e) => setQuiet(e.currentTarget.checked)} />
            Leave out automatic events <span class="muted">({NOISE.join(", ")})</span>
          </label>
          {mine.length > 0 && (
            <>
              <span class="muted" data-testid="correlation-left-out">Also left out: {mine.join(", ")}</span>
              <button type="button" class="ghost small" onClick={() => setMine([])}>Put back</button>
            </>
          )}
        </div>
      </section>
      {opened && (
        <Persons projectId={props.projectId}
          title={`Did ${opened.event} and ${opened.converted ? "converted" : "dropped"}${props.lineName ? ` · ${props.lineName}` : ""}`}
          spec={{ kind: "funnel_correlation_persons", funnel: props.funnel, line: props.line, event: opened.event, converted: opened.converted }}
          onClose={() => setOpened(null)} />
      )}
    </>
  );
}

/** A button that asks which events set converters apart, then the answer (which follows the
 * funnel as it is edited, until closed). */
export function Correlation(props: { projectId: number; funnel: object; line: Line | null; lineName: string | null }) {
  const [open, setOpen] = useState(false);
  if (!open) {
    return (
      <section class="card correlation-ask">
        <div class="result-head">
          <div>
            <h2>What sets converters apart?</h2>
            <span class="hint">The events that those who converted did more, or less, than those who dropped.</span>
          </div>
          <button type="button" class="primary" onClick={() => setOpen(true)}>Find correlated events</button>
        </div>
      </section>
    );
  }
  return <Found {...props} onClose={() => setOpen(false)} />;
}

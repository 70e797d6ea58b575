// What sets the persons who converted apart from those who dropped: the events most tied to
// each outcome, done during their counted attempt, or the values of person properties; with
// the persons behind each count.
import { useState } from "preact/hooks";
import { Suggest, useSeen } from "../filters";
import { ErrorNote } from "../layout";
import { Persons, useQuery } from "./builder";

interface Correlated {
  event: string | null;
  property: string | null;
  value: string | null;
  converted: number;
  dropped: number;
  odds_ratio: number;
  direction: "success" | "failure";
}
interface CorrelationResult {
  converted: number;
  dropped: number;
  success: Correlated[];
  failure: Correlated[];
}
interface Line {
  value: string | null;
  is_other: boolean;
}
type Item = { event: string } | { property: string; value: string };

// Events a page sends on its own, left out until asked for: they say little about a choice.
const NOISE = ["$pageleave", "$web_vitals", "$feature_flag_called", "$set", "$groupidentify"];

const share = (part: number, whole: number) => (whole ? `${Math.round((part / whole) * 100)} %` : "–");

/** "3.2× more likely to convert" / "2.5× less likely": the odds ratio as a person reads it. */
export function oddsLabel(ratio: number): string {
  const times = ratio >= 1 ? ratio : 1 / ratio;
  const shown = times >= 10 ? Math.round(times).toLocaleString() : times.toFixed(1);
  return `${shown}× ${ratio >= 1 ? "more" : "less"} likely to convert`;
}

const itemOf = (c: Correlated): Item => (c.property !== null ? { property: c.property, value: c.value ?? "" } : { event: c.event ?? "" });
const nameOf = (item: Item) => ("event" in item ? item.event : `${item.property} = ${item.value}`);

function Rows(props: {
  title: string;
  side: "success" | "failure";
  rows: Correlated[];
  totals: { converted: number; dropped: number };
  onOpen: (item: Item, converted: boolean) => void;
  onLeaveOut?: (event: string) => void;
}) {
  return (
    <table class="table numbers correlation" data-testid={`correlation-${props.side}`} aria-label={props.title}>
      <thead>
        <tr><th>{props.title}</th><th>Of the converted</th><th>Of the dropped</th><th>Odds</th><th /></tr>
      </thead>
      <tbody>
        {props.rows.length === 0 && (
          <tr><td colSpan={5} class="muted">Nothing here.</td></tr>
        )}
        {props.rows.map((c) => {
          const item = itemOf(c);
          const name = nameOf(item);
          return (
            <tr key={name}>
              <td class="name" title={name}><code>{name}</code></td>
              <td>
                <button type="button" class="link" disabled={c.converted === 0} aria-label={`Persons with ${name} who converted`}
                  onClick={() => props.onOpen(item, true)}>
                  {c.converted.toLocaleString()}
                </button>{" "}
                <span class="muted">{share(c.converted, props.totals.converted)}</span>
              </td>
              <td>
                <button type="button" class="link" disabled={c.dropped === 0} aria-label={`Persons with ${name} who dropped`}
                  onClick={() => props.onOpen(item, false)}>
                  {c.dropped.toLocaleString()}
                </button>{" "}
                <span class="muted">{share(c.dropped, props.totals.dropped)}</span>
              </td>
              <td><span class={`odds ${props.side}`}>{oddsLabel(c.odds_ratio)}</span></td>
              <td>
                {props.onLeaveOut && "event" in item && (
                  <button type="button" class="ghost small" aria-label={`Leave out ${item.event}`} title="Leave this event out"
                    onClick={() => props.onLeaveOut?.(item.event)}>×</button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The person properties to compare: chosen from those the project has seen. */
function PropertyChoice(props: { projectId: number; chosen: string[]; onChange: (keys: string[]) => void }) {
  const [key, setKey] = useState("");
  const seen = useSeen(`/api/projects/${props.projectId}/catalog/properties?type=person`);
  const add = (event: Event) => {
    event.preventDefault();
    const k = key.trim();
    if (k && !props.chosen.includes(k) && props.chosen.length < 10) props.onChange([...props.chosen, k]);
    setKey("");
  };
  return (
    <form class="row-buttons property-choice" onSubmit={add} aria-label="Person properties to compare">
      {props.chosen.map((k) => (
        <span class="chip" key={k}>
          <code>{k}</code>
          <button type="button" class="ghost small" aria-label={`Stop comparing ${k}`} onClick={() => props.onChange(props.chosen.filter((x) => x !== k))}>×</button>
        </span>
      ))}
      <Suggest id="correlation-property" label="Person property" value={key} placeholder="plan, company…" seen={seen.filter((k) => !props.chosen.includes(k))} onChange={setKey} />
      <button type="submit" class="ghost" disabled={!key.trim()}>Compare</button>
    </form>
  );
}

/** The answer to one correlation spec: the totals, then what goes with each outcome. */
function Answer(props: { projectId: number; spec: object; onOpen: (item: Item, converted: boolean) => void; onLeaveOut?: (event: string) => void }) {
  const { result, error, busy } = useQuery<CorrelationResult>(props.projectId, props.spec);
  const totals = result ?? { converted: 0, dropped: 0 };
  return (
    <div class="stack" aria-busy={busy}>
      <ErrorNote error={error} />
      {result && (
        <>
          <p class="muted" data-testid="correlation-totals">
            {`${result.converted.toLocaleString()} converted, ${result.dropped.toLocaleString()} dropped.`}
          </p>
          <Rows title="Tied to converting" side="success" rows={result.success} totals={totals} onOpen={props.onOpen} onLeaveOut={props.onLeaveOut} />
          <Rows title="Tied to dropping" side="failure" rows={result.failure} totals={totals} onOpen={props.onOpen} onLeaveOut={props.onLeaveOut} />
        </>
      )}
    </div>
  );
}

/** A broken-down funnel's lines, each with its name, to pick the persons of one. */
export interface NamedLine extends Line {
  name: string;
}

function Found(props: { projectId: number; funnel: object; lines: NamedLine[]; onClose: () => void }) {
  const [of, setOf] = useState<"events" | "properties">("events");
  // One breakdown line's persons (by its name), or everyone's (none, or a line no longer there).
  const [picked, setPicked] = useState<string | null>(null);
  const chosen = props.lines.find((l) => l.name === picked) ?? null;
  const line = chosen && { value: chosen.value, is_other: chosen.is_other };
  const lineName = chosen?.name ?? null;
  // Events left out by hand, and whether the automatic ones are left out too.
  const [mine, setMine] = useState<string[]>([]);
  const [quiet, setQuiet] = useState(true);
  const [keys, setKeys] = useState<string[]>([]);
  const [opened, setOpened] = useState<{ item: Item; converted: boolean } | null>(null);
  const base = { kind: "funnel_correlation", funnel: props.funnel, line };
  const open = (item: Item, converted: boolean) => setOpened({ item, converted });
  const switchTo = (next: "events" | "properties") => (setOf(next), setOpened(null));
  return (
    <>
      <section class="card result" aria-label="Correlated events">
        <div class="result-head">
          <h2>What sets converters apart{lineName ? ` · ${lineName}` : ""}</h2>
          <div class="row-buttons">
            {props.lines.length > 1 && (
              <select aria-label="Of the persons of" value={chosen?.name ?? ""} onChange={(e) => (setPicked(e.currentTarget.value || null), setOpened(null))}>
                <option value="">Every line</option>
                {props.lines.map((l) => <option value={l.name} key={l.name}>{l.name}</option>)}
              </select>
            )}
            <button type="button" class="ghost small" onClick={props.onClose}>Close</button>
          </div>
        </div>
        <div class="tabs" role="tablist" aria-label="Compare">
          <button type="button" role="tab" aria-selected={of === "events"} class={`tab${of === "events" ? " on" : ""}`} onClick={() => switchTo("events")}>Events</button>
          <button type="button" role="tab" aria-selected={of === "properties"} class={`tab${of === "properties" ? " on" : ""}`} onClick={() => switchTo("properties")}>
            Person properties
          </button>
        </div>
        <p class="hint">
          {of === "events"
            ? "Events done during the counted attempt, from its first step to its last (or to the end of the window for those who dropped), other than the funnel's own steps."
            : "The values the persons' properties hold now."}{" "}
          The odds compare those who did (or have) it with those who did not.
        </p>
        {of === "events" ? (
          <>
            <Answer projectId={props.projectId} spec={{ ...base, exclude: [...(quiet ? NOISE : []), ...mine] }} onOpen={open}
              onLeaveOut={(event) => setMine([...mine, event])} />
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
          </>
        ) : (
          <>
            <PropertyChoice projectId={props.projectId} chosen={keys} onChange={(k) => (setKeys(k), setOpened(null))} />
            {keys.length === 0
              ? <p class="muted">Choose one or more person properties to compare, such as a plan or a company.</p>
              : <Answer projectId={props.projectId} spec={{ ...base, person_properties: keys }} onOpen={open} />}
          </>
        )}
      </section>
      {opened && (
        <Persons projectId={props.projectId}
          title={`${"event" in opened.item ? `Did ${opened.item.event}` : `With ${nameOf(opened.item)}`} and ${opened.converted ? "converted" : "dropped"}${
            lineName ? ` · ${lineName}` : ""}`}
          spec={{ kind: "funnel_correlation_persons", funnel: props.funnel, line, ...opened.item, converted: opened.converted }}
          onClose={() => setOpened(null)} />
      )}
    </>
  );
}

/** A button that asks what sets converters apart, then the answer (which follows the funnel
 * as it is edited, until closed). */
export function Correlation(props: { projectId: number; funnel: object; lines: NamedLine[] }) {
  const [open, setOpen] = useState(false);
  if (!open) {
    return (
      <section class="card correlation-ask">
        <div class="result-head">
          <div>
            <h2>What sets converters apart?</h2>
            <span class="hint">The events, or person properties, that those who converted had more, or less, than those who dropped.</span>
          </div>
          <button type="button" class="primary" onClick={() => setOpen(true)}>Find correlated events</button>
        </div>
      </section>
    );
  }
  return <Found {...props} onClose={() => setOpen(false)} />;
}

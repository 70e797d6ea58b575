// How a person is named wherever persons are listed: by what the product knows them as.
import { useEffect, useState } from "preact/hooks";
import { api, localDay } from "./api";

type Props = Record<string, unknown>;

/** A person's name: their email or name when one is set (trimmed, as the server names them),
 * else their first distinct id. */
export function personName(properties: Props, distinctIds: string[]): string {
  for (const key of ["email", "name"]) {
    const value = properties[key];
    if (typeof value === "string" && value.trim()) return value.trim();
  }
  return distinctIds[0] ?? "";
}

/** Properties stored as JSON text, or none when the text is not an object. */
export function parsedProperties(text: string): Props {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Props) : {};
  } catch {
    return {};
  }
}

/** A link to the person's page under their name, then their distinct ids when the name is
 * not one of them. */
export function PersonLink(props: { projectId: number; distinctIds: string[]; properties: Props }) {
  const name = personName(props.properties, props.distinctIds);
  const ids = props.distinctIds.join(", ");
  const href = `/projects/${props.projectId}/persons/${encodeURIComponent(props.distinctIds[0] ?? "")}`;
  return (
    <>
      <a href={href} title={ids}>{name}</a>
      {!props.distinctIds.includes(name) && ids && <span class="muted"> · {ids}</span>}
    </>
  );
}

/** The name of the person behind a distinct id (the id itself until their record is in, or
 * when there is none). */
export function usePersonName(projectId: number, distinctId: string | null): string | null {
  const [name, setName] = useState(distinctId);
  useEffect(() => {
    setName(distinctId);
    if (!distinctId) return;
    api<{ properties: Props; distinct_ids: string[] }>("GET", `/api/projects/${projectId}/persons/${encodeURIComponent(distinctId)}`)
      .then((p) => setName(personName(p.properties, [distinctId])))
      .catch(() => setName(distinctId));
  }, [projectId, distinctId]);
  return name;
}

/** A person as person lists give it: properties as JSON text, first seen without a zone. */
export interface PersonRow {
  id: string;
  distinct_ids: string[];
  properties: string;
  created_at: string;
}

/** A property's value as text: strings as they are, anything else as JSON. */
export const shownValue = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

// Where a person came from, as the SDKs record it once: shown after their own properties.
const ORIGIN: [string, string][] = [
  ["$initial_utm_source", "source"],
  ["$initial_utm_campaign", "campaign"],
  ["$initial_referring_domain", "referrer"],
  ["$initial_referrer", "referrer"],
];

/** Whether a property's value is `text`, but for spaces around it. */
function sameText(value: unknown, text: string): boolean {
  return typeof value === "string" && value.trim() === text;
}

/** What a list shows of a person's properties, as (label, value) pairs: the product's own
 * properties (not the one they are named by) in name order, then where they came from. */
export function propertySummary(properties: Props, name: string): [string, string][] {
  const own = Object.keys(properties)
    .filter((k) => !k.startsWith("$") && properties[k] !== null && properties[k] !== "" && !sameText(properties[k], name))
    .sort()
    .map((k): [string, string] => [k, shownValue(properties[k])]);
  const origin = new Map<string, string>();
  for (const [key, label] of ORIGIN) {
    const value = properties[key];
    if (typeof value !== "string" || !value || origin.has(label)) continue;
    origin.set(label, value === "$direct" ? "direct" : value.replace(/^https?:\/\/([^/]+).*$/, "$1"));
  }
  return [...own, ...origin.entries()];
}

function PropertyChips(props: { properties: Props; name: string }) {
  const pairs = propertySummary(props.properties, props.name);
  if (pairs.length === 0) return <span class="muted">–</span>;
  return (
    <span class="chips" title={pairs.map(([k, v]) => `${k}: ${v}`).join("\n")}>
      {pairs.map(([k, v], i) => (
        <span class="chip" key={i}><span class="muted">{k}</span> {v}</span>
      ))}
    </span>
  );
}

/** A table of persons: each by name (a link to their page), their properties when asked for,
 * and when they were first seen. */
export function PersonRows(props: { projectId: number; rows: PersonRow[]; testId: string; withProperties?: boolean }) {
  return (
    <table class="table" data-testid={props.testId}>
      <thead>
        <tr><th>Person</th>{props.withProperties && <th>Properties</th>}<th class="w-time">First seen</th></tr>
      </thead>
      <tbody>
        {props.rows.map((p) => {
          const properties = parsedProperties(p.properties);
          return (
            <tr key={p.id}>
              <td class="clip">
                <PersonLink projectId={props.projectId} distinctIds={p.distinct_ids} properties={properties} />
              </td>
              {props.withProperties && (
                <td class="clip"><PropertyChips properties={properties} name={personName(properties, p.distinct_ids)} /></td>
              )}
              <td class="nowrap">{localDay(p.created_at)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

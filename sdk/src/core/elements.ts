// The `$elements_chain` string of an element and its ancestors up to <body>, in the format
// posthog-js sends, so autocapture from both SDKs can be queried the same way:
//   tag.classA.classB:attr__id="x"href="/a"nth-child="2"nth-of-type="1"text="Buy";parent...

import { masked, safeText } from "./privacy";

const KEPT_ATTRS = /^(id|name|type|role|href|aria-label|title|for|data-[\w-]+)$/;
const MAX_DEPTH = 12;

const q = (v: string): string => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function position(el: Element): [number, number] {
  let child = 1;
  let ofType = 1;
  for (let s = el.previousElementSibling; s; s = s.previousElementSibling) {
    child++;
    if (s.tagName === el.tagName) ofType++;
  }
  return [child, ofType];
}

/** The text of `el` itself (its own text nodes), unless it is private; for the clicked
 * element (`deep`), the rendered text of a small element whose text sits in children. */
export function elementText(el: Element, deep = false): string {
  if (masked(el)) return "";
  let text = "";
  el.childNodes.forEach((n) => {
    if (n.nodeType === 3) text += n.textContent || "";
  });
  if (deep && !text.trim() && el.children.length < 3) text = (el as HTMLElement).innerText || "";
  return safeText(text);
}

function describe(el: Element, target: boolean): string {
  const tag = el.tagName.toLowerCase();
  const classes = (el.getAttribute("class") || "").split(/\s+/).filter(Boolean).sort();
  const attrs: Record<string, string> = {};
  const [child, ofType] = position(el);
  attrs["nth-child"] = String(child);
  attrs["nth-of-type"] = String(ofType);
  const text = elementText(el, target);
  if (text) attrs.text = text;
  for (const a of Array.from(el.attributes)) {
    if (!KEPT_ATTRS.test(a.name) || (tag === "input" && a.name === "value")) continue;
    const v = a.value.slice(0, 1024);
    if (a.name === "href") attrs.href = v;
    if (a.name === "id") attrs.attr_id = v;
    attrs[`attr__${a.name}`] = v;
  }
  if (classes.length) attrs.attr__class = classes.join(" ");
  const body = Object.keys(attrs)
    .sort()
    .map((k) => `${k}=${q(attrs[k])}`)
    .join("");
  return `${tag}${classes.map((c) => "." + c.replace(/"/g, "")).join("")}:${body}`;
}

export function elementsChain(target: Element): string {
  const parts: string[] = [];
  for (let e: Element | null = target; e && parts.length < MAX_DEPTH; e = e.parentElement) {
    if (e.tagName === "HTML") break;
    parts.push(describe(e, e === target));
  }
  return parts.join(";");
}

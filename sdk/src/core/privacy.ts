// What may leave the page. Input values never do; elements inside a "no capture" class are
// invisible to autocapture; "mask" hides text; "block" hides an element from recordings.

export const NO_CAPTURE = /(^|\s)(ul|ph)-no-capture(\s|$)/;
export const MASK = /(^|\s)(ul|ph)-(mask|sensitive)(\s|$)/;

const FORM_FIELD = /^(input|textarea|select)$/;

function classOf(el: Element): string {
  const c = el.getAttribute("class");
  return c || "";
}

/** True when `el` or an ancestor opts out of capture. */
export function excluded(el: Element | null): boolean {
  for (let e = el; e; e = e.parentElement) if (NO_CAPTURE.test(classOf(e))) return true;
  return false;
}

/** True when the text of `el` must not be captured. */
export function masked(el: Element): boolean {
  if (FORM_FIELD.test(el.tagName.toLowerCase()) || (el as HTMLElement).isContentEditable) return true;
  for (let e: Element | null = el; e; e = e.parentElement) if (MASK.test(classOf(e))) return true;
  return false;
}

/** Text that looks like a card or national id number is dropped. */
export function safeText(s: string): string {
  const t = s.replace(/\s+/g, " ").trim().slice(0, 255);
  return /\d[\d -]{11,}\d/.test(t) ? "" : t;
}

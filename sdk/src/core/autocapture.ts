// Autocapture of clicks, changes and submits, and the two frustration signals:
// `$rageclick` (several clicks close in time and space, not a text selection) and
// `$dead_click` (a click on something that looks interactive, then no DOM change, navigation,
// scroll or error).

import { elementText, elementsChain } from "./elements";
import { excluded } from "./privacy";

type Emit = (event: string, props: Record<string, unknown>) => void;

const INTERACTIVE = "a,button,input,select,textarea,label,summary,[role=button],[role=link],[onclick]";
const CLICKABLE = "a,button,summary,[role=button],[role=link],input[type=submit],input[type=button]";

export const RAGE = { clicks: 3, withinMs: 1000, radiusPx: 30 };
export const DEAD_AFTER_MS = 2500;

function details(el: Element, type: string): Record<string, unknown> {
  const text = elementText(el, true);
  return { $event_type: type, $elements_chain: elementsChain(el), ...(text ? { $el_text: text } : {}) };
}

function selecting(): boolean {
  const s = getSelection();
  return !!s && !s.isCollapsed && s.toString().trim().length > 0;
}

export interface AutocaptureOptions {
  clicks: boolean;
  rageclicks: boolean;
  deadclicks: boolean;
}

export class Autocapture {
  private burst: Array<{ t: number; x: number; y: number }> = [];
  private raged = false;
  private changedAt = 0;
  private observer: MutationObserver | undefined;
  private pending = 0;

  constructor(
    private readonly emit: Emit,
    private readonly opts: AutocaptureOptions,
  ) {
    const onAny = (): void => this.changed();
    if (opts.clicks) {
      document.addEventListener("click", (e) => this.click(e), true);
      document.addEventListener("change", (e) => this.simple(e, "change"), true);
      document.addEventListener("submit", (e) => this.simple(e, "submit"), true);
    } else if (opts.rageclicks || opts.deadclicks) {
      document.addEventListener("click", (e) => this.click(e), true);
    }
    if (opts.deadclicks) {
      addEventListener("scroll", onAny, true);
      addEventListener("error", onAny);
      addEventListener("popstate", onAny);
    }
  }

  /** Something visible happened (DOM change, navigation, scroll, error): clicks were not dead. */
  changed(): void {
    this.changedAt = performance.now();
  }

  private target(e: Event): Element | null {
    const t = e.target;
    const el = t instanceof Element ? t : t instanceof Node ? t.parentElement : null;
    return el && !excluded(el) ? el : null;
  }

  private simple(e: Event, type: string): void {
    const el = this.target(e);
    if (el) this.emit("$autocapture", details(el, type));
  }

  private click(e: Event): void {
    const raw = this.target(e);
    if (!raw) return;
    const el = raw.closest(INTERACTIVE) || raw;
    if (this.opts.clicks && el !== raw.ownerDocument.body && raw.closest(INTERACTIVE))
      this.emit("$autocapture", details(el, "click"));
    const m = e as MouseEvent;
    if (this.opts.rageclicks) this.rage(el, m);
    if (this.opts.deadclicks && el.matches(CLICKABLE)) this.dead(el);
  }

  private rage(el: Element, e: MouseEvent): void {
    const now = performance.now();
    const first = this.burst[0];
    const near =
      first &&
      now - this.burst[this.burst.length - 1].t < RAGE.withinMs &&
      Math.hypot(e.clientX - first.x, e.clientY - first.y) <= RAGE.radiusPx;
    if (!near) {
      this.burst = [];
      this.raged = false;
    }
    this.burst.push({ t: now, x: e.clientX, y: e.clientY });
    if (!this.raged && this.burst.length >= RAGE.clicks && !selecting()) {
      this.raged = true;
      this.emit("$rageclick", { ...details(el, "click"), $rage_click_count: this.burst.length });
    }
  }

  private dead(el: Element): void {
    // The page is watched for changes only while a click waits for its answer.
    if (!this.pending++) {
      this.observer = this.observer || new MutationObserver(() => this.changed());
      this.observer.observe(document, {
        subtree: true,
        childList: true,
        attributes: true,
        characterData: true,
      });
    }
    const at = performance.now();
    const url = location.href;
    setTimeout(() => {
      if (!--this.pending) this.observer!.disconnect();
      if (this.changedAt < at && location.href === url && document.visibilityState === "visible")
        this.emit("$dead_click", { ...details(el, "click"), $dead_click_delay_ms: DEAD_AFTER_MS });
    }, DEAD_AFTER_MS);
  }
}

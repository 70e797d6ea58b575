// Session ids: a UUIDv7 that rotates after 30 minutes without activity or 24 hours in total.

import { uuidv7 } from "./ids";
import type { Persistence } from "./storage";

export const IDLE_MS = 30 * 60 * 1000;
export const MAX_MS = 24 * 60 * 60 * 1000;

export class Sessions {
  private listeners: Array<(id: string) => void> = [];

  constructor(
    private readonly store: Persistence,
    private readonly idleMs: number = IDLE_MS,
  ) {}

  /** The current session id; `activity` marks the visitor as active now. */
  id(activity: boolean, now: number = Date.now()): string {
    let s = this.store.get("session");
    if (!s || now - s[2] > this.idleMs || now - s[1] > MAX_MS) {
      s = [uuidv7(now), now, now];
      this.store.set({ session: s });
      this.listeners.forEach((cb) => cb(s![0]));
    } else if (activity && now - s[2] > Math.min(5000, this.idleMs / 4)) {
      // Activity is written down at most every few seconds: plenty for a 30-minute timeout.
      s = [s[0], s[1], now];
      this.store.set({ session: s });
    }
    return s[0];
  }

  start(): number {
    return this.store.get("session")?.[1] ?? Date.now();
  }

  reset(): void {
    this.store.set({ session: undefined });
  }

  onRotate(cb: (id: string) => void): void {
    this.listeners.push(cb);
  }
}

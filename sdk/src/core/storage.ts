// First-party persistence of the visitor's ids, super properties and session.
// "localStorage" (default) keeps them across visits; "memory" is the cookieless mode: nothing
// is written to the device and every page load is a new visitor.

export type PersistenceKind = "localStorage" | "memory";

export interface Stored {
  distinct_id?: string;
  device_id?: string;
  identified?: boolean;
  props?: Record<string, unknown>;
  session?: [id: string, start: number, last: number];
  opted_out?: boolean;
}

export class Persistence {
  private data: Stored = {};

  constructor(
    private readonly key: string,
    private readonly kind: PersistenceKind,
  ) {
    if (kind === "localStorage") {
      try {
        this.data = JSON.parse(localStorage.getItem(key) || "{}") as Stored;
      } catch {
        this.data = {};
      }
    }
  }

  get<K extends keyof Stored>(k: K): Stored[K] {
    return this.data[k];
  }

  set(patch: Stored): void {
    Object.assign(this.data, patch);
    if (this.kind === "localStorage") {
      try {
        localStorage.setItem(this.key, JSON.stringify(this.data));
      } catch {
        // Storage full or blocked: keep going in memory.
      }
    }
  }

  clear(keep: Stored): void {
    this.data = {};
    this.set(keep);
  }
}

/** A per-tab value: sessionStorage when allowed, else memory. */
export function tabValue(key: string, make: () => string, persistent: boolean): string {
  if (!persistent) return make();
  try {
    let v = sessionStorage.getItem(key);
    if (!v) sessionStorage.setItem(key, (v = make()));
    return v;
  } catch {
    return make();
  }
}

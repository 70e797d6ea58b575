// Sends queued items to one endpoint: batched every few seconds, gzipped with the browser's
// CompressionStream where it exists, retried with backoff (honouring Retry-After) on network
// errors, 408, 429 and 5xx; items keep their uuid across retries, so the server's dedup makes
// retries harmless. The queue is bounded: when the visitor is offline, the oldest items go.

export interface QueueOptions {
  flushMs: number;
  maxItems: number;
  batchItems: number;
  /** Flush early once this many bytes are waiting (estimated from the items' `size`). */
  maxBytes?: number;
  /** Drop the oldest items while more than this many bytes wait (offline). */
  maxQueuedBytes?: number;
}

export interface Item {
  size?: number;
}

const MAX_BACKOFF_MS = 60_000;
const KEEPALIVE_MAX = 60_000; // browsers allow 64 KB of keepalive bodies in flight

export async function gzip(text: string): Promise<BodyInit> {
  if (typeof CompressionStream === "undefined") return text;
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

function retryAfterMs(res: Response): number {
  const v = res.headers.get("Retry-After");
  const s = v ? Number(v) : NaN;
  return isFinite(s) && s > 0 ? Math.min(s * 1000, MAX_BACKOFF_MS * 5) : 0;
}

export class Queue<T extends Item> {
  private items: T[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private busy = false;
  private failures = 0;
  private pausedUntil = 0;
  dropped = 0;

  constructor(
    private readonly url: () => string,
    private readonly encode: (items: T[]) => string,
    private readonly opts: QueueOptions,
  ) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    this.items.push(item);
    this.bytes += item.size || 0;
    this.trim();
    if (this.opts.maxBytes && this.bytes >= this.opts.maxBytes) void this.flush();
    else this.schedule(this.opts.flushMs);
  }

  /** Over the bounds (offline for long): the oldest items go. */
  private trim(): void {
    const cap = this.opts.maxQueuedBytes || Infinity;
    while (this.items.length > this.opts.maxItems || (this.bytes > cap && this.items.length > 1)) {
      this.bytes -= this.items.shift()!.size || 0;
      this.dropped++;
    }
  }

  private schedule(ms: number): void {
    if (this.timer === undefined)
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, ms);
  }

  private take(): T[] {
    let n = 0;
    let bytes = 0;
    const cap = this.opts.maxBytes || Infinity;
    while (n < this.items.length && n < this.opts.batchItems && (n === 0 || bytes < cap))
      bytes += this.items[n++].size || 0;
    this.bytes -= bytes;
    return this.items.splice(0, n);
  }

  async flush(): Promise<void> {
    if (this.busy || !this.items.length) return;
    const wait = this.pausedUntil - Date.now();
    if (wait > 0) return this.schedule(wait);
    this.busy = true;
    const batch = this.take();
    let retry = 0;
    try {
      const body = await gzip(this.encode(batch));
      const res = await fetch(this.url(), {
        method: "POST",
        body,
        headers: { "Content-Type": "text/plain" },
        credentials: "omit",
        // Small requests outlive the page if it closes while they are in flight.
        keepalive: (typeof body === "string" ? body.length : (body as ArrayBuffer).byteLength) < KEEPALIVE_MAX,
      });
      if (res.status === 200) this.failures = 0;
      else if (res.status >= 500 || res.status === 408 || res.status === 429)
        retry = retryAfterMs(res) || 1;
      // Any other 4xx is a rejection of the data itself: sending it again would not help.
    } catch {
      retry = 1;
    }
    if (retry) {
      this.items.unshift(...batch);
      this.bytes += batch.reduce((s, i) => s + (i.size || 0), 0);
      this.trim();
      this.failures++;
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures, 6));
      this.pausedUntil = Date.now() + Math.max(retry, backoff * (0.5 + Math.random() / 2));
    }
    this.busy = false;
    if (this.items.length) this.schedule(retry ? this.pausedUntil - Date.now() : 0);
  }

  /** On page hide: hand everything waiting to sendBeacon, which outlives the page. */
  unload(): void {
    while (this.items.length) {
      const batch = this.take();
      const body = new Blob([this.encode(batch)], { type: "text/plain" });
      if (!navigator.sendBeacon || !navigator.sendBeacon(this.url(), body)) {
        this.items.unshift(...batch);
        return;
      }
    }
    this.bytes = 0;
  }
}

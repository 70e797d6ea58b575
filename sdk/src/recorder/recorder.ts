// Session recording: rrweb's recorder plus our console and network capture, buffered and sent
// to `/s/` as `$snapshot` events about every 2 seconds or when a size cap is reached.

import { record } from "@rrweb/record";
import type { RecorderHost, Recorder } from "../core/client";
import type { Item } from "../core/transport";
import { watchConsole } from "./console";
import { watchNetwork } from "./network";

export const FLUSH_MS = 2000;
export const FLUSH_BYTES = 900_000;
// Less than this waits for the next tick (up to MAX_WAIT_MS): a request per quiet moment costs
// more in envelope and lost compression than it carries.
export const MIN_FLUSH_BYTES = 8000;
export const MAX_WAIT_MS = 6000;
export const FULL_SNAPSHOT_EVERY_MS = 5 * 60 * 1000;

interface RRWebEvent {
  type: number;
  timestamp: number;
  data: unknown;
}

interface Buffered {
  session: string;
  event: RRWebEvent;
  size: number;
  at: number;
}

interface Snapshot extends Item {
  properties: Record<string, unknown>;
}

// Incremental sources that mean the visitor is active: mouse interaction, scroll, input, touch.
const ACTIVE_SOURCES = new Set([2, 3, 5, 6]);
const PLUGIN = 6;

/** Bytes of an event as JSON: measured for snapshots and DOM mutations (which can be large),
 * estimated for the many small interaction events, so the recording is serialised only once. */
const sizeOf = (e: RRWebEvent): number =>
  e.type === 2 || e.type === 6 || (e.type === 3 && (e.data as { source: number }).source === 0)
    ? JSON.stringify(e).length
    : 120;

const isActivity = (e: RRWebEvent): boolean =>
  e.type === 3 && ACTIVE_SOURCES.has((e.data as { source: number }).source);

export function startRecorder(host: RecorderHost): Recorder {
  const config = host.config;
  const minDuration = config.minimumDurationMilliseconds || 0;
  let buffer: Buffered[] = [];
  let bytes = 0;
  const queue = host.queue<Snapshot>(
    () => `${host.apiHost}${config.endpoint || "/s/"}`,
    // A lean envelope: the token once; per item only what the server files the chunk under.
    (items) =>
      JSON.stringify({ api_key: host.token, batch: items.map(({ size: _, ...item }) => item) }),
    { flushMs: 0, maxItems: 200, batchItems: 20, maxBytes: FLUSH_BYTES, maxQueuedBytes: 8_000_000 },
  );
  let dropped = 0;

  const push = (event: RRWebEvent): void => {
    const session = host.sessionId(isActivity(event));
    const size = sizeOf(event);
    buffer.push({ session, event, size, at: Date.now() });
    bytes += size;
    if (bytes >= FLUSH_BYTES) flush(false);
  };

  const flush = (unload: boolean): void => {
    if (!buffer.length) return;
    // Too short so far to be worth keeping: hold on (lost if the page goes away first).
    if (Date.now() - host.sessionStart() < minDuration) return;
    const bySession = new Map<string, Buffered[]>();
    for (const b of buffer) {
      const list = bySession.get(b.session);
      if (list) list.push(b);
      else bySession.set(b.session, [b]);
    }
    buffer = [];
    bytes = 0;
    bySession.forEach((items, session) => {
      queue.push({
        size: items.reduce((s, i) => s + i.size, 0),
        properties: {
          distinct_id: host.distinctId(),
          $session_id: session,
          $window_id: host.windowId,
          $snapshot_data: items.map((i) => i.event),
        },
      });
    });
    if (unload) queue.unload();
    else void queue.flush();
    if (queue.dropped > dropped) {
      // Offline long enough to lose data: start again from a full snapshot.
      dropped = queue.dropped;
      record.takeFullSnapshot(true);
    }
  };

  const plugin = (name: string, payload: Record<string, unknown>): void =>
    push({ type: PLUGIN, timestamp: Date.now(), data: { plugin: name, payload } });

  const undo: Array<() => void> = [];
  if (config.consoleLogRecordingEnabled !== false) undo.push(watchConsole(plugin));
  if (config.captureNetwork !== false)
    undo.push(watchNetwork(plugin, (url) => url.startsWith(host.apiHost) || url.startsWith("/s/")));

  const stopRecording = record({
    emit: (e) => push(e as RRWebEvent),
    maskAllInputs: config.maskAllInputs !== false,
    maskInputOptions: { password: true },
    // Class names and selectors, not regular expressions: rrweb then asks the browser
    // (`closest`) instead of walking every ancestor's class list in script.
    blockClass: "ul-block",
    blockSelector: ".ph-no-capture,.ul-no-capture",
    maskTextClass: "ul-mask",
    maskTextSelector: ".ph-mask,.ul-sensitive,.ph-sensitive",
    ignoreClass: "ul-ignore-input",
    inlineStylesheet: true,
    recordCanvas: false,
    collectFonts: false,
    checkoutEveryNms: FULL_SNAPSHOT_EVERY_MS,
    // Mouse positions at 10 per second, scroll and media throttled, one input event per
    // change (never keystrokes); of mouse buttons only what the player shows (clicks, focus,
    // touches), not every press and release.
    sampling: {
      mousemove: 100,
      mouseInteraction: { MouseUp: false, MouseDown: false },
      scroll: 150,
      media: 800,
      input: "last",
    },
    // Scripts, comments, favicons and most head meta tags are left out of snapshots.
    slimDOMOptions: true,
  });

  host.onSessionRotate(() =>
    setTimeout(() => {
      flush(false);
      record.takeFullSnapshot(true);
    }, 0),
  );
  const timer = setInterval(() => {
    if (bytes >= MIN_FLUSH_BYTES || (buffer.length && Date.now() - buffer[0].at >= MAX_WAIT_MS))
      flush(false);
  }, FLUSH_MS);

  return {
    flush,
    stop() {
      clearInterval(timer);
      stopRecording?.();
      undo.forEach((u) => u());
      flush(false);
    },
  };
}

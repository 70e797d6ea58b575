// Session recording: rrweb's recorder plus our console and network capture, buffered and sent
// to `/s/` as `$snapshot` events about every 2 seconds or when a size cap is reached.

import { record } from "@rrweb/record";
import type { RecorderHost, Recorder } from "../core/client";
import type { Item } from "../core/transport";
import { watchConsole } from "./console";
import { watchNetwork } from "./network";

export const FLUSH_MS = 2000;
export const FLUSH_BYTES = 900_000;
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
}

interface Snapshot extends Item {
  event: "$snapshot";
  timestamp: string;
  properties: Record<string, unknown>;
}

// Incremental sources that mean the visitor is active: mouse interaction, scroll, input, touch.
const ACTIVE_SOURCES = new Set([2, 3, 5, 6]);
const PLUGIN = 6;

const isActivity = (e: RRWebEvent): boolean =>
  e.type === 3 && ACTIVE_SOURCES.has((e.data as { source: number }).source);

export function startRecorder(host: RecorderHost): Recorder {
  const config = host.config;
  const minDuration = config.minimumDurationMilliseconds || 0;
  let buffer: Buffered[] = [];
  let bytes = 0;
  const queue = host.queue<Snapshot>(
    () => `${host.apiHost}${config.endpoint || "/s/"}`,
    (items) => {
      const sentAt = new Date().toISOString();
      return JSON.stringify(items.map(({ size: _, ...item }) => ({ ...item, sent_at: sentAt })));
    },
    { flushMs: 0, maxItems: 200, batchItems: 20, maxBytes: FLUSH_BYTES, maxQueuedBytes: 8_000_000 },
  );
  let dropped = 0;

  const push = (event: RRWebEvent): void => {
    const session = host.sessionId(isActivity(event));
    const size = JSON.stringify(event).length;
    buffer.push({ session, event, size });
    bytes += size;
    if (bytes >= FLUSH_BYTES) flush(false);
  };

  const flush = (unload: boolean): void => {
    if (!buffer.length) return;
    if (Date.now() - host.sessionStart() < minDuration) {
      // Too short so far to be worth keeping: hold on, and forget it if the page goes away.
      if (unload) {
        buffer = [];
        bytes = 0;
      }
      return;
    }
    const bySession = new Map<string, Buffered[]>();
    for (const b of buffer) {
      const list = bySession.get(b.session);
      if (list) list.push(b);
      else bySession.set(b.session, [b]);
    }
    buffer = [];
    bytes = 0;
    bySession.forEach((items, session) => {
      const size = items.reduce((s, i) => s + i.size, 0);
      const uuid = host.uuid();
      queue.push({
        uuid,
        event: "$snapshot",
        timestamp: new Date(items[0].event.timestamp).toISOString(),
        size,
        properties: {
          token: host.token,
          distinct_id: host.distinctId(),
          $session_id: session,
          $window_id: host.windowId,
          $snapshot_bytes: size,
          $snapshot_data: items.map((i) => i.event),
          $lib: host.lib,
          $lib_version: host.version,
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
    blockClass: /^(ul-block|ph-no-capture)$/,
    maskTextClass: /^(ul|ph)-(mask|sensitive)$/,
    ignoreClass: "ul-ignore-input",
    inlineStylesheet: true,
    recordCanvas: false,
    collectFonts: false,
    checkoutEveryNms: FULL_SNAPSHOT_EVERY_MS,
    sampling: { mousemove: 100, mouseInteraction: true, scroll: 150, media: 800, input: "last" },
    // Scripts, comments, favicons and most head meta tags are left out of snapshots.
    slimDOMOptions: true,
  });

  host.onSessionRotate(() =>
    setTimeout(() => {
      flush(false);
      record.takeFullSnapshot(true);
    }, 0),
  );
  const timer = setInterval(() => flush(false), FLUSH_MS);

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

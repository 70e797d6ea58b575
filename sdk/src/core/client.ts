// The Userlens browser client: what `userlens.init(token, {...})` sets up.

import { Autocapture } from "./autocapture";
import { exceptionProps, watchErrors } from "./errors";
import { unitHash, uuidTime, uuidv7 } from "./ids";
import { Persistence, type PersistenceKind, tabValue } from "./storage";
import { Sessions } from "./session";
import { Queue, type Item, type QueueOptions } from "./transport";

declare const __VERSION__: string;
export const VERSION = typeof __VERSION__ === "string" ? __VERSION__ : "dev";
export const LIB = "userlens-web";

export interface Config {
  api_host: string;
  autocapture: boolean;
  capture_pageview: boolean;
  capture_pageleave: boolean;
  capture_exceptions: boolean;
  rageclick: boolean;
  capture_dead_clicks: boolean;
  disable_session_recording: boolean;
  /** "memory" is the cookieless mode: nothing is stored on the device. */
  persistence: PersistenceKind;
  respect_dnt: boolean;
  flush_interval_ms: number;
  session_idle_timeout_ms: number;
  /** Where the recorder bundle is loaded from; defaults to the server's own copy. */
  recorder_url?: string;
  loaded?: (client: Userlens) => void;
}

export interface RecordingConfig {
  endpoint?: string;
  sampleRate?: string | number | null;
  minimumDurationMilliseconds?: number | null;
  consoleLogRecordingEnabled?: boolean;
  urlAllow?: string[];
  urlDeny?: string[];
  maskAllInputs?: boolean;
  captureNetwork?: boolean;
}

export interface RemoteConfig {
  sessionRecording?: RecordingConfig | false;
  respectDnt?: boolean;
  autocapture_opt_out?: boolean;
}

export interface CaptureEvent {
  uuid: string;
  event: string;
  timestamp: string;
  properties: Record<string, unknown>;
  $set?: Record<string, unknown>;
  $set_once?: Record<string, unknown>;
  size?: number;
}

/** What the lazily loaded recorder gets from the client. */
export interface RecorderHost {
  token: string;
  apiHost: string;
  config: RecordingConfig;
  sessionId(activity: boolean): string;
  windowId: string;
  distinctId(): string;
  sessionStart(): number;
  onSessionRotate(cb: (id: string) => void): void;
  /** The client's own sender, so the recorder bundle does not ship it again. */
  queue: typeof makeQueue;
}

export interface Recorder {
  stop(): void;
  flush(unload: boolean): void;
}

type Props = Record<string, unknown>;

const makeQueue = <T extends Item>(
  url: () => string,
  encode: (items: T[]) => string,
  opts: QueueOptions,
): Queue<T> => new Queue(url, encode, opts);

const DEFAULTS: Config = {
  api_host: "",
  autocapture: true,
  capture_pageview: true,
  capture_pageleave: true,
  capture_exceptions: true,
  rageclick: true,
  capture_dead_clicks: true,
  disable_session_recording: false,
  persistence: "localStorage",
  respect_dnt: false,
  flush_interval_ms: 5000,
  session_idle_timeout_ms: 30 * 60 * 1000,
};

const CAMPAIGN = /^(utm_(source|medium|campaign|content|term)|gclid|fbclid|msclkid)$/;

function campaign(): Props {
  const out: Props = {};
  new URLSearchParams(location.search).forEach((v, k) => {
    if (CAMPAIGN.test(k)) out[k] = v.slice(0, 200);
  });
  return out;
}

function referrer(): Props {
  const r = document.referrer;
  let domain = "$direct";
  try {
    if (r) domain = new URL(r).host;
  } catch {
    domain = "$direct";
  }
  return { $referrer: r || "$direct", $referring_domain: domain };
}

function matchesAny(patterns: string[] | undefined, url: string): boolean {
  return !!patterns && patterns.some((p) => {
    try {
      return new RegExp(p).test(url);
    } catch {
      return url.includes(p);
    }
  });
}

export class Userlens {
  config: Config = { ...DEFAULTS };
  token = "";
  private store!: Persistence;
  private sessions!: Sessions;
  private events!: Queue<CaptureEvent>;
  private windowId = "";
  private lastPath = "";
  private pageviewAt = 0;
  private initialProps: Props = {};
  private recorder: Recorder | undefined;
  private recording: RecordingConfig | undefined;
  private autocapture: Autocapture | undefined;
  private started = false;
  private blocked = false; // Do-Not-Track, when the project respects it: not stored anywhere

  init(token: string, options: Partial<Config> = {}): Userlens {
    if (this.started) return this;
    this.started = true;
    this.token = token;
    this.config = { ...DEFAULTS, ...options };
    this.config.api_host = this.config.api_host.replace(/\/+$/, "");
    const persistent = this.config.persistence !== "memory";
    this.store = new Persistence(`ul_${token}`, this.config.persistence);
    this.sessions = new Sessions(this.store, this.config.session_idle_timeout_ms);
    this.windowId = tabValue(`ul_window_${token}`, () => uuidv7(), persistent);
    if (!this.store.get("device_id")) {
      const id = uuidv7();
      this.store.set({ device_id: id, distinct_id: this.store.get("distinct_id") || id });
    }
    this.initialProps = { ...campaign(), ...referrer() };
    this.events = new Queue(
      () => `${this.config.api_host}/i/v0/e/`,
      (batch) =>
        JSON.stringify({ api_key: this.token, sent_at: new Date().toISOString(), batch }),
      { flushMs: this.config.flush_interval_ms, maxItems: 1000, batchItems: 50, maxBytes: 60_000 },
    );
    if (this.config.respect_dnt && this.dnt()) {
      this.blocked = true;
      return this;
    }
    this.listen();
    void this.remoteConfig();
    this.config.loaded?.(this);
    return this;
  }

  private dnt(): boolean {
    const w = window as unknown as { doNotTrack?: string };
    return [navigator.doNotTrack, w.doNotTrack].some((v) => v === "1" || v === "yes");
  }

  private listen(): void {
    const c = this.config;
    if (c.capture_exceptions)
      watchErrors((props) => {
        this.autocapture?.changed();
        this.capture("$exception", props);
      });
    if (c.autocapture || c.rageclick || c.capture_dead_clicks)
      this.autocapture = new Autocapture((event, props) => this.capture(event, props), {
        clicks: c.autocapture,
        rageclicks: c.rageclick,
        deadclicks: c.capture_dead_clicks,
      });
    if (c.capture_pageview) {
      for (const name of ["pushState", "replaceState"] as const) {
        const original = history[name];
        history[name] = function (this: History, ...args: Parameters<History["pushState"]>) {
          original.apply(this, args);
          dispatchEvent(new Event("ul:navigate"));
        };
      }
      const onNavigate = (): void => this.pageview();
      addEventListener("ul:navigate", onNavigate);
      addEventListener("popstate", onNavigate);
      this.pageview();
    }
    const hide = (): void => {
      if (c.capture_pageleave && this.lastPath) this.capture("$pageleave", this.leaveProps());
      this.recorder?.flush(true);
      this.events.unload();
    };
    addEventListener("pagehide", hide);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") {
        this.recorder?.flush(true);
        this.events.unload();
      }
    });
  }

  private leaveProps(): Props {
    return {
      $prev_pageview_pathname: this.lastPath,
      $prev_pageview_duration: Math.round((Date.now() - this.pageviewAt) / 1000),
    };
  }

  private pageview(): void {
    const path = location.pathname + location.search;
    if (path === this.lastPath) return;
    this.autocapture?.changed();
    this.capture("$pageview", this.lastPath ? this.leaveProps() : {});
    this.lastPath = path;
    this.pageviewAt = Date.now();
  }

  private async remoteConfig(): Promise<void> {
    let remote: RemoteConfig = {};
    try {
      const res = await fetch(`${this.config.api_host}/array/${this.token}/config`, {
        credentials: "omit",
      });
      if (res.ok) remote = (await res.json()) as RemoteConfig;
    } catch {
      return;
    }
    if (remote.respectDnt && this.dnt()) {
      this.blocked = true;
      return;
    }
    if (remote.sessionRecording) this.recording = remote.sessionRecording;
    this.maybeRecord();
  }

  private maybeRecord(): void {
    const rec = this.recording;
    if (!rec || this.recorder || this.config.disable_session_recording || this.optedOut()) return;
    const rate = rec.sampleRate === null || rec.sampleRate === undefined ? 1 : +rec.sampleRate;
    if (unitHash(this.sessions.id(false)) >= rate) return;
    if (rec.urlAllow?.length && !matchesAny(rec.urlAllow, location.href)) return;
    if (matchesAny(rec.urlDeny, location.href)) return;
    const w = window as unknown as { __userlens_recorder?: (h: RecorderHost) => Recorder };
    const start = (): void => {
      if (!this.recorder && w.__userlens_recorder) this.recorder = w.__userlens_recorder(this.host(rec));
    };
    if (w.__userlens_recorder) return start();
    const s = document.createElement("script");
    s.src = this.config.recorder_url || `${this.config.api_host}/static/userlens-recorder.js?v=${VERSION}`;
    s.crossOrigin = "anonymous";
    s.onload = start;
    document.head.appendChild(s);
  }

  private host(config: RecordingConfig): RecorderHost {
    return {
      token: this.token,
      apiHost: this.config.api_host,
      config,
      sessionId: (activity) => this.sessions.id(activity),
      windowId: this.windowId,
      distinctId: () => this.get_distinct_id(),
      sessionStart: () => this.sessions.start(),
      onSessionRotate: (cb) => this.sessions.onRotate(cb),
      queue: makeQueue,
    };
  }

  private optedOut(): boolean {
    return this.blocked || !!this.store?.get("opted_out");
  }

  private baseProps(): Props {
    return {
      token: this.token,
      distinct_id: this.get_distinct_id(),
      $device_id: this.store.get("device_id"),
      $session_id: this.sessions.id(true),
      $window_id: this.windowId,
      $current_url: location.href,
      $host: location.host,
      $pathname: location.pathname,
      $screen_height: screen.height,
      $screen_width: screen.width,
      $viewport_height: innerHeight,
      $viewport_width: innerWidth,
      $lib: LIB,
      $lib_version: VERSION,
      $user_state: this.store.get("identified") ? "identified" : "anonymous",
    };
  }

  /** Sends an event; returns it, or undefined when capturing is off. */
  capture(event: string, properties: Props = {}, options: { $set?: Props; $set_once?: Props } = {}): CaptureEvent | undefined {
    if (!this.started || this.optedOut() || !event) return undefined;
    const uuid = uuidv7();
    const e: CaptureEvent = {
      uuid,
      event,
      timestamp: new Date(uuidTime(uuid)).toISOString(),
      properties: {
        ...this.initialProps,
        ...(this.store.get("props") || {}),
        ...this.baseProps(),
        ...properties,
      },
      ...options,
    };
    const json = JSON.stringify(e);
    e.size = json.length;
    this.initialProps = {};
    this.events.push(e);
    return e;
  }

  identify(distinctId: string, set?: Props, setOnce?: Props): void {
    if (!distinctId || !this.started) return;
    const previous = this.get_distinct_id();
    const anonymous = !this.store.get("identified");
    if (distinctId === previous) {
      if (set || setOnce) this.capture("$set", { $set: set || {}, $set_once: setOnce || {} }, { $set: set, $set_once: setOnce });
      return;
    }
    this.store.set({ distinct_id: distinctId, identified: true });
    this.capture("$identify", anonymous ? { $anon_distinct_id: previous } : {}, { $set: set, $set_once: setOnce });
  }

  alias(alias: string): void {
    if (alias && alias !== this.get_distinct_id())
      this.capture("$create_alias", { alias, distinct_id: this.get_distinct_id() });
  }

  register(props: Props): void {
    this.store.set({ props: { ...(this.store.get("props") || {}), ...props } });
  }

  register_once(props: Props): void {
    this.store.set({ props: { ...props, ...(this.store.get("props") || {}) } });
  }

  unregister(name: string): void {
    const props = { ...(this.store.get("props") || {}) };
    delete props[name];
    this.store.set({ props });
  }

  /** Forget the visitor: new anonymous id, no super properties, a new session. */
  reset(resetDevice = false): void {
    if (!this.started) return;
    const id = uuidv7();
    const device = resetDevice ? id : this.store.get("device_id");
    this.store.clear({ device_id: device, distinct_id: id, opted_out: this.store.get("opted_out") });
    this.sessions.reset();
  }

  get_distinct_id(): string {
    return this.store?.get("distinct_id") || "";
  }

  get_session_id(): string {
    return this.started ? this.sessions.id(false) : "";
  }

  /** A link to this moment of this session's replay. */
  get_session_url(withTimestamp = true): string {
    const id = this.get_session_id();
    const t = Math.max(0, Math.floor((Date.now() - this.sessions.start()) / 1000) - 10);
    return `${this.config.api_host}/replay/${id}${withTimestamp ? `?t=${t}` : ""}`;
  }

  captureException(error: unknown, props: Props = {}): void {
    this.capture("$exception", { ...exceptionProps(error, "manual"), ...props });
  }

  opt_out_capturing(): void {
    if (!this.started) return;
    this.store.set({ opted_out: true });
    this.recorder?.stop();
    this.recorder = undefined;
  }

  opt_in_capturing(): void {
    if (!this.started) return;
    this.store.set({ opted_out: false });
    if (this.blocked) return;
    this.capture("$opt_in");
    this.maybeRecord();
  }

  session_recording_started(): boolean {
    return !!this.recorder;
  }

  has_opted_out_capturing(): boolean {
    return this.optedOut();
  }

  /** Sends everything waiting now (tests and single-page teardown). */
  flush(): Promise<void> {
    this.recorder?.flush(false);
    return this.events.flush();
  }
}

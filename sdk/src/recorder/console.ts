// Console capture for recordings: log/info/warn/error lines, their arguments serialised safely
// (cycles, depth, length) and capped, as rrweb "rrweb/console@1" plugin events.

export const CONSOLE_PLUGIN = "rrweb/console@1";
const LEVELS = ["log", "info", "warn", "error", "debug"] as const;
const MAX_ARG_CHARS = 2000;
const MAX_ARGS = 10;
const MAX_LINES_PER_MINUTE = 600;

export function serialise(value: unknown): string {
  if (typeof value === "string") return value.slice(0, MAX_ARG_CHARS);
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack || ""}`.slice(0, MAX_ARG_CHARS);
  if (typeof value === "function") return `[function ${value.name || "anonymous"}]`;
  if (typeof value !== "object" || value === null) return String(value);
  if (value instanceof Node) return `[${value.nodeName.toLowerCase()}]`;
  const seen = new WeakSet<object>();
  try {
    return (
      JSON.stringify(value, function (_k, v: unknown) {
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[circular]";
          seen.add(v);
          if (v instanceof Node) return `[${v.nodeName.toLowerCase()}]`;
        }
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "function") return "[function]";
        return v;
      }) || String(value)
    ).slice(0, MAX_ARG_CHARS);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export type PluginEmit = (plugin: string, payload: Record<string, unknown>) => void;

/** Wraps the console methods; returns a function that restores them. */
export function watchConsole(emit: PluginEmit): () => void {
  const originals: Partial<Record<(typeof LEVELS)[number], (...a: unknown[]) => void>> = {};
  let windowStart = Date.now();
  let lines = 0;
  let busy = false;
  for (const level of LEVELS) {
    const original = console[level];
    originals[level] = original;
    console[level] = function (...args: unknown[]) {
      original.apply(console, args);
      if (busy) return;
      const now = Date.now();
      if (now - windowStart > 60_000) {
        windowStart = now;
        lines = 0;
      }
      if (++lines > MAX_LINES_PER_MINUTE) return;
      busy = true;
      try {
        const trace =
          level === "error" ? (new Error().stack || "").split("\n").slice(2, 8).map((l) => l.trim()) : [];
        emit(CONSOLE_PLUGIN, { level, payload: args.slice(0, MAX_ARGS).map(serialise), trace });
      } finally {
        busy = false;
      }
    };
  }
  return () => {
    for (const level of LEVELS) if (originals[level]) console[level] = originals[level]!;
  };
}

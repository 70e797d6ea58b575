// Uncaught errors and unhandled promise rejections as `$exception` events with parsed frames.

export interface Frame {
  filename: string;
  function: string;
  lineno?: number;
  colno?: number;
  in_app: boolean;
}

// Chrome:  "    at fn (https://x/app.js:10:5)" or "    at https://x/app.js:10:5"
// Firefox/Safari: "fn@https://x/app.js:10:5"
const CHROME = /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?\s*$/;
const GECKO = /^\s*(.*?)@(.+?):(\d+):(\d+)\s*$/;

/** Frames of a stack trace, outermost call first and the throwing frame last. */
export function parseStack(stack: string, origin: string = location.origin): Frame[] {
  const frames: Frame[] = [];
  for (const line of stack.split("\n").slice(0, 60)) {
    const m = CHROME.exec(line) || GECKO.exec(line);
    if (!m) continue;
    const filename = m[2];
    frames.push({
      filename,
      function: m[1] || "?",
      lineno: +m[3],
      colno: +m[4],
      in_app: filename.startsWith(origin) && !/userlens(-recorder)?(\.esm)?\.js/.test(filename),
    });
  }
  return frames.reverse();
}

export function exceptionProps(
  error: unknown,
  mechanism: string,
  fallback?: { message?: string; filename?: string; lineno?: number; colno?: number },
): Record<string, unknown> {
  const err = error instanceof Error ? error : undefined;
  const type = err ? err.name || "Error" : mechanism === "onunhandledrejection" ? "UnhandledRejection" : "Error";
  let value = err ? err.message : fallback?.message || "";
  if (!err && error !== undefined && error !== null) {
    try {
      value = typeof error === "string" ? error : JSON.stringify(error);
    } catch {
      value = String(error);
    }
  }
  let frames = err && err.stack ? parseStack(err.stack) : [];
  if (!frames.length && fallback?.filename)
    frames = [
      {
        filename: fallback.filename,
        function: "?",
        lineno: fallback.lineno,
        colno: fallback.colno,
        in_app: fallback.filename.startsWith(location.origin),
      },
    ];
  return {
    $exception_list: [
      {
        type,
        value: String(value).slice(0, 2000),
        mechanism: { type: mechanism, handled: mechanism === "manual" },
        stacktrace: { type: "raw", frames },
      },
    ],
    $exception_level: "error",
  };
}

export function watchErrors(report: (props: Record<string, unknown>) => void): void {
  addEventListener("error", (e: ErrorEvent) => {
    report(exceptionProps(e.error, "onerror", e));
  });
  addEventListener("unhandledrejection", (e: PromiseRejectionEvent) => {
    report(exceptionProps(e.reason, "onunhandledrejection"));
  });
}

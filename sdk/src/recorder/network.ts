// Network capture for recordings: fetch and XHR calls with method, URL (secret-looking query
// values removed), status, timing and sizes, never bodies, as "rrweb/network@1" plugin events.

import type { PluginEmit } from "./console";

export const NETWORK_PLUGIN = "rrweb/network@1";
const SECRET = /token|key|secret|pass|auth|session|sig|code|credential|jwt/i;

/** The URL with the values of secret-looking query parameters replaced. */
export function scrubUrl(raw: string): string {
  try {
    const url = new URL(raw, location.href);
    url.username = "";
    url.password = "";
    for (const k of Array.from(url.searchParams.keys()))
      if (SECRET.test(k)) url.searchParams.set(k, "[redacted]");
    return url.toString().replace(/%5Bredacted%5D/g, "[redacted]");
  } catch {
    return String(raw).split("?")[0];
  }
}

function bodySize(body: unknown): number | undefined {
  if (typeof body === "string") return body.length;
  if (body instanceof Blob) return body.size;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  return undefined;
}

export interface Request {
  name: string;
  method: string;
  status: number;
  initiatorType: "fetch" | "xmlhttprequest";
  startTime: number;
  duration: number;
  requestBodySize?: number;
  responseBodySize?: number;
  timestamp: number;
}

/** Wraps fetch and XMLHttpRequest; `ignore` skips our own traffic. Returns an undo function. */
export function watchNetwork(emit: PluginEmit, ignore: (url: string) => boolean): () => void {
  const report = (r: Request): void => emit(NETWORK_PLUGIN, { requests: [r] });
  const originalFetch = window.fetch;
  window.fetch = async function (input: RequestInfo | URL, init?: RequestInit) {
    const url = input instanceof Request ? input.url : String(input);
    const method = (init?.method || (input instanceof Request ? input.method : "GET")).toUpperCase();
    const t0 = performance.now();
    const timestamp = Date.now();
    const done = (status: number, size?: number): void => {
      if (!ignore(url))
        report({
          name: scrubUrl(url),
          method,
          status,
          initiatorType: "fetch",
          startTime: t0,
          duration: Math.round(performance.now() - t0),
          requestBodySize: bodySize(init?.body),
          responseBodySize: size,
          timestamp,
        });
    };
    try {
      const res = await originalFetch.call(window, input, init);
      const length = res.headers.get("content-length");
      done(res.status, length ? +length : undefined);
      return res;
    } catch (err) {
      done(0);
      throw err;
    }
  };
  const proto = XMLHttpRequest.prototype;
  const open = proto.open;
  const send = proto.send;
  type Tagged = XMLHttpRequest & { __ul?: { method: string; url: string } };
  proto.open = function (this: Tagged, method: string, url: string | URL, ...rest: unknown[]) {
    this.__ul = { method: method.toUpperCase(), url: String(url) };
    return (open as (...a: unknown[]) => void).call(this, method, url, ...rest);
  } as typeof proto.open;
  proto.send = function (this: Tagged, body?: Document | XMLHttpRequestBodyInit | null) {
    const meta = this.__ul;
    if (meta && !ignore(meta.url)) {
      const t0 = performance.now();
      const timestamp = Date.now();
      this.addEventListener("loadend", () => {
        const length = this.getResponseHeader("content-length");
        report({
          name: scrubUrl(meta.url),
          method: meta.method,
          status: this.status,
          initiatorType: "xmlhttprequest",
          startTime: t0,
          duration: Math.round(performance.now() - t0),
          requestBodySize: bodySize(body),
          responseBodySize: length ? +length : undefined,
          timestamp,
        });
      });
    }
    return send.call(this, body);
  };
  return () => {
    window.fetch = originalFetch;
    proto.open = open;
    proto.send = send;
  };
}

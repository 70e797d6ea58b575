// Network capture for recordings: fetch and XHR calls with method, URL (secret-looking query
// values removed), status, timing and sizes, never bodies, as "rrweb/network@1" plugin events.

import type { PluginEmit } from "./console";

export const NETWORK_PLUGIN = "rrweb/network@1";
const SECRET = /token|key|secret|pass|auth|session|sig|code|credential|jwt/i;

/** The URL with the values of secret-looking query parameters replaced. */
export function scrubUrl(raw: string): string {
  try {
    const url = new URL(raw, location.href);
    url.username = url.password = "";
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
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  return undefined;
}

export interface NetworkRequest {
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

type Done = (status: number, responseLength: string | null) => void;

/** Wraps fetch and XMLHttpRequest; `ignore` skips our own traffic. Returns an undo function. */
export function watchNetwork(emit: PluginEmit, ignore: (url: string) => boolean): () => void {
  const start = (
    initiatorType: NetworkRequest["initiatorType"],
    method: string,
    url: string,
    body: unknown,
  ): Done => {
    const startTime = performance.now();
    const timestamp = Date.now();
    return (status, length) => {
      if (ignore(url)) return;
      const request: NetworkRequest = {
        name: scrubUrl(url),
        method: method.toUpperCase(),
        status,
        initiatorType,
        startTime: Math.round(startTime),
        duration: Math.round(performance.now() - startTime),
        requestBodySize: bodySize(body),
        responseBodySize: length ? +length : undefined,
        timestamp,
      };
      emit(NETWORK_PLUGIN, { requests: [request] });
    };
  };

  const originalFetch = window.fetch;
  window.fetch = async function (input: RequestInfo | URL, init?: RequestInit) {
    const req = input instanceof Request ? input : undefined;
    const done = start("fetch", init?.method || req?.method || "GET", req ? req.url : String(input), init?.body);
    try {
      const res = await originalFetch.call(window, input, init);
      done(res.status, res.headers.get("content-length"));
      return res;
    } catch (err) {
      done(0, null);
      throw err;
    }
  };

  const proto = XMLHttpRequest.prototype;
  const { open, send } = proto;
  type Tagged = XMLHttpRequest & { __ul?: [string, string] };
  proto.open = function (this: Tagged, method: string, url: string | URL, ...rest: unknown[]) {
    this.__ul = [method, String(url)];
    return (open as (...a: unknown[]) => void).call(this, method, url, ...rest);
  } as typeof proto.open;
  proto.send = function (this: Tagged, body?: Document | XMLHttpRequestBodyInit | null) {
    if (this.__ul) {
      const done = start("xmlhttprequest", this.__ul[0], this.__ul[1], body);
      this.addEventListener("loadend", () => done(this.status, this.getResponseHeader("content-length")));
    }
    return send.call(this, body);
  };
  return () => {
    window.fetch = originalFetch;
    proto.open = open;
    proto.send = send;
  };
}

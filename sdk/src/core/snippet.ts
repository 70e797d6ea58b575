// The script-tag build. It defines `window.userlens`; calls made before it loaded, on a
// `window.userlens = window.userlens || []` stub, are replayed in order. A script tag with
// `data-token` initialises itself, with the api host taken from the script's own URL.

import { Userlens } from "./client";

type Stub = Array<[string, ...unknown[]]>;
const w = window as unknown as { userlens?: Userlens | Stub };
const queued = Array.isArray(w.userlens) ? w.userlens : [];
const client = new Userlens();
w.userlens = client;

const tag = document.currentScript as HTMLScriptElement | null;
const token = tag?.dataset.token;
if (tag && token) client.init(token, { api_host: new URL(tag.src).origin });

for (const [method, ...args] of queued) {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  if (typeof fn === "function") fn.apply(client, args);
}

// Identifiers: UUIDv7 for events, sessions and windows (time-ordered, so they sort by creation).

const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");

export function uuidv7(now: number = Date.now()): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  for (let i = 0, t = now; i < 6; i++, t = Math.floor(t / 256)) b[5 - i] = t % 256;
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The creation time (ms) of a UUIDv7. */
export const uuidTime = (id: string): number => parseInt(id.replace(/-/g, "").slice(0, 12), 16);

/** A stable number in [0, 1) from a string, for sampling sessions. */
export function unitHash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

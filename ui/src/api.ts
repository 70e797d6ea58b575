// The JSON API as the web app uses it: the session cookie rides along, and every change
// carries the session's CSRF token.

export interface Me {
  id: number;
  email: string;
  is_admin: boolean;
  csrf_token: string | null;
}

export interface Project {
  id: number;
  name: string;
  api_token: string;
  timezone: string;
  created_at: string;
  role: "admin" | "member" | "viewer" | null;
}

export interface StoredEvent {
  uuid: string;
  event: string;
  distinct_id: string;
  person_id: string | null;
  timestamp: string;
  current_url: string | null;
  browser: string | null;
  os: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

let csrfToken: string | null = null;
let expired: (() => void) | null = null;

/** Called when the API answers 401 to a signed-in page: the session ended (signed out in
 * another tab, or expired), so the app shows the sign-in form in place. */
export function onSessionEnded(fn: (() => void) | null): void {
  expired = fn;
}

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Where a recorded session's rrweb events are fetched from. */
export function snapshotsUrl(projectId: number | string, sessionId: string): string {
  return `/api/projects/${projectId}/sessions/${encodeURIComponent(sessionId)}/snapshots`;
}

/** Sign out of this browser's session. */
export async function signOut(): Promise<void> {
  await api("DELETE", "/api/session");
  csrfToken = null;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (resp.status === 204) return undefined as T;
  if (resp.status === 401 && expired && path !== "/api/session") expired();
  const data: unknown = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = data as { error?: string; detail?: unknown };
    // A refused request's detail is a sentence, or (bad fields) a list of where and what.
    const problems = Array.isArray(err.detail) ? (err.detail as { field?: string; detail?: string }[]) : [];
    const detail =
      typeof err.detail === "string"
        ? err.detail
        : problems.length
          ? problems.slice(0, 3).map((p) => `${String(p.field ?? "").replace(/^(body|query|path)\./, "")}: ${p.detail}`).join("; ")
          : `request failed (${resp.status})`;
    throw new ApiError(resp.status, err.error ?? "error", detail);
  }
  return data as T;
}

/** A moment the API gives without a zone (the stores keep UTC), as a local date. */
export function localDay(stamp: string): string {
  return new Date(/Z|[+-]\d\d:?\d\d$/.test(stamp) ? stamp : `${stamp}Z`).toLocaleDateString();
}

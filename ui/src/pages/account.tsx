import { useEffect, useState } from "preact/hooks";
import { api, type Me, setCsrfToken } from "../api";
import { ErrorNote, message, Outcome, useSubmit } from "../layout";

interface Token {
  id: number;
  label: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { note, error, submit } = useSubmit(async () => {
    await api("POST", "/api/me/password", { current_password: current, new_password: next });
    // This browser was signed in again: its CSRF token is new.
    const me = await api<Me>("GET", "/api/me");
    setCsrfToken(me.csrf_token);
    setCurrent("");
    setNext("");
    return "Password changed. Your other sessions were signed out.";
  });
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="password">
      <h2 id="password">Password</h2>
      <div class="field">
        <label for="pw-current">Current password</label>
        <input id="pw-current" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="pw-new">New password</label>
        <input id="pw-new" type="password" autocomplete="new-password" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </div>
      <Outcome note={note} error={error} />
      <button type="submit" class="primary">Change password</button>
    </form>
  );
}

function Tokens() {
  const [tokens, setTokens] = useState<Token[]>([]);
  const [label, setLabel] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api<Token[]>("GET", "/api/me/tokens").then(setTokens).catch((e) => setError(message(e)));
  useEffect(() => void load(), []);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const made = await api<{ token: string }>("POST", "/api/me/tokens", { label });
      setSecret(made.token);
      setLabel("");
      await load();
    } catch (err) {
      setError(message(err));
    }
  };
  const revoke = async (t: Token) => {
    await api("DELETE", `/api/me/tokens/${t.id}`).catch((e) => setError(message(e)));
    await load();
  };
  return (
    <section class="card stack" aria-labelledby="tokens">
      <h2 id="tokens">Personal API tokens</h2>
      <p class="muted">For scripts: send <code>Authorization: Bearer &lt;token&gt;</code> to the JSON API.</p>
      {tokens.length > 0 && (
        <table class="table">
          <thead><tr><th>Label</th><th>Starts with</th><th>Last used</th><th class="w-num" /></tr></thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td class="clip">{t.label}</td>
                <td><code>{t.prefix}…</code></td>
                <td>{t.last_used_at ? new Date(t.last_used_at).toLocaleDateString() : "never"}</td>
                <td><button type="button" class="ghost small" onClick={() => void revoke(t)}>Revoke</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="stack" onSubmit={create} aria-label="New token">
        <div class="field">
          <label for="token-label">Label</label>
          <input id="token-label" required maxLength={200} placeholder="nightly export" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary">Create token</button>
      </form>
      {secret && (
        <p class="ok" role="status">Copy it now, it is not shown again: <code data-testid="new-token">{secret}</code></p>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

export function AccountPage(props: { me: Me }) {
  return (
    <div class="page">
      <h1>Your account</h1>
      <p class="muted">Signed in as {props.me.email}{props.me.is_admin ? " (administrator)" : ""}.</p>
      <div class="columns">
        <Password />
        <Tokens />
      </div>
    </div>
  );
}

import { useState } from "preact/hooks";
import { api, ApiError, type Me } from "../api";
import { ErrorNote } from "../layout";

function CredentialsForm(props: { action: string; submit: string; path: string; onDone: (me: Me) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const send = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onDone(await api<Me>("POST", props.path, { email, password }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "The server did not answer.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack" onSubmit={send}>
      <div class="field">
        <label for={`${props.action}-email`}>Email</label>
        <input id={`${props.action}-email`} type="email" name="email" autocomplete="username" required
          value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for={`${props.action}-password`}>Password</label>
        <input id={`${props.action}-password`} type="password" name="password" required minLength={8}
          autocomplete={props.action === "setup" ? "new-password" : "current-password"}
          value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </div>
      <ErrorNote error={error} />
      <button type="submit" class="primary" disabled={busy}>
        {props.submit}
      </button>
    </form>
  );
}

export function SetupPage(props: { onDone: (me: Me) => void }) {
  return (
    <div class="center">
      <section class="card narrow">
        <h1>Welcome to Userlens</h1>
        <p class="muted">This server is new. Create its first account: it will be the administrator.</p>
        <CredentialsForm action="setup" submit="Create admin account" path="/api/setup" onDone={props.onDone} />
      </section>
    </div>
  );
}

export function SignInPage(props: { onDone: (me: Me) => void }) {
  return (
    <div class="center">
      <section class="card narrow">
        <h1>Sign in</h1>
        <CredentialsForm action="signin" submit="Sign in" path="/api/session" onDone={props.onDone} />
      </section>
    </div>
  );
}

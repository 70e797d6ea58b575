import { useEffect, useState } from "preact/hooks";
import { api, type Project } from "../api";
import { editable, type Filter, FiltersEditor, ready } from "../filters";
import { ErrorNote, message, Outcome, useSubmit } from "../layout";
import { navigate } from "../router";
import { zones } from "./projects";
import { GroupPages, type Rule } from "./simple";

interface Recording {
  enabled: boolean;
  sample_rate: number;
  min_duration_ms: number;
  retention_days: number;
  mask_inputs: boolean;
  url_allow: string[];
  url_deny: string[];
}
interface Settings {
  name: string;
  timezone: string;
  recording: Recording;
  respect_dnt: boolean;
  test_account_filters: unknown[];
  path_cleaning: Rule[];
}
interface Member {
  user_id: number;
  email: string;
  role: string;
}

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

function ProjectForm(props: { projectId: number; settings: Settings; admin: boolean; onSaved: (s: Settings) => void }) {
  const [draft, setDraft] = useState(props.settings);
  const [allow, setAllow] = useState(props.settings.recording.url_allow.join("\n"));
  const [deny, setDeny] = useState(props.settings.recording.url_deny.join("\n"));
  const rec = (patch: Partial<Recording>) => setDraft({ ...draft, recording: { ...draft.recording, ...patch } });
  const { note, error, submit } = useSubmit(async () => {
    const saved = await api<Settings>("PATCH", `/api/projects/${props.projectId}/settings`, {
      name: draft.name,
      timezone: draft.timezone,
      respect_dnt: draft.respect_dnt,
      recording: { ...draft.recording, url_allow: lines(allow), url_deny: lines(deny) },
    });
    props.onSaved(saved);
    return "Saved. Browsers pick up recording changes on their next page load.";
  });

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="project-settings">
      <h2 id="project-settings">Project</h2>
      <fieldset class="stack plain" disabled={!props.admin}>
        <div class="field">
          <label for="set-name">Name</label>
          <input id="set-name" required maxLength={200} value={draft.name} onInput={(e) => setDraft({ ...draft, name: e.currentTarget.value })} />
        </div>
        <div class="field">
          <label for="set-timezone">Time zone</label>
          <select id="set-timezone" value={draft.timezone} onChange={(e) => setDraft({ ...draft, timezone: e.currentTarget.value })}>
            {zones().map((z) => <option value={z} key={z}>{z}</option>)}
          </select>
        </div>
        <h2>Recording</h2>
        <label class="check"><input type="checkbox" checked={draft.recording.enabled} onChange={(e) => rec({ enabled: e.currentTarget.checked })} /> Record sessions</label>
        <label class="check"><input type="checkbox" checked={draft.recording.mask_inputs} onChange={(e) => rec({ mask_inputs: e.currentTarget.checked })} /> Mask what people type (passwords always are)</label>
        <label class="check"><input type="checkbox" checked={draft.respect_dnt} onChange={(e) => setDraft({ ...draft, respect_dnt: e.currentTarget.checked })} /> Capture nothing from browsers that send Do-Not-Track</label>
        <div class="row3">
          <div class="field">
            <label for="set-rate">Sessions recorded (%)</label>
            <input id="set-rate" type="number" min={0} max={100} step={1} value={Math.round(draft.recording.sample_rate * 100)}
              onInput={(e) => rec({ sample_rate: Number(e.currentTarget.value) / 100 })} />
          </div>
          <div class="field">
            <label for="set-min">Shortest kept (seconds)</label>
            <input id="set-min" type="number" min={0} max={3600} value={draft.recording.min_duration_ms / 1000}
              onInput={(e) => rec({ min_duration_ms: Math.round(Number(e.currentTarget.value) * 1000) })} />
          </div>
          <div class="field">
            <label for="set-keep">Kept for (days)</label>
            <input id="set-keep" type="number" min={1} max={3650} value={draft.recording.retention_days}
              onInput={(e) => rec({ retention_days: Number(e.currentTarget.value) })} />
          </div>
        </div>
        <div class="field">
          <label for="set-allow">Record only on URLs matching (one pattern a line)</label>
          <textarea id="set-allow" rows={2} value={allow} onInput={(e) => setAllow(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="set-deny">Never record on URLs matching</label>
          <textarea id="set-deny" rows={2} value={deny} onInput={(e) => setDeny(e.currentTarget.value)} />
        </div>
      </fieldset>
      <Outcome note={note} error={error} />
      {props.admin ? <button type="submit" class="primary">Save settings</button> : <p class="muted">Only admins change these.</p>}
    </form>
  );
}

/** The project's internal and test users: filters that events must pass when an insight asks
 * to leave those users out. Filters set through the API that the editor cannot show (groups,
 * cohort definitions, lists of values) are kept as they are. */
function TestAccounts(props: { projectId: number; settings: Settings; admin: boolean; onSaved: (s: Settings) => void }) {
  const stored = props.settings.test_account_filters;
  const [draft, setDraft] = useState<Filter[]>(stored.filter(editable).map((f) => (f.type === "cohort" ? f : { ...f, value: f.value ?? "" })));
  const others = stored.filter((f) => !editable(f));
  const { note, error, submit } = useSubmit(async () => {
    const saved = await api<Settings>("PATCH", `/api/projects/${props.projectId}/settings`, {
      test_account_filters: [...others, ...ready(draft)],
    });
    props.onSaved(saved);
    return "Saved. Insights that leave out internal and test users now use these filters.";
  });
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="test-accounts">
      <h2 id="test-accounts">Internal and test users</h2>
      <p class="hint">
        When an insight leaves out internal and test users, only events that pass every filter here count: for
        example, the person property <code>email</code> does not contain <code>@yourcompany.com</code>.
      </p>
      <fieldset class="stack plain" disabled={!props.admin}>
        <FiltersEditor projectId={props.projectId} filters={draft} onChange={setDraft} />
      </fieldset>
      {others.length > 0 && (
        <p class="hint">{others.length} more set through the API (groups, cohort definitions or lists) are kept as they are.</p>
      )}
      <Outcome note={note} error={error} />
      {props.admin && <button type="submit" class="primary">Save filters</button>}
    </form>
  );
}

/** Rules that group pages in every paths insight (those that do not opt out), before its own. */
function PageGroups(props: { projectId: number; settings: Settings; admin: boolean; onSaved: (s: Settings) => void }) {
  const [rules, setRules] = useState<Rule[]>(props.settings.path_cleaning);
  const { note, error, submit } = useSubmit(async () => {
    const saved = await api<Settings>("PATCH", `/api/projects/${props.projectId}/settings`, {
      path_cleaning: rules.filter((r) => r.regex),
    });
    props.onSaved(saved);
    setRules(saved.path_cleaning);
    return "Saved. Paths insights group pages by these rules first.";
  });
  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="page-groups">
      <h2 id="page-groups">Pages in paths</h2>
      <p class="hint">Every paths insight applies these rules before its own, unless it turns them off.</p>
      <fieldset class="stack plain" disabled={!props.admin}>
        <GroupPages rules={rules} onChange={setRules} />
      </fieldset>
      <Outcome note={note} error={error} />
      {props.admin && <button type="submit" class="primary">Save page groups</button>}
    </form>
  );
}

function Members(props: { projectId: number; admin: boolean }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [invited, setInvited] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api<Member[]>("GET", `/api/projects/${props.projectId}/members`).then(setMembers).catch((e) => setError(message(e)));
  useEffect(() => void load(), [props.projectId]);

  const invite = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const made = await api<Member & { temporary_password: string | null }>("POST", `/api/projects/${props.projectId}/members`, { email, role });
      setInvited(
        made.temporary_password
          ? `${made.email} can sign in with the one-time password ${made.temporary_password} — pass it on, it is not shown again.`
          : `${made.email} is now a ${made.role}.`,
      );
      setEmail("");
      await load();
    } catch (err) {
      setError(message(err));
    }
  };
  const remove = async (m: Member) => {
    await api("DELETE", `/api/projects/${props.projectId}/members/${m.user_id}`).catch((e) => setError(message(e)));
    await load();
  };

  return (
    <section class="card stack" aria-labelledby="members">
      <h2 id="members">Members</h2>
      <table class="table" data-testid="members">
        <thead><tr><th>Email</th><th class="w-event">Role</th>{props.admin && <th class="w-num" />}</tr></thead>
        <tbody>
          {members.map((m) => (
            <tr key={m.user_id}>
              <td class="clip">{m.email}</td>
              <td>{m.role}</td>
              {props.admin && (
                <td><button type="button" class="ghost small" aria-label={`Remove ${m.email}`} onClick={() => void remove(m)}>Remove</button></td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">Instance admins see every project without being listed.</p>
      {props.admin && (
        <form class="stack" onSubmit={invite} aria-label="Invite a teammate">
          <div class="field">
            <label for="invite-email">Invite by email</label>
            <input id="invite-email" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="invite-role">Role</label>
            <select id="invite-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="admin">Admin — everything, settings and members</option>
              <option value="member">Member — builds insights and dashboards</option>
              <option value="viewer">Viewer — reads only</option>
            </select>
          </div>
          <button type="submit" class="primary">Invite</button>
        </form>
      )}
      {invited && <p class="ok" role="status" data-testid="invited">{invited}</p>}
      <ErrorNote error={error} />
    </section>
  );
}

/** Deleting the project, for its admins: enabled once its name is typed, so that it is not
 * done by a slip. */
function DeleteProject(props: { projectId: number; name: string }) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const { error, submit } = useSubmit(async () => {
    setBusy(true);
    try {
      await api("DELETE", `/api/projects/${props.projectId}`);
    } finally {
      setBusy(false);
    }
    navigate(`/projects?${new URLSearchParams({ deleted: props.name })}`);
    return "";
  });
  return (
    <form class="card stack" aria-labelledby="delete-project" onSubmit={(e) => void submit(e)}>
      <h2 id="delete-project">Delete this project</h2>
      <p class="hint">
        Its events, persons and recordings, its cohorts, saved insights and dashboards are deleted for good, and its
        snippet stops sending. Members keep their accounts.
      </p>
      <div class="field">
        <label for="delete-project-name">Type <strong>{props.name}</strong> to confirm</label>
        <input id="delete-project-name" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
      </div>
      <ErrorNote error={error} />
      <div class="row-buttons">
        <button type="submit" class="danger" disabled={busy || typed.trim() !== props.name}>
          {busy ? "Deleting…" : "Delete project"}
        </button>
      </div>
    </form>
  );
}

export function SettingsPage(props: { projectId: number }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([
      api<Settings>("GET", `/api/projects/${props.projectId}/settings`),
      api<Project[]>("GET", "/api/projects"),
    ])
      .then(([s, all]) => {
        setSettings(s);
        setProject(all.find((p) => p.id === props.projectId) ?? null);
      })
      .catch((err) => setError(message(err)));
  }, [props.projectId]);
  if (error) return <div class="page"><ErrorNote error={error} /></div>;
  if (!settings || !project) return <div class="page"><p class="muted" aria-busy="true">Loading…</p></div>;
  const admin = project.role === "admin";
  return (
    <div class="page">
      <h1>Settings</h1>
      <div class="columns">
        <ProjectForm projectId={props.projectId} settings={settings} admin={admin} onSaved={setSettings} />
        <div class="stack">
          <Members projectId={props.projectId} admin={admin} />
          <TestAccounts projectId={props.projectId} settings={settings} admin={admin} onSaved={setSettings} />
          <PageGroups projectId={props.projectId} settings={settings} admin={admin} onSaved={setSettings} />
          {admin && <DeleteProject projectId={props.projectId} name={settings.name} />}
        </div>
      </div>
    </div>
  );
}

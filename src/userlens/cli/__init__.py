"""The `userlens` command: thin commands over the server, the stores and the demo generator."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console

from userlens.config import Settings, load_settings
from userlens.errors import (
    AlreadyExists,
    ConfigError,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    UserlensError,
)
from userlens.model.backup import BackupInfo
from userlens.model.project import Role
from userlens.store.meta import MetaStore

console = Console(stderr=True)


WAIT_OPTION = click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="While the server runs: seconds to wait for it to take the command up.",
)


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _settings(ctx: click.Context) -> Settings:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    settings = obj.get("settings")
    if settings is None:
        try:
            settings = load_settings(config_file=obj.get("config"), data_dir=obj.get("data_dir"))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
        obj["settings"] = settings
    assert isinstance(settings, Settings)
    return settings


def _meta(ctx: click.Context) -> MetaStore:
    from datetime import UTC, datetime

    from userlens.store.backup import back_up_before_upgrade

    settings = _settings(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    back_up_before_upgrade(settings, datetime.now(UTC))
    return MetaStore(settings.metadata_url)


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(orjson.dumps(data).decode())
    else:
        click.echo(text)


def _emit_rows(as_json: bool, rows: list[tuple[dict[str, Any], str]]) -> None:
    """A list: as one JSON array of the rows' objects, or a line of text each."""
    if as_json:
        click.echo(orjson.dumps([data for data, _ in rows]).decode())
    else:
        for _, line in rows:
            click.echo(line)


@click.group(invoke_without_command=True)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Overrides USERLENS_DATA_DIR.")
@click.option("--config", type=click.Path(path_type=Path), help="A TOML settings file.")
@click.version_option(package_name="userlens")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config: Path | None) -> None:
    """Userlens: self-hosted product insight. With no command, runs `serve`."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir
    ctx.obj["config"] = config
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", help="Overrides USERLENS_HOST.")
@click.option("--port", type=int, help="Overrides USERLENS_PORT.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the server (the default command)."""
    from userlens.cli.serve import run

    obj = ctx.ensure_object(dict)
    try:
        settings = load_settings(
            config_file=obj.get("config"), data_dir=obj.get("data_dir"), host=host, port=port
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        run(settings)
    except StoreUnavailable as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def project() -> None:
    """Manage projects."""


@project.command("create")
@click.argument("name")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone name.")
@click.option("--member", "members", multiple=True, help="Email of a user to add as a member.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def project_create(
    ctx: click.Context, name: str, timezone: str, members: tuple[str, ...], as_json: bool
) -> None:
    """Create a project and print its id and public capture token."""
    meta = _meta(ctx)
    try:
        created = meta.create_project(name, timezone=timezone)
        for email in members:
            meta.add_member(created.id, email, Role.ADMIN)
    except (InvalidInput, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        meta.close()
    _emit(
        as_json,
        {
            "id": created.id,
            "name": created.name,
            "api_token": created.api_token,
            "timezone": created.timezone,
        },
        f"Project {created.id} {created.name!r}\ncapture token: {created.api_token}",
    )


@project.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def project_list(ctx: click.Context, as_json: bool) -> None:
    """List projects."""
    meta = _meta(ctx)
    try:
        rows = meta.projects()
    finally:
        meta.close()
    _emit_rows(
        as_json,
        [
            (
                {"id": p.id, "name": p.name, "api_token": p.api_token, "timezone": p.timezone},
                f"{p.id}\t{p.name}\t{p.api_token}\t{p.timezone}",
            )
            for p in rows
        ],
    )


@project.command("delete")
@click.argument("project_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@WAIT_OPTION
@click.pass_context
def project_delete(
    ctx: click.Context, project_id: int, yes: bool, as_json: bool, wait_s: float
) -> None:
    """Delete a project for good: its events, persons, recordings, cohorts, saved insights
    and dashboards; its capture token stops working.

    While the server runs, the server does it (this command waits for its answer).
    """
    from userlens.cli.admin import delete_project  # imported on use: keeps start-up light

    if not yes:
        click.confirm(
            f"Delete project {project_id} and all its data for good?", abort=True, err=True
        )
    done = delete_project(_settings(ctx), project_id, wait_s=wait_s)
    _emit(
        as_json,
        done,
        f"Deleted project {project_id}: {done['events']} events, {done['persons']} persons and "
        f"{done['recorded_sessions']} recorded sessions",
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise click.ClickException("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@cli.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Instance admin: can see every project.")
@click.option("--project", "projects", type=int, multiple=True, help="Project id to join.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="member")
@click.pass_context
def user_create(
    ctx: click.Context, email: str, admin: bool, projects: tuple[int, ...], role: str
) -> None:
    """Create a user. The password is read from standard input (or prompted for)."""
    password = _read_password()
    meta = _meta(ctx)
    try:
        created = meta.create_user(email, password, is_admin=admin)
        for project_id in projects:
            meta.add_member(project_id, created.email, Role(role))
    except (InvalidInput, AlreadyExists, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        meta.close()
    click.echo(f"User {created.id} {created.email}{' (admin)' if created.is_admin else ''}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List users."""
    meta = _meta(ctx)
    try:
        rows = meta.users()
    finally:
        meta.close()
    _emit_rows(
        as_json,
        [
            (
                {
                    "id": u.id,
                    "email": u.email,
                    "is_admin": u.is_admin,
                    "created_at": u.created_at.isoformat(),
                },
                f"{u.id}\t{u.email}\t{'admin' if u.is_admin else 'user'}",
            )
            for u in rows
        ],
    )


@user.command("password")
@click.argument("email")
@click.pass_context
def user_password(ctx: click.Context, email: str) -> None:
    """Set a user's password, for one that is forgotten: read from standard input (or
    prompted for). Every browser sign-in of theirs ends; their API tokens stay."""
    password = _read_password()
    meta = _meta(ctx)
    try:
        changed = meta.reset_password(email, password)
    except (InvalidInput, NotFound) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        meta.close()
    click.echo(f"Password of {changed.email} set; they are signed out everywhere")


@cli.group()
def token() -> None:
    """Manage personal API tokens."""


def _user_id(meta: MetaStore, email: str) -> int:
    found = meta.user_by_email(email)
    if found is None:
        raise click.ClickException(f"no user with email {email}")
    return found.id


@token.command("create")
@click.argument("email")
@click.option("--label", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def token_create(ctx: click.Context, email: str, label: str, as_json: bool) -> None:
    """Create a personal API token for a user. It is shown once and stored only hashed."""
    meta = _meta(ctx)
    try:
        created = meta.create_api_token(email, label)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        meta.close()
    _emit(
        as_json,
        {"id": created.id, "token": created.secret, "label": created.label},
        f"{created.secret}\n(shown once: store it now)",
    )


@token.command("list")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def token_list(ctx: click.Context, email: str, as_json: bool) -> None:
    """List a user's personal API tokens: id, label, the first characters, and when each was
    created and last used (the tokens themselves are not stored)."""
    meta = _meta(ctx)
    try:
        rows = meta.api_tokens(_user_id(meta, email))
    finally:
        meta.close()
    _emit_rows(
        as_json,
        [
            (
                {
                    "id": t.id,
                    "label": t.label,
                    "prefix": t.prefix,
                    "created_at": t.created_at.isoformat(),
                    "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                },
                f"{t.id}\t{t.label}\t{t.prefix}…\t"
                + (
                    t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never used"
                ),
            )
            for t in rows
        ],
    )


@token.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, email: str, token_id: int) -> None:
    """Revoke one of a user's personal API tokens (its id from `token list`): requests made
    with it are refused from then on."""
    meta = _meta(ctx)
    try:
        meta.delete_api_token(_user_id(meta, email), token_id)
    except NotFound as exc:
        raise click.ClickException(f"{email} has no token {token_id}") from exc
    finally:
        meta.close()
    click.echo(f"Token {token_id} of {email} revoked")


@cli.group()
def person() -> None:
    """Manage persons."""


@person.command("delete")
@click.argument("project_id", type=int)
@click.argument("distinct_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@WAIT_OPTION
@click.pass_context
def person_delete(
    ctx: click.Context, project_id: int, distinct_id: str, as_json: bool, wait_s: float
) -> None:
    """Delete a person's events, person record and recordings now, by any of their distinct
    ids; and their ids from the project's list cohorts and from the backups.

    While the server runs, the server does it (this command waits for its answer).
    """
    from userlens.cli.admin import delete_person  # imported on use: keeps start-up light

    done = delete_person(_settings(ctx), project_id, distinct_id, wait_s=wait_s)
    _emit(
        as_json,
        done,
        f"Deleted {_count(done['events'], 'event')} of {', '.join(done['distinct_ids'])}, from "
        f"{_count(len(done['sessions']), 'session')}, and their recordings",
    )


@cli.group()
def backup() -> None:
    """Back the whole server up, or list its backups."""


def _backup_fields(info: BackupInfo) -> dict[str, Any]:
    from userlens.store.backup import manifest

    return {"name": info.name, **manifest(info), "pending_erasures": info.pending_erasures}


def _backup_line(info: BackupInfo, folder: Path) -> str:
    line = (
        f"{folder / info.name}  {info.events:,} events, {info.recorded_sessions:,} recorded "
        f"sessions, {info.bytes / 1e6:,.1f} MB"
    )
    if info.pending_erasures:
        line += f", {info.pending_erasures:,} deletions to repeat in it"
    return line


@backup.command("create")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@WAIT_OPTION
@click.pass_context
def backup_create(ctx: click.Context, as_json: bool, wait_s: float) -> None:
    """Back up every project, user and recording into a new folder of the backups directory.

    While the server runs, the server does it (this command waits for its answer).
    """
    from userlens.cli.admin import back_up
    from userlens.store.backup import list_backups

    settings = _settings(ctx)
    name = back_up(settings, wait_s=wait_s)
    info = next(b for b in list_backups(settings.backups_dir) if b.name == name)
    _emit(as_json, _backup_fields(info), "Backed up to " + _backup_line(info, settings.backups_dir))


@backup.command("restore")
@click.argument("name")
@click.option(
    "--into",
    "into",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The new data directory to make (absent or empty).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def backup_restore(ctx: click.Context, name: str, into: Path, as_json: bool) -> None:
    """Make a new data directory from the backup NAME (see `backup list`), to start a server
    on. The server must be stopped; the backup stays as it is.

    Deletions made since the backup are repeated by the server started on the new directory,
    before it serves anything.
    """
    from userlens.cli.admin import restore

    settings = _settings(ctx)
    info = restore(settings, name, into)
    _emit(
        as_json,
        {**_backup_fields(info), "into": str(into)},
        f"Restored backup {name} ({info.events:,} events, {info.recorded_sessions:,} recorded "
        f"sessions) into {into}. Start the server on it: USERLENS_DATA_DIR={into} userlens serve",
    )


@backup.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def backup_list(ctx: click.Context, as_json: bool) -> None:
    """The finished backups, newest first (also while the server runs)."""
    from userlens.store.backup import list_backups

    folder = _settings(ctx).backups_dir
    _emit_rows(
        as_json, [(_backup_fields(b), _backup_line(b, folder)) for b in list_backups(folder)]
    )


@cli.command()
@click.option("--project", "project_id", type=int, help="Project to fill (default: a new one).")
@click.option("--persons", default=2000, show_default=True, help="How many people.")
@click.option("--days", default=30, show_default=True, help="Days of history, ending now.")
@click.option("--seed", default=42, show_default=True, help="Same seed, same dataset.")
@click.option("--url", help="Server to send to (default: this machine's configured server).")
@click.pass_context
def demo(
    ctx: click.Context, project_id: int | None, persons: int, days: int, seed: int, url: str | None
) -> None:
    """Fill a project with a realistic product dataset, sent through the capture API."""
    from userlens.cli.demo import run_demo

    settings = _settings(ctx)
    run_demo(settings, project_id=project_id, persons=persons, days=days, seed=seed, url=url)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except UserlensError as exc:  # pragma: no cover - last resort, commands catch their own
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(1)

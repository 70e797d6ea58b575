"""Maintenance commands that need the event store: a backup, deleting a person or a project.

On a stopped server's data directory they open the stores themselves. While a server holds the
event store, they hand the command to it instead, through the metadata database that both
open (`store.meta.requests`), and wait for its answer: the server takes requests up within a
second or so. A request no server takes up within `wait_s` is withdrawn, so that nothing
happens later that the command said it did not do."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import duckdb
from rich.console import Console

from userlens.config import Settings
from userlens.model.admin import AdminAction, AdminRequest
from userlens.model.backup import BackupInfo
from userlens.store.backup import list_backups, restore_backup
from userlens.store.meta import MetaStore
from userlens.web.services import command_error, open_services

WAIT_S = 30.0  # how long a command waits for a running server to take it up
WORK_WAIT_S = 3600.0  # and then for the server to finish it
POLL_S = 0.2


def _carry_out(
    settings: Settings,
    action: AdminAction,
    *,
    project_id: int | None = None,
    distinct_id: str | None = None,
    wait_s: float = WAIT_S,
) -> dict[str, Any]:
    """The command, carried out here on a data directory no one holds, else the running
    server's answer to it. What was done, as `--json` prints it."""
    try:
        services = open_services(settings)
    except duckdb.IOException as exc:  # the store is locked: a server (or another command)
        return _ask_server(settings, action, project_id, distinct_id, wait_s, in_use=exc)
    try:
        done = services.carry_out(action, project_id, distinct_id)
        if action is not AdminAction.BACKUP:
            services.apply_backup_erasures()  # a server would within a minute
        return done
    except Exception as exc:
        if (error := command_error(exc)) is None:
            raise
        raise click.ClickException(error) from exc
    finally:
        services.close()


def _ask_server(
    settings: Settings,
    action: AdminAction,
    project_id: int | None,
    distinct_id: str | None,
    wait_s: float,
    *,
    in_use: Exception,
) -> dict[str, Any]:
    meta = MetaStore(settings.metadata_url)
    try:
        request = meta.requests.add(action, project_id=project_id, distinct_id=distinct_id)
        with Console(stderr=True).status("The server is running: handed the command to it…"):
            answer = _answer(meta, request, wait_s, in_use)
    finally:
        meta.close()
    if answer.error is not None:
        raise click.ClickException(answer.error)
    return answer.result or {}


def _answer(
    meta: MetaStore, request: AdminRequest, wait_s: float, in_use: Exception
) -> AdminRequest:
    """The request once finished; withdrawn (and an error) if no server took it up in time."""
    start = time.monotonic()
    while True:
        now = meta.requests.get(request.id)
        if now is None:  # pragma: no cover - only a hand in the database removes it
            raise click.ClickException(f"request {request.id} disappeared")
        if now.finished_at is not None:
            return now
        waited = time.monotonic() - start
        taken = now.started_at is not None
        if not taken and waited > wait_s and meta.requests.withdraw(request.id, "not taken up"):
            raise click.ClickException(
                f"the event store is in use, but no running server took the command up "
                f"within {wait_s:g} s, so nothing was done. Is the server running (and "
                f"is no other command using the data directory)? ({in_use})"
            )
        if waited > wait_s + WORK_WAIT_S:
            raise click.ClickException(
                f"the server is still carrying out request {request.id}; its log says more"
            )
        time.sleep(POLL_S)


def back_up(settings: Settings, *, wait_s: float = WAIT_S) -> str:
    """Back up; the new backup's folder name."""
    return str(_carry_out(settings, AdminAction.BACKUP, wait_s=wait_s)["name"])


def restore(settings: Settings, name: str, into: Path) -> BackupInfo:
    """Copy the backup `name` into a new data directory `into`, and describe the backup. Only
    while the server is stopped: it may be repeating deletions in the backup."""
    found = {b.name: b for b in list_backups(settings.backups_dir)}
    if name not in found:
        raise click.ClickException(f"no backup {name} in {settings.backups_dir}")
    if settings.events_db_path.exists():
        try:
            duckdb.connect(str(settings.events_db_path), read_only=True).close()
        except duckdb.IOException as exc:
            raise click.ClickException(
                "the event store is in use (is the server running?): stop the server first, "
                f"as it may be changing the backup (repeating deletions in it). ({exc})"
            ) from exc
    try:
        restore_backup(settings.backups_dir / name, into)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"the backup could not be copied: {exc}") from exc
    return found[name]


def delete_person(
    settings: Settings, project_id: int, distinct_id: str, *, wait_s: float = WAIT_S
) -> dict[str, Any]:
    return _carry_out(
        settings,
        AdminAction.DELETE_PERSON,
        project_id=project_id,
        distinct_id=distinct_id,
        wait_s=wait_s,
    )


def delete_project(
    settings: Settings, project_id: int, *, wait_s: float = WAIT_S
) -> dict[str, Any]:
    return _carry_out(settings, AdminAction.DELETE_PROJECT, project_id=project_id, wait_s=wait_s)

"""Maintenance commands that open the data directory directly (the server must be stopped)."""

from __future__ import annotations

import click
import duckdb

from userlens.config import Settings
from userlens.errors import NotFound, StoreUnavailable
from userlens.model.backup import BackupInfo
from userlens.model.recording import PersonDeletion, ProjectDeletion
from userlens.store.disk import DiskFull
from userlens.web.services import Services, open_services


def _open(settings: Settings, instead: str = "delete through the API") -> Services:
    try:
        return open_services(settings)
    except duckdb.IOException as exc:
        raise click.ClickException(
            f"the event store is in use (is the server running?): {instead} instead. ({exc})"
        ) from exc


def backup_offline(settings: Settings) -> BackupInfo:
    services = _open(settings, "back up through the API (POST /api/backups)")
    try:
        return services.back_up()
    except OSError as exc:
        raise click.ClickException(f"the backup could not be written: {exc}") from exc
    except DiskFull as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        services.close()


def delete_person_offline(settings: Settings, project_id: int, distinct_id: str) -> PersonDeletion:
    services = _open(settings)
    try:
        if services.meta.project(project_id) is None:
            raise click.ClickException(f"no project {project_id}")
        done = services.erase_person(project_id, distinct_id)
        services.apply_backup_erasures()  # a server would within a minute
        return done
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc} (run the command again)") from exc
    finally:
        services.close()


def delete_project_offline(settings: Settings, project_id: int) -> ProjectDeletion:
    services = _open(settings)
    try:
        done = services.erase_project(project_id)
        services.apply_backup_erasures()
        return done
    except NotFound as exc:
        raise click.ClickException(f"no project {project_id}") from exc
    except StoreUnavailable as exc:
        raise click.ClickException(
            f"the project is deleted, but not all of its data yet: {exc} (the server's sweep "
            "removes the rest)"
        ) from exc
    finally:
        services.close()

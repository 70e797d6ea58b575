"""Maintenance commands that open the data directory directly (the server must be stopped)."""

from __future__ import annotations

import click
import duckdb

from userlens.config import Settings
from userlens.errors import StoreUnavailable
from userlens.model.recording import PersonDeletion
from userlens.web.services import open_services


def delete_person_offline(settings: Settings, project_id: int, distinct_id: str) -> PersonDeletion:
    try:
        services = open_services(settings)
    except duckdb.IOException as exc:
        raise click.ClickException(
            "the event store is in use (is the server running?): delete through the API "
            f"instead. ({exc})"
        ) from exc
    try:
        if services.meta.project(project_id) is None:
            raise click.ClickException(f"no project {project_id}")
        return services.erase_person(project_id, distinct_id)
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc} (run the command again)") from exc
    finally:
        services.close()

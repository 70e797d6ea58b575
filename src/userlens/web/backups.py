"""JSON API for backups of the whole server (instance admins only): make one now, list them."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from userlens.errors import Busy, InvalidInput
from userlens.model.backup import BackupInfo
from userlens.model.project import User
from userlens.store.backup import list_backups
from userlens.store.disk import DiskFull
from userlens.web.auth import current_user
from userlens.web.deps import services_of

router = APIRouter()
CurrentUser = Annotated[User, Depends(current_user)]


class BackupOut(BaseModel):
    name: str = Field(description="the backup's folder in the backups directory")
    created_at: datetime = Field(description="the moment the backup holds the data of")
    seconds: float = Field(description="how long it took")
    events: int
    persons: int
    recorded_sessions: int
    recording_chunks: int
    metadata: bool = Field(
        description="false when the metadata is in PostgreSQL: back that up with its own tools"
    )
    bytes: int = Field(description="the folder's size")
    version: str = Field(description="of Userlens that wrote it")
    pending_erasures: int = Field(
        description="persons or projects deleted since the backup and not yet deleted from it: "
        "applied within a minute, or when the backup is restored if this version cannot open it"
    )


def _out(info: BackupInfo) -> BackupOut:
    return BackupOut.model_validate(dataclasses.asdict(info))


def _admin(user: User) -> None:
    if not user.is_admin:
        raise HTTPException(
            403, detail={"error": "forbidden", "detail": "only instance admins manage backups"}
        )


@router.post("/api/backups", response_model=BackupOut, status_code=201, tags=["backups"])
def create_backup(request: Request, user: CurrentUser) -> BackupOut:
    """Back up every project's events, persons and recordings, and the users, projects and
    settings, into a new folder of the backups directory, while capture goes on. The oldest
    backups beyond `USERLENS_BACKUP_KEEP` are deleted."""
    _admin(user)
    try:
        return _out(services_of(request).back_up())
    except Busy as exc:
        raise HTTPException(409, detail={"error": "busy", "detail": str(exc)}) from None
    except DiskFull as exc:
        raise HTTPException(
            507, detail={"error": "disk_nearly_full", "detail": exc.detail}
        ) from None
    except InvalidInput as exc:
        raise HTTPException(400, detail={"error": "invalid", "detail": str(exc)}) from None
    except OSError as exc:  # the backups directory is full, gone or not writable
        detail = f"the backup could not be written: {exc.strerror or exc}"
        if exc.filename:
            detail += f" ({exc.filename})"
        raise HTTPException(503, detail={"error": "backup_failed", "detail": detail}) from None


@router.get("/api/backups", response_model=list[BackupOut], tags=["backups"])
def get_backups(request: Request, user: CurrentUser) -> list[BackupOut]:
    """The finished backups, newest first."""
    _admin(user)
    return [_out(b) for b in list_backups(services_of(request).settings.backups_dir)]

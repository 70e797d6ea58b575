"""What the CLI asks a running server to do for it: the commands that need the event store,
which the server holds while it runs."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any


class AdminAction(enum.StrEnum):
    DELETE_PERSON = "delete_person"
    DELETE_PROJECT = "delete_project"
    BACKUP = "backup"


@dataclasses.dataclass(frozen=True, slots=True)
class AdminRequest:
    """One command handed to the server. It is `started_at` once a server took it up (no one
    may withdraw it then), and `finished_at` when it is done, with `result` (what it did, as
    the CLI's `--json` prints it) or `error` (why not)."""

    id: int
    action: AdminAction
    project_id: int | None
    distinct_id: str | None
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

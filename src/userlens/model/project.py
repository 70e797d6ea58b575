"""Users, projects, memberships and API tokens as the metadata store hands them out."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    is_admin: bool
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class RecordingSettings:
    """Whether and how a project's sessions are recorded, and for how long they are kept."""

    enabled: bool = True
    sample_rate: float = 1.0
    min_duration_ms: int = 0
    retention_days: int = 30


@dataclasses.dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    api_token: str
    timezone: str
    created_at: datetime
    recording: RecordingSettings = RecordingSettings()


@dataclasses.dataclass(frozen=True, slots=True)
class NewApiToken:
    """A personal API token just created: `secret` is shown once and never stored."""

    id: int
    user_id: int
    label: str
    secret: str

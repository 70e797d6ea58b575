"""Users, projects, memberships and API tokens as the metadata store hands them out."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime

from userlens.model.filters import Filter
from userlens.model.paths import PathCleaning


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
    # Input values are masked in recordings unless a project turns this off (passwords always).
    mask_inputs: bool = True
    # Regular expressions over the page URL: record only where one of `url_allow` matches
    # (when there are any) and none of `url_deny` does.
    url_allow: tuple[str, ...] = ()
    url_deny: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    api_token: str
    timezone: str
    created_at: datetime
    recording: RecordingSettings = RecordingSettings()
    # Browsers that send Do-Not-Track are not captured at all.
    respect_dnt: bool = False
    # What marks internal and test users: insights with `filter_test_accounts` keep only the
    # events that pass all of these.
    test_account_filters: tuple[Filter, ...] = ()
    # Rules that group page paths in every paths insight that does not opt out, before its own.
    path_cleaning: tuple[PathCleaning, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class NewApiToken:
    """A personal API token just created: `secret` is shown once and never stored."""

    id: int
    user_id: int
    label: str
    secret: str


@dataclasses.dataclass(frozen=True, slots=True)
class ApiTokenInfo:
    """A personal API token as listed: never its secret, only the start of it."""

    id: int
    label: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class WebSession:
    """A browser's sign-in: `secret` goes in its cookie (and is stored only hashed);
    `csrf_token` must come back in a header with every change the browser asks for."""

    user: User
    secret: str
    csrf_token: str
    expires_at: datetime

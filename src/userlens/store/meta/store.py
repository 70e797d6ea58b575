"""`MetaStore`: users, projects, memberships, API tokens and cohorts over SQLAlchemy."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import sqlite3
import threading
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from userlens.errors import AlreadyExists, InvalidInput, NotFound
from userlens.model.cohort import Cohort, CohortIn, CohortPatch
from userlens.model.filters import FILTER_LIST, CohortDefinition, Filter, compile_quietly
from userlens.model.ids import STORED
from userlens.model.paths import PathCleaning
from userlens.model.project import (
    ApiTokenInfo,
    NewApiToken,
    Project,
    RecordingSettings,
    Role,
    User,
    WebSession,
)
from userlens.model.queries import InsightQuery
from userlens.model.saved import (
    Dashboard,
    DashboardFilters,
    DashboardIn,
    DashboardPatch,
    SavedInsight,
    SavedInsightIn,
    SavedInsightPatch,
    product_overview,
)
from userlens.model.url_rules import not_in_browsers
from userlens.store.meta.requests import AdminRequests
from userlens.store.meta.tables import (
    ApiTokenRow,
    CohortRow,
    DashboardRow,
    InsightRow,
    MembershipRow,
    ProjectRow,
    UserRow,
    WebSessionRow,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
PROJECT_TOKEN_PREFIX = "ulc_"  # noqa: S105 - a prefix, not a secret
PERSONAL_TOKEN_PREFIX = "ulx_"  # noqa: S105 - a prefix, not a secret
# A deleted project's capture token: not a token any client holds, nor of the shape of one.
DELETED_TOKEN_PREFIX = "deleted:"  # noqa: S105 - a prefix, not a secret
TOKEN_USE_GRAIN = timedelta(minutes=1)  # how finely a token's last use is kept
_hasher = PasswordHasher()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    engine = sa.create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def sqlite_revision_behind(url: str) -> str | None:
    """For a SQLite database that exists and whose schema is older than this version's, its
    revision ("none" before the first); else None (PostgreSQL is left to its operator)."""
    found = _sqlite_revision(url)
    if found is None:
        return None
    current, script = found
    if current == script.get_current_head():
        return None
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        return None  # written by a newer version: nothing this one would migrate
    return current or "none"


def sqlite_at_head(url: str) -> bool:
    """Whether a SQLite database exists with exactly this version's schema (opening it
    migrates nothing)."""
    found = _sqlite_revision(url)
    return found is not None and found[0] == found[1].get_current_head()


def _sqlite_revision(url: str) -> tuple[str | None, ScriptDirectory] | None:
    """A SQLite database's schema revision and this version's migrations; None when the URL is
    not SQLite or its file does not exist."""
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name != "sqlite":
            return None
        database = engine.url.database
        if not database or not Path(database).exists():
            return None
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    return current, ScriptDirectory.from_config(alembic_config())


def copy_sqlite(source: sqlite3.Connection, path: Path) -> None:
    """Copy a SQLite database, as of one moment, into a new file (SQLite's online backup)."""
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the metadata schema to `revision` (the newest by default)."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(row: UserRow) -> User:
    return User(
        id=row.id, email=row.email, is_admin=row.is_admin, created_at=_aware(row.created_at)
    )


def _live(s: Session, project_id: int) -> ProjectRow | None:
    """The project's row, unless there is none or the project was deleted."""
    row = s.get(ProjectRow, project_id)
    return row if row is not None and row.deleted_at is None else None


def _project(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        api_token=row.api_token,
        timezone=row.timezone,
        created_at=_aware(row.created_at),
        recording=RecordingSettings(
            enabled=row.recording_enabled,
            sample_rate=row.recording_sample_rate,
            min_duration_ms=row.recording_min_duration_ms,
            retention_days=row.recording_retention_days,
            mask_inputs=row.recording_mask_inputs,
            url_allow=tuple(row.recording_url_allow or ()),
            url_deny=tuple(row.recording_url_deny or ()),
        ),
        respect_dnt=row.respect_dnt,
        test_account_filters=tuple(
            FILTER_LIST.validate_python(row.test_account_filters or [], context=STORED)
        ),
        path_cleaning=tuple(PATH_RULES.validate_python(row.path_cleaning or [])),
    )


_Owned = TypeVar("_Owned", CohortRow, InsightRow, DashboardRow)


def _owned(s: Session, table: type[_Owned], project_id: int, row_id: int, what: str) -> _Owned:
    """The row of one project's table, or NotFound (also for another project's row)."""
    row = s.get(table, row_id)
    if row is None or row.project_id != project_id:
        raise NotFound(f"no {what} {row_id}")
    return row


_INSIGHT_SPEC: TypeAdapter[InsightQuery] = TypeAdapter(InsightQuery)
PATH_RULES: TypeAdapter[list[PathCleaning]] = TypeAdapter(list[PathCleaning])


def _insight(row: InsightRow) -> SavedInsight:
    return SavedInsight(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        spec=_INSIGHT_SPEC.validate_python(row.spec, context=STORED),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def _cohort(row: CohortRow) -> Cohort:
    return Cohort(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        definition=CohortDefinition.model_validate(row.definition, context=STORED),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


MAX_URL_PATTERNS = 50
MAX_URL_PATTERN_CHARS = 500


def check_recording(settings: RecordingSettings) -> RecordingSettings:
    if not 0.0 <= settings.sample_rate <= 1.0:
        raise InvalidInput("recording sample rate must be between 0 and 1")
    if not 0 <= settings.min_duration_ms <= 3_600_000:
        raise InvalidInput("recording minimum duration must be 0-3600000 ms")
    if not 1 <= settings.retention_days <= 3650:
        raise InvalidInput("recording retention must be 1-3650 days")
    for name, patterns in (("url_allow", settings.url_allow), ("url_deny", settings.url_deny)):
        if len(patterns) > MAX_URL_PATTERNS:
            raise InvalidInput(f"{name}: at most {MAX_URL_PATTERNS} patterns")
        for pattern in patterns:
            if not pattern or len(pattern) > MAX_URL_PATTERN_CHARS:
                raise InvalidInput(f"{name}: patterns must be 1-{MAX_URL_PATTERN_CHARS} characters")
            try:
                compile_quietly(pattern)
            except re.error as exc:
                raise InvalidInput(
                    f"{name}: {pattern!r} is not a regular expression: {exc}"
                ) from None
            if (refused := not_in_browsers(pattern)) is not None:
                raise InvalidInput(
                    f"{name}: {pattern!r} would mean something else in browsers: {refused}"
                )
    return settings


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInput(f"not an email address: {email!r}")
    return email


class MetaStore:
    """Metadata in one SQL database. Thread-safe: every call uses its own session."""

    def __init__(self, url: str, *, now: Callable[[], datetime] | None = None) -> None:
        self.engine = make_engine(url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._now = now or (lambda: datetime.now(UTC))
        self._first_run = threading.Lock()
        self.requests = AdminRequests(self._sessions, self._now)

    def close(self) -> None:
        self.engine.dispose()

    def backup_to(self, path: Path) -> bool:
        """Copy the whole database, as of one moment, into a new SQLite file at `path`
        (SQLite's online backup: other connections go on meanwhile). False, copying nothing,
        when the metadata is not in SQLite: a PostgreSQL server is backed up with its tools."""
        if self.engine.dialect.name != "sqlite":
            return False
        raw = self.engine.raw_connection()
        try:
            source = raw.driver_connection
            assert isinstance(source, sqlite3.Connection)
            copy_sqlite(source, path)
        finally:
            raw.close()
        return True

    def _session(self) -> Session:
        return self._sessions()

    # -- users ------------------------------------------------------------------------------

    def create_user(self, email: str, password: str, *, is_admin: bool = False) -> User:
        email = _check_email(email)
        if len(password) < 8:
            raise InvalidInput("password must be at least 8 characters")
        row = UserRow(
            email=email,
            password_hash=_hasher.hash(password),
            is_admin=is_admin,
            created_at=self._now(),
        )
        with self._session() as s:
            s.add(row)
            try:
                s.commit()
            except IntegrityError as exc:
                raise AlreadyExists(f"a user with email {email} already exists") from exc
            return _user(row)

    def user_by_email(self, email: str) -> User | None:
        with self._session() as s:
            row = s.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            return _user(row) if row else None

    def authenticate(self, email: str, password: str) -> User | None:
        with self._session() as s:
            row = s.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            if row is None:
                _hasher.hash(password)  # same work either way: no user enumeration by timing
                return None
            try:
                _hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
                s.commit()
            return _user(row)

    def user_count(self) -> int:
        with self._session() as s:
            return int(s.scalar(sa.select(sa.func.count()).select_from(UserRow)) or 0)

    def create_first_admin(self, email: str, password: str) -> User:
        """The instance's first user, an admin; refused once any user exists."""
        with self._first_run:  # two first-run forms sent at once: one wins
            if self.user_count():
                raise AlreadyExists("this server is set up already: sign in instead")
            return self.create_user(email, password, is_admin=True)

    def users(self) -> list[User]:
        """Every user, in the order they were created."""
        with self._session() as s:
            return [_user(r) for r in s.scalars(sa.select(UserRow).order_by(UserRow.id))]

    def change_password(self, user_id: int, current: str, new: str) -> None:
        """A user's own change: `current` must be their password now."""
        if len(new) < 8:
            raise InvalidInput("password must be at least 8 characters")
        with self._session() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                raise NotFound("no such user")
            try:
                _hasher.verify(row.password_hash, current)
            except (VerificationError, InvalidHashError):
                raise InvalidInput("the current password is not right") from None
            self._set_password(s, row, new)

    def reset_password(self, email: str, new: str) -> User:
        """Set a user's password without the old one (an operator's reset of a forgotten
        password); every browser sign-in of theirs ends."""
        if len(new) < 8:
            raise InvalidInput("password must be at least 8 characters")
        with self._session() as s:
            row = s.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            if row is None:
                raise NotFound(f"no user with email {email}")
            self._set_password(s, row, new)
            return _user(row)

    @staticmethod
    def _set_password(s: Session, row: UserRow, new: str) -> None:
        row.password_hash = _hasher.hash(new)
        # Every sign-in made with the old password ends.
        s.execute(sa.delete(WebSessionRow).where(WebSessionRow.user_id == row.id))
        s.commit()

    # -- browser sessions -------------------------------------------------------------------

    def create_web_session(self, user: User, *, lifetime: timedelta) -> WebSession:
        secret = secrets.token_urlsafe(32)
        now = self._now()
        row = WebSessionRow(
            user_id=user.id,
            secret_hash=_hash_secret(secret),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
        )
        with self._session() as s:
            s.add(row)
            s.commit()
        return WebSession(
            user=user, secret=secret, csrf_token=row.csrf_token, expires_at=row.expires_at
        )

    def web_session(self, secret: str) -> WebSession | None:
        """The live session behind a cookie's secret (None when unknown or expired)."""
        with self._session() as s:
            row = s.scalar(
                sa.select(WebSessionRow).where(WebSessionRow.secret_hash == _hash_secret(secret))
            )
            if row is None or _aware(row.expires_at) <= self._now():
                return None
            user = s.get(UserRow, row.user_id)
            if user is None:
                return None
            return WebSession(
                user=_user(user),
                secret=secret,
                csrf_token=row.csrf_token,
                expires_at=_aware(row.expires_at),
            )

    def end_web_session(self, secret: str) -> None:
        with self._session() as s:
            s.execute(
                sa.delete(WebSessionRow).where(WebSessionRow.secret_hash == _hash_secret(secret))
            )
            s.commit()

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, *, timezone: str = "UTC") -> Project:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("project name must be 1-200 characters")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone: {timezone!r}") from exc
        row = ProjectRow(
            name=name,
            api_token=PROJECT_TOKEN_PREFIX + secrets.token_urlsafe(24),
            timezone=timezone,
            created_at=self._now(),
        )
        with self._session() as s:
            s.add(row)
            s.flush()
            # Every project starts with a dashboard of the usual questions.
            name, insights = product_overview()
            saved = [self._insight_row(row.id, i) for i in insights]
            s.add_all(saved)
            s.flush()
            now = self._now()
            s.add(
                DashboardRow(
                    project_id=row.id,
                    name=name,
                    tiles=[i.id for i in saved],
                    created_at=now,
                    updated_at=now,
                )
            )
            s.commit()
            return _project(row)

    def _change_project(self, project_id: int, change: Callable[[ProjectRow], None]) -> Project:
        """The project after `change` is made to its row and committed."""
        with self._session() as s:
            row = _live(s, project_id)
            if row is None:
                raise NotFound(f"no project {project_id}")
            change(row)
            s.commit()
            return _project(row)

    def set_recording(self, project_id: int, settings: RecordingSettings) -> Project:
        check_recording(settings)

        def change(row: ProjectRow) -> None:
            row.recording_enabled = settings.enabled
            row.recording_sample_rate = settings.sample_rate
            row.recording_min_duration_ms = settings.min_duration_ms
            row.recording_retention_days = settings.retention_days
            row.recording_mask_inputs = settings.mask_inputs
            row.recording_url_allow = list(settings.url_allow)
            row.recording_url_deny = list(settings.url_deny)

        return self._change_project(project_id, change)

    def set_respect_dnt(self, project_id: int, respect: bool) -> Project:
        return self._change_project(project_id, lambda row: setattr(row, "respect_dnt", respect))

    def set_test_account_filters(self, project_id: int, filters: Sequence[Filter]) -> Project:
        stored = FILTER_LIST.dump_python(list(filters), mode="json")
        return self._change_project(
            project_id, lambda row: setattr(row, "test_account_filters", stored)
        )

    def set_path_cleaning(self, project_id: int, rules: Sequence[PathCleaning]) -> Project:
        stored = PATH_RULES.dump_python(list(rules), mode="json")
        return self._change_project(project_id, lambda row: setattr(row, "path_cleaning", stored))

    def project(self, project_id: int) -> Project | None:
        with self._session() as s:
            row = _live(s, project_id)
            return _project(row) if row else None

    def project_by_token(self, token: str) -> Project | None:
        with self._session() as s:
            row = s.scalar(
                sa.select(ProjectRow).where(
                    ProjectRow.api_token == token, ProjectRow.deleted_at.is_(None)
                )
            )
            return _project(row) if row else None

    def projects(self) -> list[Project]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(ProjectRow).where(ProjectRow.deleted_at.is_(None)).order_by(ProjectRow.id)
            )
            return [_project(r) for r in rows]

    def delete_project(self, project_id: int) -> Project:
        """Delete a project from the metadata: its members, cohorts, saved insights and
        dashboards go; its row stays as a tombstone (so its id is never handed out again),
        with a capture token that no request can send. Returns the project as it was."""
        with self._session() as s:
            row = _live(s, project_id)
            if row is None:
                raise NotFound(f"no project {project_id}")
            was = _project(row)
            row.deleted_at = self._now()
            row.api_token = DELETED_TOKEN_PREFIX + secrets.token_urlsafe(24)
            for child in (MembershipRow, CohortRow, InsightRow, DashboardRow):
                s.execute(sa.delete(child).where(child.project_id == project_id))
            s.commit()
            return was

    def deleted_project_ids(self) -> list[int]:
        """The projects deleted so far (whose data a sweep may still have to remove)."""
        with self._session() as s:
            return list(
                s.scalars(
                    sa.select(ProjectRow.id)
                    .where(ProjectRow.deleted_at.is_not(None))
                    .order_by(ProjectRow.id)
                )
            )

    # -- cohorts ----------------------------------------------------------------------------

    def create_cohort(self, project_id: int, cohort: CohortIn) -> Cohort:
        now = self._now()
        row = CohortRow(
            project_id=project_id,
            name=cohort.name,
            description=cohort.description,
            definition=cohort.definition.model_dump(mode="json", exclude_none=True),
            created_at=now,
            updated_at=now,
        )
        with self._session() as s:
            s.add(row)
            s.commit()
            return _cohort(row)

    def cohorts(self, project_id: int) -> list[Cohort]:
        with self._session() as s:
            query = sa.select(CohortRow).where(CohortRow.project_id == project_id)
            return [_cohort(r) for r in s.scalars(query.order_by(CohortRow.id))]

    def cohort(self, project_id: int, cohort_id: int) -> Cohort | None:
        """A cohort of this project (None for another project's, as for a missing one)."""
        with self._session() as s:
            row = s.get(CohortRow, cohort_id)
            return _cohort(row) if row is not None and row.project_id == project_id else None

    # -- saved insights and dashboards -------------------------------------------------------

    def _insight_row(self, project_id: int, insight: SavedInsightIn) -> InsightRow:
        now = self._now()
        return InsightRow(
            project_id=project_id,
            name=insight.name,
            description=insight.description,
            spec=insight.spec.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )

    def create_insight(self, project_id: int, insight: SavedInsightIn) -> SavedInsight:
        row = self._insight_row(project_id, insight)
        with self._session() as s:
            s.add(row)
            s.commit()
            return _insight(row)

    def insights(self, project_id: int) -> list[SavedInsight]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(InsightRow)
                .where(InsightRow.project_id == project_id)
                .order_by(InsightRow.id)
            )
            return [_insight(r) for r in rows]

    def insight(self, project_id: int, insight_id: int) -> SavedInsight | None:
        with self._session() as s:
            row = s.get(InsightRow, insight_id)
            return _insight(row) if row and row.project_id == project_id else None

    def update_insight(
        self, project_id: int, insight_id: int, patch: SavedInsightPatch
    ) -> SavedInsight:
        with self._session() as s:
            row = _owned(s, InsightRow, project_id, insight_id, "insight")
            if patch.name is not None:
                row.name = patch.name
            if patch.description is not None:
                row.description = patch.description
            if patch.spec is not None:
                row.spec = patch.spec.model_dump(mode="json")
            row.updated_at = self._now()
            s.commit()
            return _insight(row)

    def delete_insight(self, project_id: int, insight_id: int) -> None:
        with self._session() as s:
            s.delete(_owned(s, InsightRow, project_id, insight_id, "insight"))
            s.commit()

    def create_dashboard(self, project_id: int, dashboard: DashboardIn) -> Dashboard:
        now = self._now()
        with self._session() as s:
            self._check_tiles(s, project_id, dashboard.tiles)
            row = DashboardRow(
                project_id=project_id,
                name=dashboard.name,
                tiles=list(dashboard.tiles),
                filters=dashboard.filters.model_dump(mode="json", exclude_none=True),
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.commit()
            return self._dashboard(s, row)

    def dashboards(self, project_id: int) -> list[Dashboard]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(DashboardRow)
                .where(DashboardRow.project_id == project_id)
                .order_by(DashboardRow.id)
            )
            return [self._dashboard(s, r) for r in rows]

    def dashboard(self, project_id: int, dashboard_id: int) -> Dashboard | None:
        with self._session() as s:
            row = s.get(DashboardRow, dashboard_id)
            return self._dashboard(s, row) if row and row.project_id == project_id else None

    def update_dashboard(
        self, project_id: int, dashboard_id: int, patch: DashboardPatch
    ) -> Dashboard:
        with self._session() as s:
            row = _owned(s, DashboardRow, project_id, dashboard_id, "dashboard")
            if patch.name is not None:
                row.name = patch.name
            if patch.tiles is not None:
                self._check_tiles(s, project_id, patch.tiles)
                row.tiles = list(patch.tiles)
            if patch.filters is not None:
                row.filters = patch.filters.model_dump(mode="json", exclude_none=True)
            row.updated_at = self._now()
            s.commit()
            return self._dashboard(s, row)

    def delete_dashboard(self, project_id: int, dashboard_id: int) -> None:
        with self._session() as s:
            s.delete(_owned(s, DashboardRow, project_id, dashboard_id, "dashboard"))
            s.commit()

    @staticmethod
    def _check_tiles(s: Session, project_id: int, tiles: Sequence[int]) -> None:
        if len(set(tiles)) != len(tiles):
            raise InvalidInput("tiles: an insight is on the dashboard twice")
        found = set(
            s.scalars(
                sa.select(InsightRow.id).where(
                    InsightRow.project_id == project_id, InsightRow.id.in_(list(tiles))
                )
            )
        )
        missing = [t for t in tiles if t not in found]
        if missing:
            raise InvalidInput(f"tiles: no insight {missing[0]} in this project")

    @staticmethod
    def _dashboard(s: Session, row: DashboardRow) -> Dashboard:
        insights = {
            r.id: _insight(r)
            for r in s.scalars(
                sa.select(InsightRow).where(
                    InsightRow.project_id == row.project_id, InsightRow.id.in_(list(row.tiles))
                )
            )
        }
        return Dashboard(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            tiles=[insights[i] for i in row.tiles if i in insights],
            filters=DashboardFilters.model_validate(row.filters or {}, context=STORED),
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )

    def update_cohort(self, project_id: int, cohort_id: int, patch: CohortPatch) -> Cohort:
        with self._session() as s:
            row = _owned(s, CohortRow, project_id, cohort_id, "cohort")
            if patch.name is not None:
                row.name = patch.name
            if patch.description is not None:
                row.description = patch.description
            if patch.definition is not None:
                row.definition = patch.definition.model_dump(mode="json", exclude_none=True)
            row.updated_at = self._now()
            s.commit()
            return _cohort(row)

    def forget_distinct_ids(self, project_id: int, distinct_ids: Sequence[str]) -> int:
        """Take a deleted person's distinct ids out of the project's list cohorts (a list may
        end up empty); returns how many cohorts changed."""
        gone = set(distinct_ids)
        changed = 0
        with self._session() as s:
            query = sa.select(CohortRow).where(CohortRow.project_id == project_id)
            for row in s.scalars(query):
                listed = row.definition.get("distinct_ids")
                if not isinstance(listed, list) or gone.isdisjoint(listed):
                    continue
                # A new dict, so that the JSON column sees the change.
                row.definition = {
                    **row.definition,
                    "distinct_ids": [i for i in listed if i not in gone],
                }
                row.updated_at = self._now()
                changed += 1
            s.commit()
        return changed

    def delete_cohort(self, project_id: int, cohort_id: int) -> None:
        with self._session() as s:
            s.delete(_owned(s, CohortRow, project_id, cohort_id, "cohort"))
            s.commit()

    # -- memberships ------------------------------------------------------------------------

    def add_member(self, project_id: int, email: str, role: Role = Role.MEMBER) -> None:
        with self._session() as s:
            user = s.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            if user is None:
                raise NotFound(f"no user with email {email}")
            if _live(s, project_id) is None:
                raise NotFound(f"no project {project_id}")
            existing = s.scalar(
                sa.select(MembershipRow).where(
                    MembershipRow.user_id == user.id, MembershipRow.project_id == project_id
                )
            )
            if existing is not None:
                existing.role = role.value
            else:
                s.add(MembershipRow(user_id=user.id, project_id=project_id, role=role.value))
            s.commit()

    def members(self, project_id: int) -> list[tuple[User, Role]]:
        """The project's members with their roles, by email."""
        with self._session() as s:
            rows = s.execute(
                sa.select(UserRow, MembershipRow.role)
                .join(MembershipRow, MembershipRow.user_id == UserRow.id)
                .where(MembershipRow.project_id == project_id)
                .order_by(UserRow.email)
            ).all()
            return [(_user(u), Role(role)) for u, role in rows]

    def remove_member(self, project_id: int, user_id: int) -> None:
        with self._session() as s:
            found = s.scalar(
                sa.select(MembershipRow).where(
                    MembershipRow.user_id == user_id, MembershipRow.project_id == project_id
                )
            )
            if found is None:
                raise NotFound(f"user {user_id} is not a member")
            s.delete(found)
            s.commit()

    def role_in(self, user: User, project_id: int) -> Role | None:
        """The user's role in the project: instance admins are admins of every project."""
        with self._session() as s:
            if _live(s, project_id) is None:
                return None
            if user.is_admin:
                return Role.ADMIN
            role = s.scalar(
                sa.select(MembershipRow.role).where(
                    MembershipRow.user_id == user.id, MembershipRow.project_id == project_id
                )
            )
            return Role(role) if role else None

    # -- personal API tokens ----------------------------------------------------------------

    def create_api_token(self, email: str, label: str = "cli") -> NewApiToken:
        secret = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._session() as s:
            user = s.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            if user is None:
                raise NotFound(f"no user with email {email}")
            row = ApiTokenRow(
                user_id=user.id,
                label=label[:200],
                secret_hash=_hash_secret(secret),
                prefix=secret[:8],
                created_at=self._now(),
            )
            s.add(row)
            s.commit()
            return NewApiToken(id=row.id, user_id=user.id, label=row.label, secret=secret)

    def api_tokens(self, user_id: int) -> list[ApiTokenInfo]:
        with self._session() as s:
            rows = s.scalars(
                sa.select(ApiTokenRow)
                .where(ApiTokenRow.user_id == user_id)
                .order_by(ApiTokenRow.id)
            )
            return [
                ApiTokenInfo(
                    id=r.id,
                    label=r.label,
                    prefix=r.prefix,
                    created_at=_aware(r.created_at),
                    last_used_at=_aware(r.last_used_at) if r.last_used_at else None,
                )
                for r in rows
            ]

    def delete_api_token(self, user_id: int, token_id: int) -> None:
        with self._session() as s:
            row = s.get(ApiTokenRow, token_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"no token {token_id}")
            s.delete(row)
            s.commit()

    def rename_project(self, project_id: int, name: str, timezone: str) -> Project:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("project name must be 1-200 characters")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone: {timezone!r}") from exc

        def change(row: ProjectRow) -> None:
            row.name = name
            row.timezone = timezone

        return self._change_project(project_id, change)

    def user_for_api_token(self, secret: str) -> User | None:
        if not secret.startswith(PERSONAL_TOKEN_PREFIX):
            return None
        with self._session() as s:
            row = s.scalar(
                sa.select(ApiTokenRow).where(ApiTokenRow.secret_hash == _hash_secret(secret))
            )
            if row is None:
                return None
            user = s.get(UserRow, row.user_id)
            if user is None:
                return None
            token_id, last_used = row.id, row.last_used_at
        # When it was last used, to a minute: one write a minute at most, not one a request,
        # in a transaction of its own that starts as a write.
        now = self._now()
        if last_used is None or now - _aware(last_used) >= TOKEN_USE_GRAIN:
            try:
                with self._session() as s:
                    s.execute(
                        sa.update(ApiTokenRow)
                        .where(ApiTokenRow.id == token_id)
                        .values(last_used_at=now)
                    )
                    s.commit()
            except sa.exc.OperationalError as exc:  # bookkeeping: never a reason to refuse
                log.warning("could not record the use of API token %d: %s", token_id, exc)
        return _user(user)

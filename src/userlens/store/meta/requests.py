"""`AdminRequests`: the commands the CLI hands to a running server, in the metadata database
that both open (SQLite takes a second process; so does PostgreSQL).

The CLI adds a request and waits for its answer; the server claims the oldest open one
(`started_at`), carries it out and finishes it with a result or an error. A request not yet
claimed can be withdrawn, so that a CLI that gives up waiting leaves nothing to happen later.
A server that stopped in the middle of one gives it back (`requeue_interrupted`) when it next
starts, and carries it out again: each action may run twice without harm."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from userlens.model.admin import AdminAction, AdminRequest
from userlens.store.meta.tables import AdminRequestRow

KEEP_FINISHED = timedelta(days=30)  # answered requests are forgotten after this


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _request(row: AdminRequestRow) -> AdminRequest:
    requested = _aware(row.requested_at)
    assert requested is not None
    return AdminRequest(
        id=row.id,
        action=AdminAction(row.action),
        project_id=row.project_id,
        distinct_id=row.distinct_id,
        requested_at=requested,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at),
        result=row.result,
        error=row.error,
    )


class AdminRequests:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now

    def add(
        self, action: AdminAction, *, project_id: int | None = None, distinct_id: str | None = None
    ) -> AdminRequest:
        with self._sessions.begin() as s:
            row = AdminRequestRow(
                action=action.value,
                project_id=project_id,
                distinct_id=distinct_id,
                requested_at=self._now(),
            )
            s.add(row)
            s.flush()
            return _request(row)

    def get(self, request_id: int) -> AdminRequest | None:
        with self._sessions() as s:
            row = s.get(AdminRequestRow, request_id)
            return None if row is None else _request(row)

    def claim_next(self) -> AdminRequest | None:
        """The oldest request no one took up, now marked as started; None when there is none."""
        with self._sessions.begin() as s:
            row = s.scalars(
                sa.select(AdminRequestRow)
                .where(AdminRequestRow.started_at.is_(None), AdminRequestRow.finished_at.is_(None))
                .order_by(AdminRequestRow.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            row.started_at = self._now()
            return _request(row)

    def finish(
        self, request_id: int, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        now = self._now()
        with self._sessions.begin() as s:
            s.execute(
                sa.update(AdminRequestRow)
                .where(AdminRequestRow.id == request_id)
                .values(finished_at=now, result=result, error=error and error[:2000])
            )
            s.execute(
                sa.delete(AdminRequestRow).where(AdminRequestRow.finished_at < now - KEEP_FINISHED)
            )

    def withdraw(self, request_id: int, why: str) -> bool:
        """Close a request no server has taken up yet; False when one has (it goes on)."""
        with self._sessions.begin() as s:
            done = s.execute(
                sa.update(AdminRequestRow)
                .where(AdminRequestRow.id == request_id, AdminRequestRow.started_at.is_(None))
                .values(finished_at=self._now(), error=why[:2000])
            )
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def requeue_interrupted(self) -> int:
        """Give back the requests a server took up and never finished (it stopped); for the
        next server to carry out again. Only for whoever holds the event store."""
        with self._sessions.begin() as s:
            done = s.execute(
                sa.update(AdminRequestRow)
                .where(
                    AdminRequestRow.started_at.is_not(None), AdminRequestRow.finished_at.is_(None)
                )
                .values(started_at=None)
            )
            return int(done.rowcount)  # type: ignore[attr-defined]

"""Every domain error Userlens raises, in one leaf module that imports nothing of ours."""

from __future__ import annotations


class UserlensError(Exception):
    """Base of every error Userlens raises on purpose."""


class ConfigError(UserlensError):
    """A setting has a value Userlens cannot use; the message names the setting."""


class CaptureError(UserlensError):
    """A capture request cannot be accepted at all.

    `status` is the HTTP status to answer with and `code` a stable machine-readable name.
    """

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class EventRejected(UserlensError):
    """One event of a request is invalid; the others in the request may still be stored."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Backpressure(UserlensError):
    """The server is full (its write queue, or the request bodies it holds): the client should
    retry after `retry_after` seconds."""

    def __init__(
        self, retry_after: int, detail: str = "too many events queued; retry later"
    ) -> None:
        super().__init__(f"{detail} (retry after {retry_after}s)")
        self.retry_after = retry_after
        self.detail = detail


class Busy(UserlensError):
    """The same job is already running (one backup at a time)."""


class StoreUnavailable(UserlensError):
    """The event store cannot take events: a batch failed to commit (nothing of it was
    acknowledged), or the write-ahead log could not be loaded at start-up."""


class StoreOutOfMemory(UserlensError):
    """A write did not fit in the event store's memory limit; a smaller one may."""


class NotFound(UserlensError):
    """The thing asked for does not exist, or the caller may not see it."""


class AlreadyExists(UserlensError):
    """A unique name (an email, say) is already taken."""


class InvalidInput(UserlensError):
    """A value given to a command or API is not acceptable; the message says why."""


def first_line(exc: BaseException) -> str:
    """An error's message without the advice some libraries add below it (or its type's name,
    when it has no message)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]

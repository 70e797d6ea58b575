"""`BlobStore` on the local disk: one file per key under a root directory, replaced atomically.

Key "a/b/c" is the file `a/b/c@blob` under the root. The '@blob' suffix cannot occur in a
key segment, so key "a/b" (file `a/b@blob`) and key "a/b/c" (in directory `a/b`) can both
exist, as they can in an object store. Every path is walked from the root one directory at a
time with O_NOFOLLOW, so no symlink inside the root can lead a key out of it. Names starting
with '.' (temp files of unfinished puts) are never keys.

Within one process, puts run concurrently with each other but never with a delete_prefix (a
shared/exclusive lock), so a delete cannot pull a directory from under a put. Across
processes a put that still meets a removed directory fails with ENOENT (the kernel refuses
to create entries in it) and tries again.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import itertools
import os
import secrets
import stat
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from userlens.errors import NotFound
from userlens.store.blobs import check_key, check_prefix

BLOB_SUFFIX = "@blob"
TMP_PREFIX = ".tmp-"
PUT_ATTEMPTS = 10
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_ABSENT = (FileNotFoundError, NotADirectoryError)


class _SharedExclusive:
    """Many holders of the shared side at once, or one of the exclusive side."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._waiting_shared = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._waiting_shared += 1
            while self._exclusive:
                self._cond.wait()
            self._waiting_shared -= 1
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            # Waiting puts go first: a stream of deletes must not starve them.
            while self._exclusive or self._shared or self._waiting_shared:
                self._cond.wait()
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class LocalBlobStore:
    """Blobs as files under `root`; safe for concurrent use by many threads."""

    def __init__(self, root: Path) -> None:
        _make_dirs(root)
        self.root = root
        self._lock = _SharedExclusive()

    def put(self, key: str, data: bytes) -> None:
        *dirs, name = check_key(key).split("/")
        with self._lock.shared():
            self._put(dirs, name, data)

    def _put(self, dirs: Sequence[str], name: str, data: bytes) -> None:
        for attempt in itertools.count(1):
            try:
                with _closing(self._open_dir(dirs, create=True)) as dir_fd:
                    _write_atomically(dir_fd, name + BLOB_SUFFIX, data)
                return
            except FileNotFoundError:
                # A concurrent delete_prefix removed the directory or our temp file.
                if attempt == PUT_ATTEMPTS:
                    raise

    def get(self, key: str) -> bytes:
        *dirs, name = check_key(key).split("/")
        try:
            with _closing(self._open_dir(dirs, create=False)) as dir_fd:
                fd = _open_no_symlink(name + BLOB_SUFFIX, os.O_RDONLY, dir_fd)
        except _ABSENT as exc:
            raise NotFound(f"no blob under key {key!r}") from exc
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def list(self, prefix: str) -> builtins.list[str]:
        return sorted(key for key, _, _ in self._matching(prefix))

    def size(self, prefix: str) -> int:
        return sum(_file_size(dir_fd, name) for _, dir_fd, name in self._matching(prefix))

    def delete_prefix(self, prefix: str) -> int:
        with self._lock.exclusive():
            return self._delete_prefix(prefix)

    def link_into(self, dest: LocalBlobStore, keys: Sequence[str]) -> builtins.list[str]:
        """Put the blobs under `keys` into `dest` as they are now, and return the keys that
        were not there. A blob is hard-linked when both stores are on one file system (its
        file is never changed in place, only replaced or unlinked, so the link keeps this
        version), else copied. Durable on return."""
        missing: builtins.list[str] = []
        touched: set[tuple[str, ...]] = set()
        for key in keys:
            *dirs, name = check_key(key).split("/")
            with self._lock.shared():
                try:
                    src_fd = self._open_dir(dirs, create=False)
                except _ABSENT:
                    missing.append(key)
                    continue
                with _closing(src_fd), _closing(dest._open_dir(dirs, create=True)) as dst_fd:
                    if not _link_or_copy(src_fd, dst_fd, name + BLOB_SUFFIX):
                        missing.append(key)
                        continue
            touched.add(tuple(dirs))
        for touched_dirs in touched:
            with _closing(dest._open_dir(touched_dirs, create=False)) as fd:
                os.fsync(fd)
        return missing

    def _delete_prefix(self, prefix: str) -> int:
        *dirs, last = check_prefix(prefix).removesuffix("/").split("/")
        try:
            dir_fd = self._open_dir(dirs, create=False)
        except _ABSENT:
            return 0
        with _closing(dir_fd):
            count = 0 if prefix.endswith("/") else _unlink_if_present(dir_fd, last + BLOB_SUFFIX)
            count += _clear_subdir(dir_fd, last)
            os.fsync(dir_fd)
        return count

    def _matching(self, prefix: str) -> Iterator[tuple[str, int, str]]:
        """(key, directory fd, file name) of every blob matching `prefix`."""
        *dirs, last = check_prefix(prefix).removesuffix("/").split("/")
        base = "".join(f"{d}/" for d in dirs)
        try:
            dir_fd = self._open_dir(dirs, create=False)
        except _ABSENT:
            return
        with _closing(dir_fd):
            if not prefix.endswith("/") and _is_file(dir_fd, last + BLOB_SUFFIX):
                yield base + last, dir_fd, last + BLOB_SUFFIX
            yield from _blobs(dir_fd, last, base)

    def _open_dir(self, dirs: Sequence[str], *, create: bool) -> int:
        """An fd of directory `dirs` under the root, made (durably) if `create` and missing."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for name in dirs:
                child = _open_child(fd, name, create=create)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd


def _open_child(parent_fd: int, name: str, *, create: bool) -> int:
    try:
        return _open_no_symlink(name, _DIR_FLAGS, parent_fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    os.fsync(parent_fd)
    return _open_no_symlink(name, _DIR_FLAGS, parent_fd)


def _open_no_symlink(name: str, flags: int, dir_fd: int) -> int:
    """Open `name` in `dir_fd`, treating a symlink like something that is not there."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotADirectoryError(exc.errno, f"{name} is a symlink") from exc
        raise


def _write_atomically(dir_fd: int, name: str, data: bytes) -> None:
    """Write a temp file, fsync it, rename it to `name` and fsync the directory."""
    tmp = f"{TMP_PREFIX}{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        with os.fdopen(os.open(tmp, flags, 0o600, dir_fd=dir_fd), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def _link_or_copy(src_fd: int, dst_fd: int, name: str) -> bool:
    """Hard-link file `name` from one directory into another (a copy across file systems);
    False if there is no such file."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dst_fd)
    try:
        os.link(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
    try:
        fd = _open_no_symlink(name, os.O_RDONLY, src_fd)
    except _ABSENT:
        return False
    with os.fdopen(fd, "rb") as handle:
        _write_atomically(dst_fd, name, handle.read())
    return True


def _blobs(parent_fd: int, name: str, base: str) -> Iterator[tuple[str, int, str]]:
    """(key, directory fd, file name) of every blob in and below directory `name`."""
    try:
        dir_fd = _open_no_symlink(name, _DIR_FLAGS, parent_fd)
    except _ABSENT:
        return
    base = f"{base}{name}/"
    with _closing(dir_fd):
        for entry in _entries(dir_fd):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from _blobs(dir_fd, entry.name, base)
            elif entry.name.endswith(BLOB_SUFFIX) and entry.is_file(follow_symlinks=False):
                yield base + entry.name.removesuffix(BLOB_SUFFIX), dir_fd, entry.name


def _entries(dir_fd: int) -> list[os.DirEntry[str]]:
    with os.scandir(dir_fd) as scan:
        return list(scan)


def _clear_subdir(parent_fd: int, name: str) -> int:
    """Delete every blob and temp file in and below directory `name`, then each directory
    left empty; return how many blobs. The caller fsyncs `parent_fd`."""
    try:
        dir_fd = _open_no_symlink(name, _DIR_FLAGS, parent_fd)
    except _ABSENT:
        return 0
    count = 0
    with _closing(dir_fd):
        for entry in _entries(dir_fd):
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                count += _clear_subdir(dir_fd, entry.name)
            elif entry.name.endswith(BLOB_SUFFIX):
                count += _unlink_if_present(dir_fd, entry.name)
            elif entry.name.startswith(TMP_PREFIX):
                _unlink_if_present(dir_fd, entry.name)
        os.fsync(dir_fd)
    _rmdir_if_empty(parent_fd, name)
    return count


def _unlink_if_present(dir_fd: int, name: str) -> int:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return 0
    return 1


def _rmdir_if_empty(parent_fd: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _is_file(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except _ABSENT:
        return False


def _file_size(dir_fd: int, name: str) -> int:
    """The size of file `name`, or 0 if a concurrent delete_prefix just removed it."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_size
    except _ABSENT:
        return 0


def _make_dirs(path: Path) -> None:
    """Create `path` and missing parents, fsyncing the parent of each new directory."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        with _closing(os.open(directory.parent, os.O_RDONLY | os.O_DIRECTORY)) as fd:
            os.fsync(fd)


@contextlib.contextmanager
def _closing(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)

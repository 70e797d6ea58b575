"""One suite for every `BlobStore` backend: round trips, listing, deletion and key rules."""

from __future__ import annotations

import itertools
import os
import random
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userlens.errors import InvalidInput, NotFound
from userlens.store.blobs import BlobStore, check_key
from userlens.store.local_blobs import LocalBlobStore

BACKENDS: dict[str, Callable[[Path], BlobStore]] = {
    "local": lambda tmp_path: LocalBlobStore(tmp_path / "blobs"),
}

HOSTILE_KEYS = [
    "../x",
    "/etc/passwd",
    "a//b",
    "a/./b",
    "a/../../b",
    "a\\b",
    "a/b\x00c",
    "a/" + "x" * 300,
    "/".join("abcdefghi"),
    "",
    ".",
    "a/..",
    "a/.tmp-123",
    "a/b/",
    "a/b c",
    "a/é",
]


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    """The local backend alone, for tests that look at its files on disk."""
    return LocalBlobStore(tmp_path / "blobs")


def local_root(store: BlobStore) -> Path:
    assert isinstance(store, LocalBlobStore)
    return store.root


def matches(key: str, prefix: str) -> bool:
    """The reference meaning of a prefix: a directory ("a/") or a key and its subtree ("a")."""
    return key == prefix or key.startswith(prefix if prefix.endswith("/") else prefix + "/")


def files_under(root: Path) -> list[Path]:
    return [Path(d, name) for d, _, names in os.walk(root) for name in names]


@pytest.mark.parametrize("size", [0, 1, 256, 5 * 1024 * 1024])
def test_round_trip(store: BlobStore, size: int) -> None:
    data = random.Random(size).randbytes(size)
    store.put("recordings/1/session-a/chunk-0001", data)
    assert store.get("recordings/1/session-a/chunk-0001") == data
    assert store.list("recordings/") == ["recordings/1/session-a/chunk-0001"]


def test_overwrite_replaces(store: BlobStore) -> None:
    store.put("k", b"a much longer first version")
    store.put("k", b"short")
    assert store.get("k") == b"short"
    assert store.list("k") == ["k"]
    assert store.size("k") == 5


def test_get_missing_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFound):
        store.get("nothing/here")
    store.put("a/b/c", b"x")
    for missing in ("a/b/d", "a/b", "a", "a/b/c/d", "z"):
        with pytest.raises(NotFound):
            store.get(missing)


def test_a_key_and_keys_below_it_coexist(store: BlobStore) -> None:
    store.put("a/b", b"1")
    store.put("a/b/c", b"22")
    assert (store.get("a/b"), store.get("a/b/c")) == (b"1", b"22")
    assert store.list("a/") == ["a/b", "a/b/c"]


def test_list_is_sorted_and_scoped_to_whole_segments(store: BlobStore) -> None:
    keys = ["a/b/x", "a/b/y/z", "a/bc/x", "a/b", "b/1", "a/b/A", "a/b-/x", "ab/x"]
    for key in random.Random(1).sample(keys, len(keys)):
        store.put(key, key.encode())
    assert store.list("a/b/") == ["a/b/A", "a/b/x", "a/b/y/z"]
    assert store.list("a/b") == ["a/b", "a/b/A", "a/b/x", "a/b/y/z"]
    assert store.list("a/") == sorted(k for k in keys if k.startswith("a/"))
    assert store.list("a") == store.list("a/")
    assert store.list("a/b/x") == ["a/b/x"]
    assert store.list("a/b/x/") == []
    assert store.list("nothing/") == []
    assert store.list("a/b/q") == []


def test_delete_prefix_removes_exactly_the_keys_under_it(store: BlobStore) -> None:
    keys = ["s/1/a", "s/1/b/c", "s/1", "s/10/a", "s/2/a", "t/1/a"]
    for key in keys:
        store.put(key, key.encode())
    assert store.delete_prefix("s/1/") == 2
    assert store.list("s/") == ["s/1", "s/10/a", "s/2/a"]
    assert store.delete_prefix("s/1/") == 0
    assert store.delete_prefix("s/1") == 1
    assert store.delete_prefix("s/2") == 1
    assert store.list("s/") == ["s/10/a"]
    assert store.list("t/") == ["t/1/a"]
    assert store.get("s/10/a") == b"s/10/a"
    assert store.delete_prefix("nothing/") == 0
    with pytest.raises(NotFound):
        store.get("s/1/a")
    store.put("s/1/a", b"again")
    assert store.get("s/1/a") == b"again"


def test_delete_prefix_leaves_no_byte_of_the_deleted_blobs_on_disk(
    local_store: LocalBlobStore,
) -> None:
    store = local_store
    root = local_root(store)
    rng = random.Random(7)
    doomed = {f"rec/9/s1/{w}/chunk-{i}": rng.randbytes(4096) for w in "ab" for i in range(3)}
    for key, data in doomed.items():
        store.put(key, data)
    store.put("rec/9/s2/chunk-0", rng.randbytes(4096))
    partial = rng.randbytes(4096)  # what a put that crashed mid-way left behind
    (root / "rec/9/s1/a/.tmp-crashed").write_bytes(partial)

    assert store.delete_prefix("rec/9/s1/") == len(doomed)

    for path in files_under(root):
        content = path.read_bytes()
        for data in [*doomed.values(), partial]:
            assert data[:64] not in content, path
    assert not (root / "rec/9/s1").exists()
    assert store.list("rec/") == ["rec/9/s2/chunk-0"]
    assert store.delete_prefix("rec/9/s2") == 1
    assert files_under(root) == []
    assert [p.name for p in (root / "rec/9").iterdir()] == []


def test_size_sums_bytes(store: BlobStore) -> None:
    assert store.size("x/") == 0
    store.put("x/1", b"abc")
    store.put("x/2/3", b"defgh")
    store.put("x/4", b"")
    store.put("xy/1", b"not counted")
    assert store.size("x/") == 8
    assert store.size("x") == 8
    assert store.size("x/2/3") == 5


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_rejected(store: BlobStore, key: str, tmp_path: Path) -> None:
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(InvalidInput):
        store.put(key, b"payload")
    with pytest.raises(InvalidInput):
        store.get(key)
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.parametrize("prefix", [k for k in HOSTILE_KEYS if k != "a/b/"] + ["/", "a//"])
def test_hostile_prefixes_are_rejected(store: BlobStore, prefix: str) -> None:
    store.put("a/b/c", b"x")
    for call in (store.list, store.size, store.delete_prefix):
        with pytest.raises(InvalidInput):
            call(prefix)
    assert store.get("a/b/c") == b"x"


def test_longest_keys_are_accepted(store: BlobStore) -> None:
    deep = "/".join("abcdefgh")
    wide = "a/" + "x" * 200
    for key in (deep, wide, "A-Z_a.z-09"):
        store.put(key, key.encode())
        assert store.get(key) == key.encode()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "empty"),
        ("/etc/passwd", "starts with '/'"),
        ("a//b", "empty segment"),
        ("a/../b", "'..' segment"),
        ("a/b\x00", "character outside"),
        ("a/" + "x" * 201, "longer than 200"),
        ("/".join("abcdefghi"), "9 segments"),
        ("a/.hidden", "starting with '.'"),
    ],
)
def test_invalid_key_messages_name_the_problem(key: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        check_key(key)


def test_a_crashed_put_leaves_no_partial_blob(local_store: LocalBlobStore) -> None:
    store = local_store
    root = local_root(store)
    store.put("s/1/chunk", b"old")
    (root / "s/1/.tmp-0123456789abcdef").write_bytes(b"half of a new vers")
    (root / ".tmp-fedcba9876543210").write_bytes(b"half")
    assert store.list("s/") == ["s/1/chunk"]
    assert store.list("s/1/chunk") == ["s/1/chunk"]
    assert store.size("s/") == 3
    assert store.get("s/1/chunk") == b"old"
    store.put("s/1/chunk", b"new version")
    assert store.get("s/1/chunk") == b"new version"
    assert store.list("s/") == ["s/1/chunk"]


def test_a_put_failing_before_the_rename_keeps_the_old_blob(
    local_store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local_store
    root = local_root(store)
    store.put("s/1/chunk", b"old")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="disk on fire"):
            store.put("s/1/chunk", b"new")
    assert store.get("s/1/chunk") == b"old"
    assert sorted(p.name for p in (root / "s/1").iterdir()) == ["chunk@blob"]


def test_symlinks_never_lead_outside_the_root(local_store: LocalBlobStore, tmp_path: Path) -> None:
    store = local_store
    root = local_root(store)
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (outside / "x" / "secret@blob").write_bytes(b"secret")
    (root / "evil").symlink_to(outside / "x")
    (root / "file@blob").symlink_to(outside / "x" / "secret@blob")
    for key in ("evil/secret", "file"):
        with pytest.raises(NotFound):
            store.get(key)
    with pytest.raises(OSError):
        store.put("evil/planted", b"x")
    assert store.list("evil/") == []
    assert store.list("file") == []
    assert sorted(p.name for p in (outside / "x").iterdir()) == ["secret@blob"]


def test_concurrent_puts_and_gets_of_different_keys(store: BlobStore) -> None:
    def work(worker: int) -> None:
        for i in range(25):
            key = f"c/{i % 3}/{worker}/{i}"
            store.put(key, f"{worker}:{i}".encode())
            assert store.get(key) == f"{worker}:{i}".encode()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert len(store.list("c/")) == 8 * 25


def test_puts_racing_delete_prefix_of_their_directory_succeed(store: BlobStore) -> None:
    done = threading.Event()

    def delete_repeatedly() -> int:
        deleted = 0
        while not done.is_set():
            deleted += store.delete_prefix("r/x/")
        return deleted

    def work(worker: int) -> None:
        for i in range(40):
            store.put(f"r/x/{worker}/{i}", b"d")

    with ThreadPoolExecutor(max_workers=5) as pool:
        deleter = pool.submit(delete_repeatedly)
        try:
            list(pool.map(work, range(4)))
        finally:
            done.set()
        deleted = deleter.result()
    assert deleted + len(store.list("r/x/")) == 4 * 40


SEGMENTS = ("a", "b")
KEYS = ["/".join(p) for n in (1, 2, 3) for p in itertools.product(SEGMENTS, repeat=n)]
PREFIXES = KEYS + [f"{k}/" for k in KEYS]
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(max_size=8)),
        st.tuples(st.just("delete"), st.sampled_from(PREFIXES), st.just(b"")),
    ),
    max_size=30,
)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@settings(max_examples=150, deadline=None)
@given(operations=OPERATIONS)
def test_agrees_with_a_dict_model(backend: str, operations: list[tuple[str, str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = BACKENDS[backend](Path(tmp))
        model: dict[str, bytes] = {}
        for op, key, data in operations:
            if op == "put":
                store.put(key, data)
                model[key] = data
            else:
                doomed = [k for k in model if matches(k, key)]
                assert store.delete_prefix(key) == len(doomed)
                for k in doomed:
                    del model[k]
            assert_agrees(store, model)


def assert_agrees(store: BlobStore, model: dict[str, bytes]) -> None:
    for prefix in ("a", "b/", "a/b", "a/b/"):
        expected = sorted(k for k in model if matches(k, prefix))
        assert store.list(prefix) == expected
        assert store.size(prefix) == sum(len(model[k]) for k in expected)
    for key in KEYS:
        if key in model:
            assert store.get(key) == model[key]
        else:
            with pytest.raises(NotFound):
                store.get(key)


@pytest.mark.parametrize("same_file_system", [True, False], ids=["linked", "copied"])
def test_link_into_keeps_each_blob_as_it_was(
    local_store: LocalBlobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    same_file_system: bool,
) -> None:
    if not same_file_system:  # a second file system: os.link refuses, as the kernel does

        def cross_device(*args: object, **kwargs: object) -> None:
            raise OSError(18, "Invalid cross-device link")  # EXDEV

        monkeypatch.setattr(os, "link", cross_device)
    local_store.put("r/1/a", b"first")
    local_store.put("r/2/b", b"second")
    backup = LocalBlobStore(tmp_path / "backup")
    missing = local_store.link_into(backup, ["r/1/a", "r/2/b", "r/3/gone"])
    assert missing == ["r/3/gone"]
    assert backup.list("r/") == ["r/1/a", "r/2/b"]
    # Linked, a blob shares the store's file (no second copy on disk); copied, it has its own.
    inode = (local_root(local_store) / "r" / "1" / "a@blob").stat().st_ino
    assert ((backup.root / "r" / "1" / "a@blob").stat().st_ino == inode) is same_file_system
    # Later changes to the store leave the backup's blobs as they were.
    local_store.put("r/1/a", b"replaced")
    local_store.delete_prefix("r/2/")
    assert backup.get("r/1/a") == b"first"
    assert backup.get("r/2/b") == b"second"

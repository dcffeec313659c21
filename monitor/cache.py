"""A cache of reading work, so that a pass pays only for what is new.

Reading text into sentences (figures, events, names) is the costly part of rebuilding what
is known at the start of every pass. Two things are kept in one SQLite file next to the
state database (or under $MONITOR_CACHE_DIR, or ~/.cache/news-monitor for a server database):

- the detector built from a topic's baseline, keyed by the seed folder's fingerprint (names,
  sizes, modification times), the topic's name, description and keywords;
- the sentences read from each stored article, keyed by a hash of its title and text.

Every key also holds the code version: a hash of the sources that read and compare text, so
a change of the detection rules invalidates the cache by itself. The cache is an
optimisation only: any failure to read or write it is ignored and the work is redone.
`MONITOR_CACHE=off` turns it off. Entries are pickles: the cache file is as trusted as the
state database beside it.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

SOURCES = ("detect", "baseline.py", "extract.py", "cache.py")
CHUNK = 500  # keys per SELECT (SQLite's variable limit is far above)


@cache
def code_version() -> str:
    """A hash of the modules whose output is cached, and of the Python version (pickles)."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for name in SOURCES:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def cache_path(state_url: str) -> Path | None:
    """Where the cache of a state database lives; None when caching is off."""
    if os.environ.get("MONITOR_CACHE", "").lower() in ("off", "0", "false", "no"):
        return None
    folder = os.environ.get("MONITOR_CACHE_DIR")
    name = hashlib.sha256(state_url.encode()).hexdigest()[:12]
    if folder:
        return Path(folder) / f"monitor-{name}.cache.sqlite"
    if state_url.startswith("sqlite:///") and state_url != "sqlite:///:memory:":
        db = Path(state_url.removeprefix("sqlite:///"))
        return db.with_name(db.name + ".cache.sqlite")
    if state_url.startswith("sqlite"):
        return None  # an in-memory database: nothing worth keeping
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "news-monitor" / f"monitor-{name}.cache.sqlite"


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: building what is known makes millions of small
    objects that all survive, and the collections their creation triggers only rescan them
    (they cost several times an unpickle, a quarter of reading a baseline)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def unpickle(blob: bytes) -> Any:
    """Unpickle with the cyclic garbage collector paused."""
    with paused_gc():
        return pickle.loads(blob)


def text_key(title: str, text: str) -> str:
    return hashlib.sha256(f"{code_version()}\0{title}\0{text}".encode()).hexdigest()


def baseline_key(fingerprint: str, folder: Path, name: str, description: str, keywords: Iterable[str]) -> str:
    parts = [code_version(), fingerprint, str(folder.resolve()), name, description, *keywords]
    return "baseline:" + hashlib.sha256("\0".join(parts).encode()).hexdigest()


class ReadingCache:
    """Pickled values by key in one SQLite table; every error means 'not cached'."""

    def __init__(self, path: Path | None, read_only: bool = False):
        self.path, self.read_only = path, read_only
        self._db: sqlite3.Connection | None = None
        self._pending: dict[str, bytes] = {}
        self.hits = self.misses = 0

    @classmethod
    def for_state(cls, state_url: str, read_only: bool = False) -> ReadingCache:
        """The cache of a state database; `read_only` (a dry run) reads it and writes nothing,
        and does not create it."""
        path = cache_path(state_url)
        return cls(path if path and (path.exists() or not read_only) else None, read_only)

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and self.path is not None:
            try:
                if self.read_only:
                    self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5,
                                               check_same_thread=False)
                    return self._db
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                with db:
                    db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, version TEXT, value BLOB)")
                    # entries of another code version will never be read again
                    db.execute("DELETE FROM entries WHERE version != ?", (code_version(),))
                self._db = db
            except (sqlite3.Error, OSError):
                self.path = None  # unusable: work without a cache
        return self._db

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The cached values of those keys that are cached."""
        found: dict[str, Any] = {k: unpickle(self._pending[k]) for k in keys if k in self._pending}
        db = self._conn()
        rest = [k for k in dict.fromkeys(keys) if k not in found]
        if db is not None:
            try:
                for i in range(0, len(rest), CHUNK):
                    part = rest[i:i + CHUNK]
                    rows = db.execute(f"SELECT key, value FROM entries WHERE key IN ({','.join('?' * len(part))})",
                                      part)
                    for key, value in rows:
                        found[key] = unpickle(value)
            except (sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
                found = {k: v for k, v in found.items() if k in self._pending}
        self.hits += len(found)
        self.misses += len(set(keys) - set(found))
        return found

    def get(self, key: str) -> Any | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, value: Any) -> None:
        """Remember a value; written at the next `flush`."""
        if self.path is not None and not self.read_only:
            self._pending[key] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)

    def flush(self) -> None:
        db = self._conn()
        pending, self._pending = self._pending, {}
        if db is None or not pending:
            return
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO entries (key, version, value) VALUES (?, ?, ?)",
                               [(k, code_version(), v) for k, v in pending.items()])
        except sqlite3.Error:
            pass

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

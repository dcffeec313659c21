"""The store: SQLite by default, PostgreSQL with the same code. Each article is processed in
its own transaction, and a development is committed together with its pending deliveries,
so a pass that dies half-way loses nothing and a rerun picks up where it stopped."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, delete, event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.models import (
    ArticleRecord,
    Delivery,
    DevelopmentRecord,
    FeedState,
    Link,
    RunRecord,
    now,
)

__all__ = ["CLAIMABLE", "DELIVERY_STATUSES",
           "ArticleRecord", "Delivery", "DevelopmentRecord", "FeedState", "Link", "PruneReport",
           "ReadOnlyStore", "RunRecord", "Store", "StoreError", "route_key"]

T = TypeVar("T")


DELIVERY_STATUSES = ("pending", "failed", "sending", "sent", "dead")
CLAIMABLE = ("pending", "failed")


class StoreError(Exception):
    """The state database cannot be opened or used."""


def route_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL needs a lock too
    # The switch to WAL takes an exclusive lock and, on a new file opened by several
    # processes at once, can fail with "database is locked" without waiting: try again.
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
    # WAL + NORMAL: a commit survives the process being killed (only an OS crash or power
    # loss can drop the last commits), and costs no fsync: it keeps the outbox's
    # send-then-mark window (docs/alerts.md) well under a millisecond.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _strip_nul(session: Session, _context: object, _instances: object) -> None:
    """PostgreSQL text cannot hold NUL characters, which a hostile page can contain."""
    for obj in (*session.new, *session.dirty):
        for column in obj.__table__.columns:
            value = getattr(obj, column.key, None)
            if isinstance(value, str) and "\x00" in value:
                setattr(obj, column.key, value.replace("\x00", ""))


def _topic_key(topic: str) -> int:
    """A signed 64-bit advisory lock key for a topic."""
    return int.from_bytes(hashlib.sha256(f"topic:{topic}".encode()).digest()[:8], "big", signed=True)


@dataclass
class PruneReport:
    """What `Store.prune` removed."""

    texts_pruned: int = 0
    chars_freed: int = 0
    explanations_cleared: int = 0
    runs_deleted: int = 0


class Store:
    def __init__(self, url: str, upgrade: bool = True):
        """Open the state database; create or upgrade its schema unless `upgrade` is False."""
        from monitor.store.migrate import MigrationError, upgrade_schema

        try:
            self.engine = make_engine(url)
            if upgrade:
                self.revisions = upgrade_schema(self.engine)
        except (SQLAlchemyError, OSError, MigrationError) as exc:
            raise StoreError(f"cannot open state database: {' '.join(str(exc).split())[:300]}") from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "before_flush", _strip_nul)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _once_more_on_conflict(work: Callable[[], T]) -> T:
        """Select-then-insert races with another worker: on a unique violation the row now
        exists, so the second try finds and updates it."""
        try:
            return work()
        except IntegrityError:
            return work()

    @contextmanager
    def topic_lock(self, topic: str) -> Iterator[None]:
        """Serialise passes over one topic across workers (PostgreSQL advisory lock, released
        when the pass ends or its connection dies). Detection is sequential per topic: the
        rolling baseline grows article by article. SQLite: no lock (one machine; the unique
        constraints still prevent double rows). MONITOR_TOPIC_LOCK=off turns it off, e.g.
        behind PgBouncer in transaction mode, where session locks do not hold."""
        if self.engine.dialect.name != "postgresql" or os.environ.get("MONITOR_TOPIC_LOCK") == "off":
            yield
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _topic_key(topic)})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _topic_key(topic)})

    # -- feeds and links -------------------------------------------------------------

    def feed_state(self, topic: str, url: str) -> FeedState:
        def work() -> FeedState:
            with self.session() as s:
                row = s.scalar(select(FeedState).where(FeedState.topic == topic, FeedState.url == url))
                if row is None:
                    row = FeedState(topic=topic, url=url)
                    s.add(row)
                    s.flush()
                return row

        return self._once_more_on_conflict(work)

    def save_feed_state(self, state: FeedState) -> None:
        with self.session() as s:
            s.merge(state)

    def save_feed_validators(self, topic: str, url: str, etag: str | None, last_modified: str | None) -> None:
        """Remember a feed's ETag / Last-Modified once its entries are all handled."""
        with self.session() as s:
            row = s.scalar(select(FeedState).where(FeedState.topic == topic, FeedState.url == url))
            if row is not None:
                row.etag = etag or row.etag
                row.last_modified = last_modified or row.last_modified

    def feeds(self, topic: str | None = None) -> list[FeedState]:
        with self.session() as s:
            q = select(FeedState).order_by(FeedState.topic, FeedState.url)
            if topic:
                q = q.where(FeedState.topic == topic)
            return list(s.scalars(q))

    def handled_links(self, topic: str, max_attempts: int = 3) -> set[str]:
        """Links not to fetch again: processed, or failed too often."""
        with self.session() as s:
            rows = s.execute(select(Link.url, Link.article_id, Link.attempts).where(Link.topic == topic))
            return {url for url, article, attempts in rows if article is not None or attempts >= max_attempts}

    def link_failed(self, topic: str, url: str, error: str) -> None:
        def work() -> None:
            with self.session() as s:
                row = s.scalar(select(Link).where(Link.topic == topic, Link.url == url))
                if row is None:
                    row = Link(topic=topic, url=url, attempts=0)
                    s.add(row)
                row.attempts += 1
                row.error = error

        self._once_more_on_conflict(work)

    # -- articles ----------------------------------------------------------------------

    def find_article(self, topic: str, url: str, text_hash: str | None = None) -> ArticleRecord | None:
        with self.session() as s:
            q = select(ArticleRecord).where(ArticleRecord.topic == topic, ArticleRecord.url == url)
            row = s.scalar(q)
            if row is None and text_hash:
                row = s.scalar(select(ArticleRecord).where(ArticleRecord.topic == topic,
                                                           ArticleRecord.text_hash == text_hash))
            return row

    def link_to(self, topic: str, link: str, article_id: int) -> None:
        def work() -> None:
            with self.session() as s:
                self._link(s, topic, link, article_id)

        self._once_more_on_conflict(work)

    @staticmethod
    def _link(s: Session, topic: str, link: str, article_id: int) -> None:
        row = s.scalar(select(Link).where(Link.topic == topic, Link.url == link))
        if row is None:
            s.add(Link(topic=topic, url=link, article_id=article_id, attempts=1))
        else:
            row.article_id, row.error = article_id, None

    def known_articles(self, topic: str) -> list[ArticleRecord]:
        """On-topic articles in processing order: the rolling baseline."""
        with self.session() as s:
            q = (select(ArticleRecord)
                 .where(ArticleRecord.topic == topic, ArticleRecord.verdict != "offtopic")
                 .order_by(ArticleRecord.id))
            return list(s.scalars(q))

    def save_article(self, article: ArticleRecord, link: str,
                     development: DevelopmentRecord | None = None,
                     routes: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
                     source_for: str | None = None) -> ArticleRecord | None:
        """Store an article, and its development with one pending delivery per route
        (url, redacted url, mode), or add it as a source of `source_for`, in one transaction.

        Returns None when another worker stored the same article (topic + URL) or development
        (deterministic id) first: the transaction is rolled back, nothing is half-stored, and
        the caller treats the article as already handled."""
        try:
            return self._save_article(article, link, development, routes, source_for)
        except IntegrityError:
            return None

    def _save_article(self, article: ArticleRecord, link: str, development: DevelopmentRecord | None,
                      routes: list[tuple[str, str, str]], source_for: str | None) -> ArticleRecord:
        with self.session() as s:
            if development is not None:
                s.add(development)
                for url, shown, mode in routes:
                    s.add(Delivery(development_id=development.id, route_key=route_key(url), route=shown,
                                   mode=mode))
                s.flush()
            if source_for is not None:
                dev = s.get(DevelopmentRecord, source_for, with_for_update=True)
                if dev is not None and article.url not in dev.sources:
                    dev.sources = [*dev.sources, article.url]
            s.add(article)
            s.flush()
            self._link(s, article.topic, link, article.id)
            return article

    # -- developments and deliveries -------------------------------------------------

    def developments(self, topic: str | None = None,
                     include_dismissed: bool = True) -> list[DevelopmentRecord]:
        with self.session() as s:
            q = select(DevelopmentRecord).order_by(DevelopmentRecord.first_seen, DevelopmentRecord.id)
            if topic:
                q = q.where(DevelopmentRecord.topic == topic)
            if not include_dismissed:
                q = q.where(DevelopmentRecord.dismissed.is_(False))
            return list(s.scalars(q))

    def development(self, dev_id: str) -> DevelopmentRecord | None:
        with self.session() as s:
            return s.get(DevelopmentRecord, dev_id)

    def dismiss(self, dev_id: str) -> DevelopmentRecord | None:
        """Mark a development as not new / not relevant; its pending deliveries are dropped."""
        with self.session() as s:
            dev = s.get(DevelopmentRecord, dev_id)
            if dev is None:
                return None
            dev.dismissed = True
            for d in s.scalars(select(Delivery).where(Delivery.development_id == dev_id,
                                                      Delivery.status.in_(CLAIMABLE))):
                d.status, d.last_error = "dead", "dismissed by user"
            return dev

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        """The outbox, oldest first; `status` one of DELIVERY_STATUSES."""
        with self.session() as s:
            q = select(Delivery).order_by(Delivery.id)
            if status:
                q = q.where(Delivery.status == status)
            rows = list(s.scalars(q))
            for r in rows:
                _ = r.development  # loaded while the session is open
            return rows

    def claim_pending(self, mode: str | None = None) -> list[int]:
        """Ids of deliveries that may be claimed (pending or failed), oldest first."""
        with self.session() as s:
            q = select(Delivery.id).where(Delivery.status.in_(CLAIMABLE)).order_by(Delivery.id)
            if mode:
                q = q.where(Delivery.mode == mode)
            return list(s.scalars(q))

    def queue(self, mode: str | None = None) -> list[tuple[int, str]]:
        """(id, route key) of every claimable delivery, oldest first."""
        with self.session() as s:
            q = (select(Delivery.id, Delivery.route_key).where(Delivery.status.in_(CLAIMABLE))
                 .order_by(Delivery.id))
            if mode:
                q = q.where(Delivery.mode == mode)
            return [(i, k) for i, k in s.execute(q)]

    def claim(self, delivery_ids: list[int], token: str) -> list[Delivery]:
        """Atomically move the given deliveries from pending/failed to sending under `token`;
        returns those this caller won (another sender may have won the others).

        Each row is a compare-and-set (`UPDATE ... WHERE id = ? AND status IN (...)`, rowcount
        checked), so two processes never both own a delivery. On PostgreSQL the candidates are
        first locked with FOR UPDATE SKIP LOCKED, so concurrent senders skip each other's rows
        instead of queueing on them. On SQLite each claim is its own short write transaction
        that starts with the UPDATE (no read snapshot to upgrade, so busy_timeout applies)."""
        if not delivery_ids:
            return []
        won: list[int] = []
        if self.engine.dialect.name == "postgresql":
            with self.session() as s:
                ids = list(s.scalars(select(Delivery.id).where(Delivery.id.in_(delivery_ids),
                                                               Delivery.status.in_(CLAIMABLE))
                                     .order_by(Delivery.id).with_for_update(skip_locked=True)))
                won = [i for i in ids if self._claim_one(s, i, token)]
        else:
            for i in delivery_ids:
                with self.session() as s:
                    if self._claim_one(s, i, token):
                        won.append(i)
        return self._load(won)

    @staticmethod
    def _claim_one(s: Session, delivery_id: int, token: str) -> bool:
        result = s.execute(update(Delivery)
                           .where(Delivery.id == delivery_id, Delivery.status.in_(CLAIMABLE))
                           .values(status="sending", claim_token=token, claimed_at=now()))
        return result.rowcount == 1  # type: ignore[attr-defined]

    def _load(self, ids: list[int]) -> list[Delivery]:
        if not ids:
            return []
        with self.session() as s:
            rows = list(s.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)))
            for r in rows:
                _ = r.development
            return rows

    def release_stale(self, timeout_seconds: float, alive: Callable[[str], bool]) -> list[int]:
        """Return crashed claims to the queue: a `sending` row whose claimer is known dead
        (`alive(token)` is False) or whose claim is older than `timeout_seconds`. The send
        may or may not have reached the route (the at-least-once window); the row goes back
        to `failed` with that said in last_error, so it is sent again."""
        limit = now() - timedelta(seconds=timeout_seconds)
        released = []
        with self.session() as s:
            rows = list(s.execute(select(Delivery.id, Delivery.claim_token, Delivery.claimed_at)
                                  .where(Delivery.status == "sending")))
        for delivery_id, token, claimed_at in rows:
            if token and alive(token) and claimed_at is not None and claimed_at > limit:
                continue
            with self.session() as s:
                result = s.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id, Delivery.status == "sending",
                           Delivery.claim_token == token)
                    .values(status="failed", claim_token=None, claimed_at=None,
                            last_error=f"claim by {token} abandoned (sender died or timed out); "
                                       "sending again"))
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    released.append(delivery_id)
        return released

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self.session() as s:
            row = s.get(Delivery, delivery_id)
            if row is not None:
                _ = row.development
            return row

    def mark_sent(self, delivery_ids: list[int], response: str | None = None) -> None:
        """Record a completed send: status sent, the time and what the route answered.
        Called right after each send: the time it takes is the at-least-once window."""
        with self.engine.begin() as s:  # a bare connection: no ORM session on this path
            if self.engine.dialect.name == "postgresql":  # the commit need not wait for the WAL flush
                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            s.execute(update(Delivery).where(Delivery.id.in_(delivery_ids))
                      .values(status="sent", sent_at=now(), last_error=None, response=response,
                              attempts=Delivery.attempts + 1, claim_token=None, claimed_at=None))

    def mark_failed(self, delivery_ids: list[int], error: str, max_attempts: int) -> list[int]:
        """Record a failed send: back to the queue as `failed`, or `dead` after max_attempts.
        Returns the ids that just died."""
        dead = []
        with self.session() as s:
            for d in s.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
                d.attempts += 1
                d.last_error = error
                d.claim_token, d.claimed_at = None, None
                d.status = "dead" if d.attempts >= max_attempts else "failed"
                if d.status == "dead":
                    dead.append(d.id)
        return dead

    def revive_dead(self) -> int:
        """Put dead deliveries back in the queue with a fresh attempt count (after a route was
        fixed); those of dismissed developments stay dead. Returns how many."""
        with self.session() as s:
            rows = s.scalars(select(Delivery).join(DevelopmentRecord)
                             .where(Delivery.status == "dead", DevelopmentRecord.dismissed.is_(False)))
            count = 0
            for d in rows:
                d.status, d.attempts, count = "failed", 0, count + 1
                d.last_error = f"revived after: {d.last_error}" if d.last_error else "revived"
            return count

    def unclaim(self, delivery_ids: list[int], token: str, note: str) -> None:
        """Give back claimed rows that were not attempted (no attempt is counted)."""
        if not delivery_ids:
            return
        with self.session() as s:
            s.execute(update(Delivery)
                      .where(Delivery.id.in_(delivery_ids), Delivery.status == "sending",
                             Delivery.claim_token == token)
                      .values(status="failed", claim_token=None, claimed_at=None, last_error=note))

    def record_run(self, started: datetime, summary: dict[str, object]) -> None:
        with self.session() as s:
            s.add(RunRecord(started_at=started, finished_at=now(), summary=summary))

    # -- maintenance --------------------------------------------------------------------

    def prune(self, older_than_days: int, topic: str | None = None,
              at: datetime | None = None) -> PruneReport:
        """Drop what no pass reads again from rows older than `older_than_days`:

        - the text of off-topic articles (detection never learns from them; URL and text hash
          stay, so the link is not fetched again and a copy under another URL is recognised),
        - the per-article explanations (display only),
        - run records.

        On-topic article text is kept whatever its age: it is the rolling baseline that later
        articles are compared with; developments, links and deliveries are kept too (they
        prevent refetching and alerting twice)."""
        cutoff = (at or now()) - timedelta(days=older_than_days)
        report = PruneReport()
        old = [ArticleRecord.fetched_at < cutoff]
        if topic:
            old.append(ArticleRecord.topic == topic)
        with self.session() as s:
            offtopic = [*old, ArticleRecord.verdict == "offtopic", ArticleRecord.text != ""]
            size = func.coalesce(func.sum(func.length(ArticleRecord.text)), 0)
            report.chars_freed = int(s.scalar(select(size).where(*offtopic)) or 0)
            report.texts_pruned = s.execute(update(ArticleRecord).where(*offtopic).values(text="")).rowcount
            explained = [*old, ArticleRecord.explanation != ""]
            report.explanations_cleared = s.execute(
                update(ArticleRecord).where(*explained).values(explanation="")).rowcount
            if topic is None:
                old_runs = delete(RunRecord).where(RunRecord.started_at < cutoff)
                report.runs_deleted = s.execute(old_runs).rowcount
        return report

    def optimize(self) -> str:
        """Reclaim space and refresh planner statistics: VACUUM + ANALYZE on SQLite, ANALYZE on
        PostgreSQL (autovacuum reclaims space there). Returns what was run."""
        statements = ["VACUUM", "ANALYZE"] if self.engine.dialect.name == "sqlite" else ["ANALYZE"]
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        return " + ".join(statements)

    def counts(self) -> dict[str, Any]:
        """Row counts per table (for maintenance reports and tests)."""
        with self.session() as s:
            return {model.__tablename__: s.scalar(select(func.count()).select_from(model))
                    for model in (FeedState, Link, ArticleRecord, DevelopmentRecord, Delivery, RunRecord)}


class ReadOnlyStore(Store):
    """The state as a dry run sees it: stored articles, handled links and feed validators are
    read, so the dry run shows what the next real pass would do; nothing is written."""

    @classmethod
    def open(cls, url: str) -> ReadOnlyStore | None:
        """None when there is no current state yet (the dry run starts from the baseline)."""
        from monitor.store.migrate import current_revision, head_revision

        if url.startswith("sqlite:///") and url != "sqlite:///:memory:" \
                and not Path(url.removeprefix("sqlite:///")).exists():
            return None
        store = cls(url, upgrade=False)
        try:
            with store.engine.connect() as conn:
                revision = current_revision(conn)
        except SQLAlchemyError:
            revision = None
        if revision != head_revision():
            store.close()
            return None
        return store

    def feed_state(self, topic: str, url: str) -> FeedState:
        with self.session() as s:
            row = s.scalar(select(FeedState).where(FeedState.topic == topic, FeedState.url == url))
        return row or FeedState(topic=topic, url=url, failures=0, last_status="never")

    def save_feed_state(self, state: FeedState) -> None:
        pass

    def save_feed_validators(self, topic: str, url: str, etag: str | None, last_modified: str | None) -> None:
        pass

    def link_failed(self, topic: str, url: str, error: str) -> None:
        pass

    def link_to(self, topic: str, link: str, article_id: int) -> None:
        pass

    def save_article(self, article: ArticleRecord, link: str,
                     development: DevelopmentRecord | None = None,
                     routes: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
                     source_for: str | None = None) -> ArticleRecord | None:
        return article

    def record_run(self, started: datetime, summary: dict[str, object]) -> None:
        pass

    @contextmanager
    def topic_lock(self, topic: str) -> Iterator[None]:
        yield

"""The store: SQLite by default, PostgreSQL with the same code. Each article is processed in
its own transaction, and a development is committed together with its pending deliveries,
so a pass that dies half-way loses nothing and a rerun picks up where it stopped."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.models import (
    ArticleRecord,
    Base,
    Delivery,
    DevelopmentRecord,
    FeedState,
    Link,
    RunRecord,
    now,
)

__all__ = ["ArticleRecord", "Delivery", "DevelopmentRecord", "FeedState", "Link", "RunRecord", "Store",
           "StoreError", "route_key"]


class StoreError(Exception):
    """The state database cannot be opened or used."""


def route_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    def __init__(self, url: str):
        try:
            self.engine = make_engine(url)
            Base.metadata.create_all(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open state database: {' '.join(str(exc).split())[:300]}") from None
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed at the end, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # -- feeds and links -------------------------------------------------------------

    def feed_state(self, topic: str, url: str) -> FeedState:
        with self.session() as s:
            row = s.scalar(select(FeedState).where(FeedState.topic == topic, FeedState.url == url))
            if row is None:
                row = FeedState(topic=topic, url=url)
                s.add(row)
                s.flush()
            return row

    def save_feed_state(self, state: FeedState) -> None:
        with self.session() as s:
            s.merge(state)

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
        with self.session() as s:
            row = s.scalar(select(Link).where(Link.topic == topic, Link.url == url))
            if row is None:
                row = Link(topic=topic, url=url, attempts=0)
                s.add(row)
            row.attempts += 1
            row.error = error

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
        with self.session() as s:
            self._link(s, topic, link, article_id)

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
                     source_for: str | None = None) -> ArticleRecord:
        """Store an article, and its development with one pending delivery per route
        (url, redacted url, mode), or add it as a source of `source_for`, in one transaction."""
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

    def developments(self, topic: str | None = None, include_dismissed: bool = True) -> list[DevelopmentRecord]:
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
                                                      Delivery.status == "pending")):
                d.status, d.last_error = "dead", "dismissed by user"
            return dev

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        with self.session() as s:
            q = select(Delivery).order_by(Delivery.id)
            if status:
                q = q.where(Delivery.status == status)
            rows = list(s.scalars(q))
            for r in rows:
                _ = r.development  # loaded while the session is open
            return rows

    def claim_pending(self, mode: str | None = None) -> list[int]:
        with self.session() as s:
            q = select(Delivery.id).where(Delivery.status == "pending").order_by(Delivery.id)
            if mode:
                q = q.where(Delivery.mode == mode)
            return list(s.scalars(q))

    def delivery(self, delivery_id: int) -> Delivery | None:
        with self.session() as s:
            row = s.get(Delivery, delivery_id)
            if row is not None:
                _ = row.development
            return row

    def mark_sent(self, delivery_ids: list[int]) -> None:
        with self.session() as s:
            for d in s.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
                d.status, d.sent_at, d.last_error = "sent", now(), None
                d.attempts += 1

    def mark_failed(self, delivery_ids: list[int], error: str, max_attempts: int) -> None:
        with self.session() as s:
            for d in s.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
                d.attempts += 1
                d.last_error = error
                if d.attempts >= max_attempts:
                    d.status = "dead"

    def record_run(self, started: datetime, summary: dict[str, object]) -> None:
        with self.session() as s:
            s.add(RunRecord(started_at=started, finished_at=now(), summary=summary))

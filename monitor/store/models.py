"""Tables. Names say what a row is; constraints keep the promises (one article per URL per
topic, one development id, one delivery per development and route): with several workers
these unique constraints are what stops two passes from storing the same thing twice.

Any change here needs a migration in migrations/versions (see migrate.py); the types are
portable (SQLite and PostgreSQL): JSON columns, timezone-aware UTC datetimes, and String
lengths that the config validates (topic names are at most 80 characters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class FeedState(Base):
    """One feed of one topic: HTTP validators and health."""

    __tablename__ = "feeds"
    __table_args__ = (UniqueConstraint("topic", "url"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[str] = mapped_column(String(20), default="never")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Link(Base):
    """A feed entry link we have handled (so it is not fetched again), with the outcome."""

    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("topic", "url"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ArticleRecord(Base):
    """An extracted article and what detection made of it."""

    __tablename__ = "articles"
    # the index serves pruning by age (migration 0002)
    __table_args__ = (UniqueConstraint("topic", "url"),
                      Index("ix_articles_topic_fetched_at", "topic", "fetched_at"))
    id: Mapped[int] = mapped_column(primary_key=True)  # processing order
    topic: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(Text)
    fetched_url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    text_hash: Mapped[str] = mapped_column(String(64), index=True)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    verdict: Mapped[str] = mapped_column(String(20))  # development, source, background, offtopic
    relevance: Mapped[float] = mapped_column(Float, default=0.0)
    explanation: Mapped[str] = mapped_column(Text, default="")
    development_id: Mapped[str | None] = mapped_column(ForeignKey("developments.id"))


class DevelopmentRecord(Base):
    """A new development: what is new, what was known before, evidence and sources."""

    __tablename__ = "developments"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    topic: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    known_before: Mapped[str] = mapped_column(Text, default="")
    known_source: Mapped[str] = mapped_column(Text, default="")
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    names: Mapped[list[str]] = mapped_column(JSON, default=list)  # names new with it (for merging)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.5)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dismissed: Mapped[bool] = mapped_column(Boolean, default=False)
    deliveries: Mapped[list[Delivery]] = relationship(back_populates="development")

    @property
    def corroboration(self) -> int:
        return len(self.sources)


class Delivery(Base):
    """The outbox: one row per development and route, sent at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("development_id", "route_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    development_id: Mapped[str] = mapped_column(ForeignKey("developments.id"))
    route_key: Mapped[str] = mapped_column(String(64))  # hash of the route URL: no secrets stored
    route: Mapped[str] = mapped_column(Text)  # redacted, for display
    mode: Mapped[str] = mapped_column(String(10), default="instant")
    # pending (never tried), failed (tried, will be retried), sending (claimed by a sender),
    # sent, dead (gave up after alerts.max_attempts, or dismissed)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)  # redacted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(120))  # host/pid/nonce of the sender
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str | None] = mapped_column(Text)  # what the route answered (redacted)
    development: Mapped[DevelopmentRecord] = relationship(back_populates="deliveries")

    @property
    def key(self) -> str:
        """Idempotency key: development + route."""
        return f"{self.development_id}:{self.route_key}"


class RunRecord(Base):
    """One monitoring pass and its summary."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

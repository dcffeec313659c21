"""Feeds: feedparser on bytes we fetched ourselves, never on a URL.

DOCTYPE and entity declarations are removed before parsing: feedparser has no limit of its
own, and a small feed with nested entities can cost minutes and gigabytes.
"""

from __future__ import annotations

import re
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser

DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.S | re.I)
ENTITY_DECL = re.compile(rb"<!ENTITY[^>]*>", re.S | re.I)


class FeedError(Exception):
    """A body that is not a feed at all."""


@dataclass(frozen=True)
class FeedEntry:
    url: str
    title: str
    summary: str
    published: datetime | None
    guid: str


@dataclass
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    warning: str | None  # feedparser's bozo reason for a feed parsed only in part


def defuse(body: bytes) -> bytes:
    """Remove DOCTYPE blocks and entity declarations (entity bombs, external entities)."""
    return ENTITY_DECL.sub(b"", DOCTYPE.sub(b"", body))


def _when(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(timegm(value), tz=UTC)
    return None


def parse_feed(body: bytes, base_url: str = "", content_type: str = "") -> ParsedFeed:
    """Entries oldest first (undated ones keep feed order, after the dated ones)."""
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(defuse(body), response_headers=headers, sanitize_html=True,
                              resolve_relative_uris=True)
    entries: list[FeedEntry] = []
    for e in parsed.entries:
        url = (e.get("link") or "").strip()
        if not url:
            continue
        entries.append(FeedEntry(url=url, title=" ".join((e.get("title") or "").split()),
                                 summary=e.get("summary") or "", published=_when(e),
                                 guid=e.get("id") or url))
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"malformed feed ({type(exc).__name__}: {' '.join(str(exc).split())})"
        if not entries:
            raise FeedError(warning)
    if not entries and not parsed.get("version"):
        raise FeedError("not a feed (no RSS/Atom structure found)")
    # feeds list newest first; we process in publication order
    dated = sorted((e for e in entries if e.published), key=lambda e: e.published or datetime.min)
    undated = [e for e in entries if not e.published][::-1]
    return ParsedFeed(title=parsed.feed.get("title", ""), entries=dated + undated, warning=warning)

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

DECL_START = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
DECL_STOP = re.compile(rb"[\"'\[\]]")  # inside an internal subset: a ">" ends nothing
DECL_STOP_TOP = re.compile(rb"[\"'\[>]")  # outside: a stray "]" means nothing
CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]{1,12}|[0-9]{1,12});")
XML_DECL = re.compile(rb"^\s*<\?xml[^>]{0,300}\?>")
NOT_FEED_TYPES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
                  "application/gzip", "application/x-gzip", "application/octet-stream")


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


def _declaration_end(body: bytes, pos: int) -> int:
    """Index just past the `>` closing a declaration that starts before `pos`, skipping quoted
    strings and a bracketed internal subset; the end of the body when it never closes (or
    nests brackets deeper than any real DTD does)."""
    depth = 0
    while (m := (DECL_STOP if depth else DECL_STOP_TOP).search(body, pos)) is not None:
        char = m.group()
        if char in (b'"', b"'"):
            close = body.find(char, m.end())
            if close < 0:
                break
            pos = close + 1
            continue
        pos = m.end()
        if char == b"[":
            depth += 1
            if depth > 8:
                break
        elif char == b"]":
            depth -= 1
        else:  # ">" outside the internal subset
            return pos
    return len(body)


def defuse(body: bytes) -> bytes:
    """Remove DOCTYPE blocks and entity declarations (entity bombs, external entities).

    One forward scan, so the cost is linear whatever the input. Declarations are cut whole
    (an unclosed one takes the rest of the body with it) and replaced by a space, so cutting
    one can never join two fragments into a new one (`<!DOC` + `<!ENTITY x>` + `TYPE`)."""
    if DECL_START.search(body) is None:
        return body
    out: list[bytes] = []
    pos = 0
    while (m := DECL_START.search(body, pos)) is not None:
        out.append(body[pos:m.start()])
        pos = _declaration_end(body, m.end())
    out.append(body[pos:])
    return b" ".join(out)


def plausible_feed_type(content_type: str) -> bool:
    """False for media types that are certainly not a feed (images, archives, PDFs)."""
    return not content_type.lower().startswith(NOT_FEED_TYPES)


def _when(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(timegm(value), tz=UTC)
    return None


def _charref(m: re.Match[bytes]) -> bytes:
    digits = m.group(1)
    try:
        code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    except ValueError:
        return b"&#xFFFD;"
    return m.group() if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else b"&#xFFFD;"


def fix_charrefs(body: bytes) -> bytes:
    """Replace character references to no character (&#x110000;, surrogates): feedparser's
    lenient parser raises on them instead of reporting a malformed feed."""
    return CHARREF.sub(_charref, body)


def _feedparser(body: bytes, headers: dict[str, str]) -> feedparser.FeedParserDict:
    """feedparser, which has crashed on odd bytes (a non-ASCII encoding name in the XML
    declaration): on any exception, once more on the body as plain UTF-8, else FeedError."""
    try:
        return feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # a bug in the parser must cost one feed, not the pass
        first = exc
    plain = XML_DECL.sub(b"", body.decode("utf-8", errors="replace").encode("utf-8"), count=1)
    headers = {k: v for k, v in headers.items() if k != "content-type"}
    try:
        return feedparser.parse(plain, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception:
        raise FeedError(f"feed parser failed ({type(first).__name__}: {' '.join(str(first).split())[:200]})") from None


def parse_feed(body: bytes, base_url: str = "", content_type: str = "") -> ParsedFeed:
    """Entries oldest first (undated ones keep feed order, after the dated ones).

    `content_type` is the response's header (its charset is a hint to feedparser, which also
    reads the XML declaration and falls back when the bytes do not decode)."""
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    parsed = _feedparser(fix_charrefs(defuse(body)), headers)
    entries: list[FeedEntry] = []
    for e in parsed.entries:
        url = (e.get("link") or "").strip()
        if not url:
            continue
        entries.append(FeedEntry(url=url, title=" ".join((e.get("title") or "").split()),
                                 summary=e.get("summary") or "", published=_when(e),
                                 guid=e.get("id") or url))
    warning = None
    exc = parsed.get("bozo_exception")
    # a missing or non-XML Content-Type is no defect of the feed itself
    if parsed.get("bozo") and not isinstance(exc, feedparser.NonXMLContentType):
        warning = f"malformed feed ({type(exc).__name__}: {' '.join(str(exc).split())})"
        if not entries:
            raise FeedError(warning)
    if not entries and not parsed.get("version"):
        raise FeedError("not a feed (no RSS/Atom structure found)")
    # feeds list newest first; we process in publication order
    dated = sorted((e for e in entries if e.published), key=lambda e: e.published or datetime.min)
    undated = [e for e in entries if not e.published][::-1]
    return ParsedFeed(title=parsed.feed.get("title", ""), entries=dated + undated, warning=warning)

"""Extraction: article HTML in, text and metadata out (trafilatura).

Pages over the size cap, or nested deeper than any real article, are refused with a reason
before the parser sees them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from dateutil import parser as dateparser

MAX_HTML_BYTES = 3_000_000
MAX_DEPTH = 400
OPEN_TAG = re.compile(rb"<(?!/|!|\?|br\b|img\b|meta\b|link\b|input\b|hr\b)[a-zA-Z]")
CLOSE_TAG = re.compile(rb"</[a-zA-Z]")


class ExtractError(Exception):
    """A page we will not or cannot read; the message says why."""


@dataclass
class Article:
    url: str  # canonical URL when the page names one, else the fetched URL
    fetched_url: str
    title: str
    text: str
    published: datetime | None
    description: str = ""

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(" ".join(self.text.split()).lower().encode()).hexdigest()


def nesting_depth(html: bytes, limit: int = MAX_DEPTH) -> int:
    """A cheap upper bound of tag nesting (counts opens minus closes), stopping at `limit`."""
    depth = peak = 0
    for m in re.finditer(rb"<(/?)[a-zA-Z]", html):
        depth += -1 if m.group(1) else 1
        peak = max(peak, depth)
        if peak >= limit:
            break
    return peak


def decode(html: bytes, charset: str | None) -> str:
    for enc in filter(None, (charset, "utf-8")):
        try:
            return html.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return html.decode("utf-8", errors="replace")


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = dateparser.parse(value)
    except (ValueError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def extract_article(html: bytes, url: str, charset: str | None = None,
                    max_bytes: int = MAX_HTML_BYTES) -> Article:
    """Title, main text, date and canonical URL of one page."""
    if len(html) > max_bytes:
        raise ExtractError(f"page of {len(html)} bytes is over the extraction cap of {max_bytes}")
    # Tags that never close (<p>, <li>) inflate the count, so the limit is generous.
    if nesting_depth(html, MAX_DEPTH * 4) >= MAX_DEPTH * 4:
        raise ExtractError(f"HTML nested deeper than {MAX_DEPTH * 4} levels")
    text = decode(html, charset)
    doc = None
    # Precision first (least boilerplate); some templates (table layouts, <br> paragraphs)
    # only yield their text to the more lenient settings.
    for mode in ({"favor_precision": True}, {}, {"favor_recall": True}):
        doc = trafilatura.bare_extraction(text, url=url, with_metadata=True, include_comments=False,
                                          include_tables=False, deduplicate=False, **mode)
        if doc is not None and len((doc.text or "").split()) >= 40:
            break
    if doc is None or not (doc.text or "").strip():
        raise ExtractError("no article text found")
    canonical = doc.url if doc.url and doc.url.startswith(("http://", "https://")) else url
    return Article(url=canonical, fetched_url=url, title=" ".join((doc.title or "").split()),
                   text=doc.text, published=_date(doc.date), description=doc.description or "")

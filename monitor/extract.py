"""Extraction: article HTML in, text and metadata out (trafilatura).

Pages over the size cap, or nested deeper than any real article, are refused with a reason
before the parser sees them.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape as html_unescape
from urllib.parse import urljoin

from dateutil import parser as dateparser

MAX_HTML_BYTES = 3_000_000
MAX_DEPTH = 400
# Extraction time grows faster than linearly with the element count: a page of inline
# elements takes ~0.8 s at 5,000, ~3 s at 10,000 and ~10 s at 20,000 (up to three trafilatura
# passes); the largest of 168 real pages in shared/ has ~4,600.
MAX_ELEMENTS = 10_000
TAG = re.compile(rb"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)([^<>]*)")  # [^<>] keeps the scan linear
VOID = frozenset(b"area base br col embed hr img input link meta param source track wbr".split())
# end tag optional in HTML: never counted as nesting, since pages rarely close them
OPTIONAL_END = frozenset(b"p li dt dd tr td th option optgroup thead tbody tfoot colgroup rt rp html head "
                         b"body".split())
META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{1,40})""", re.I)
# Encodings a web page may declare (WHATWG); anything else (utf-7, Python's unicode_escape...)
# is ignored rather than trusted.
WEB_ENCODINGS = frozenset(codecs.lookup(name).name for name in (
    "utf-8", "utf-16-le", "utf-16-be", "ibm866", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5",
    "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15",
    "iso8859-16", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874", "cp1250", "cp1251", "cp1252",
    "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258", "gbk", "gb18030", "gb2312", "big5",
    "big5hkscs", "euc-jp", "iso2022-jp", "shift-jis", "cp932", "euc-kr", "cp949"))


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


def _trafilatura():  # type: ignore[no-untyped-def]
    """trafilatura, imported on first use: a pass with nothing new never extracts. Its
    warnings ("discarding data" when a mode finds too little) are ours to handle: the next
    mode is tried, and a page with no text becomes one error line in the pass summary."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    return trafilatura


def nesting_depth(html: bytes, limit: int = MAX_DEPTH) -> int:
    """A cheap upper bound of tag nesting (opens minus closes), stopping at `limit`.

    Void elements, self-closing tags and elements whose end tag is optional (p, li, td...)
    are not counted, so ordinary sloppy HTML does not look deep."""
    return page_shape(html, limit, 10**9)[1]


def page_shape(html: bytes, max_depth: int, max_elements: int) -> tuple[int, int]:
    """(elements, peak nesting) of a page, counting stops once either limit is reached."""
    depth = peak = elements = 0
    for m in TAG.finditer(html):
        if m.group(1):
            name = m.group(2).lower()
            if name not in VOID and name not in OPTIONAL_END:
                depth = max(0, depth - 1)
            continue
        elements += 1
        name = m.group(2).lower()
        if name in VOID or name in OPTIONAL_END or m.group(3).rstrip().endswith(b"/"):
            continue
        depth += 1
        peak = max(peak, depth)
        if peak >= max_depth or elements >= max_elements:
            break
    return elements, peak


def check_page(html: bytes, max_bytes: int = MAX_HTML_BYTES, max_elements: int = MAX_ELEMENTS,
               max_depth: int = MAX_DEPTH * 4) -> None:
    """Refuse, with the reason, a page too big, too many-noded or too deep to extract safely."""
    if len(html) > max_bytes:
        raise ExtractError(f"page of {len(html)} bytes is over the extraction cap of {max_bytes} "
                           "(fetch.max_page_bytes)")
    elements, depth = page_shape(html, max_depth, max_elements)
    if elements >= max_elements:
        raise ExtractError(f"page has more than {max_elements} HTML elements (fetch.max_page_elements)")
    if depth >= max_depth:
        raise ExtractError(f"HTML nested deeper than {max_depth} levels (fetch.max_page_depth)")


META_TAG = re.compile(rb"<meta\b[^<>]{0,500}>", re.I)
REFRESH = re.compile(rb"""http-equiv\s*=\s*["']?refresh""", re.I)
REFRESH_URL = re.compile(rb"""content\s*=\s*["']?\s*\d*(?:\.\d*)?\s*[;,]\s*url\s*=\s*["']?([^"'\s>]+)""", re.I)
REDIRECT_PAGE_MAX = 20_000  # redirector pages are tiny; a big page with a refresh is an article


def redirect_target(html: bytes, base: str) -> str | None:
    """Where a small redirector page (<meta http-equiv="refresh" content="0;url=...">) sends
    the reader, as an absolute http(s) URL; None for anything else."""
    if len(html) > REDIRECT_PAGE_MAX:
        return None
    for tag in META_TAG.finditer(html):
        found = REFRESH.search(tag.group()) and REFRESH_URL.search(tag.group())
        if found:
            target = urljoin(base, html_unescape(found.group(1).decode("ascii", errors="ignore")))
            if target.startswith(("http://", "https://")) and target != base:
                return target
    return None


def _encoding(name: str | bytes | None) -> str | None:
    """Python's name for a declared charset, or None when unknown or not a web encoding."""
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", errors="ignore")
    try:
        found = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    if found in ("latin-1", "ascii", "iso8859-1"):  # browsers read these labels as windows-1252
        return "cp1252"
    return found if found in WEB_ENCODINGS else None


def decode(html: bytes, charset: str | None) -> str:
    """Text of a page, never raising: a BOM wins, then valid UTF-8 (servers often declare
    latin-1 by default for UTF-8 pages), then the header's charset, then a <meta> charset,
    then windows-1252 with undecodable bytes replaced."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                     (codecs.BOM_UTF16_BE, "utf-16-be")):
        if html.startswith(bom):
            return html[len(bom):].decode(enc, errors="replace")
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    meta = META_CHARSET.search(html[:4096])
    for enc in (_encoding(charset), _encoding(meta.group(1) if meta else None)):
        if enc and enc != "utf-8":
            try:
                return html.decode(enc)
            except UnicodeDecodeError:
                continue
    return html.decode("cp1252", errors="replace")


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = dateparser.parse(value)
    except (ValueError, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def extract_article(html: bytes, url: str, charset: str | None = None,
                    max_bytes: int = MAX_HTML_BYTES, max_elements: int = MAX_ELEMENTS,
                    max_depth: int = MAX_DEPTH * 4) -> Article:
    """Title, main text, date and canonical URL of one page (ExtractError says why not)."""
    check_page(html, max_bytes, max_elements, max_depth)
    text = decode(html, charset)
    doc = None
    # Precision first (least boilerplate); some templates (table layouts, <br> paragraphs)
    # only yield their text to the more lenient settings.
    for mode in ({"favor_precision": True}, {}, {"favor_recall": True}):
        doc = _trafilatura().bare_extraction(text, url=url, with_metadata=True, include_comments=False,
                                          include_tables=False, deduplicate=False, **mode)
        if doc is not None and len((doc.text or "").split()) >= 40:
            break
    if doc is None or not (doc.text or "").strip():
        raise ExtractError("no article text found")
    canonical = doc.url if doc.url and doc.url.startswith(("http://", "https://")) else url
    return Article(url=canonical, fetched_url=url, title=" ".join((doc.title or "").split()),
                   text=doc.text, published=_date(doc.date), description=doc.description or "")

"""Extraction on hostile pages: too big, too many elements, nested 100,000 deep, mis-encoded."""

from __future__ import annotations

import pytest

from monitor.config import FetchSettings
from monitor.extract import MAX_ELEMENTS, ExtractError, check_page, decode, extract_article, page_shape
from monitor.feeds import FeedEntry
from monitor.fetch import Fetcher
from monitor.pipeline import fetch_article

from .conftest import ROOT, LocalServer, Route, article_html
from .hostile import run_bounded

PARAS = ["The regional council approved the new tram line on Monday after a debate that lasted most of "
         "the afternoon, with 31 members voting in favour and 12 against.",
         "Construction is due to start next spring and the first trams should run in 2027, the council's "
         "transport committee said in a statement published after the vote.",
         "Residents along the planned route had asked for more noise protection, and the council agreed "
         "to fund sound barriers near the two schools on the line."]
CORPUS = ROOT.parent / "shared" / "corpus" / "html"


def test_page_nested_100000_deep_is_refused_with_a_reason() -> None:
    html = b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>"
    with pytest.raises(ExtractError, match=r"nested deeper than 1600 levels \(fetch.max_page_depth\)"):
        run_bounded(lambda: extract_article(html, "http://127.0.0.1/deep"), 30)


def test_page_with_too_many_elements_is_refused() -> None:
    html = b"<html><body><article><p>" + b"<span>a</span>" * (MAX_ELEMENTS + 10) + b"</p></article></body></html>"
    with pytest.raises(ExtractError, match=r"more than 10000 HTML elements"):
        extract_article(html, "http://127.0.0.1/wide")


def test_page_over_the_size_cap_is_refused() -> None:
    with pytest.raises(ExtractError, match=r"over the extraction cap of 100000 \(fetch.max_page_bytes\)"):
        extract_article(b"<p>" + b"x" * 200_000, "http://127.0.0.1/big", max_bytes=100_000)


def test_sloppy_but_ordinary_html_is_not_mistaken_for_deep() -> None:
    """Unclosed <p>/<li>/<td>, void and self-closing tags are everywhere in real pages."""
    body = b"".join(b"<p>Line %d<br><img src=x.png><input/><li>item<td>cell" % i for i in range(3000))
    elements, depth = page_shape(b"<html><body><div>" + body + b"</div></body></html>", 1600, 10**6)
    assert elements > 15_000 and depth <= 2


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")
def test_real_pages_pass_the_checks() -> None:
    pages = sorted(CORPUS.glob("*.html"))
    assert len(pages) > 100
    for page in pages:
        check_page(page.read_bytes())  # raises on a false positive


def test_unclosed_tags_do_not_make_the_scan_quadratic() -> None:
    html = b"<a" * 1_000_000  # tags that never end
    assert run_bounded(lambda: page_shape(html, 10**9, 10**9), 20) == (1_000_000, 1_000_000)


# -- charsets --------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "declared", "text"), [
    ("Café crème à Zürich".encode("cp1252"), None, "Café crème à Zürich"),  # legacy, undeclared
    ("Café".encode(), "iso-8859-1", "Café"),  # a wrong default header on a UTF-8 page
    ("Café".encode("cp1252"), "utf-8", "Café"),  # declared UTF-8, sent windows-1252
    (b'<meta charset="koi8-r">' + "Кремль".encode("koi8-r"), None, "Кремль"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">' + "東京".encode("shift_jis"),
     None, "東京"),
    ("Ünïcödé".encode("utf-16"), None, "Ünïcödé"),  # BOM
    ("Straße".encode("cp1252"), "x-no-such-charset", "Straße"),
])
def test_charsets_are_declared_sniffed_or_guessed(raw: bytes, declared: str | None, text: str) -> None:
    assert text in decode(raw, declared)


@pytest.mark.parametrize("declared", ["utf-7", "unicode_escape", "rot13", "base64", "idna", None])
def test_dangerous_or_odd_charsets_are_ignored_and_bad_bytes_replaced(declared: str | None) -> None:
    raw = b"+ADw-script+AD4- \\u0041 Caf\xe9 \x81\x8d\x8f\x90\x9d \xff"
    text = decode(raw, declared)
    assert "<script>" not in text and "\\u0041" in text and "Café" in text


def test_mojibake_page_extracts_readable_text(http_server: LocalServer) -> None:
    """A page sent as windows-1252 with a UTF-8 header still reads right; one with broken bytes
    still extracts."""
    page = article_html("Zürich tram line approved", [*PARAS, "Die Straße wird verbreitert, sagte der Rat."])
    http_server.routes["/a"] = Route(200, page.decode().encode("cp1252"), {"Content-Type": "text/html; charset=utf-8"})
    broken = page.replace(b"Monday", b"Mon\xff\xfe\xc3day")
    http_server.routes["/b"] = Route(200, broken, {"Content-Type": "text/html; charset=utf-8"})
    with Fetcher(FetchSettings(allow_private_addresses=True, timeout=3, min_delay=0, respect_robots=False)) as f:
        a = fetch_article(f, FeedEntry(http_server.url("/a"), "", "", None, "a"))
        b = fetch_article(f, FeedEntry(http_server.url("/b"), "", "", None, "b"))
    assert not isinstance(a, str) and "Straße" in a.text and a.title == "Zürich tram line approved"
    assert not isinstance(b, str) and "tram line" in b.text


def test_deep_page_in_a_pass_is_an_article_error_not_a_crash(http_server: LocalServer) -> None:
    http_server.routes["/deep"] = Route(200, b"<html><body>" + b"<b>" * 100_000, {"Content-Type": "text/html"})
    http_server.routes["/pdf"] = Route(200, b"%PDF-1.4", {"Content-Type": "application/pdf"})
    with Fetcher(FetchSettings(allow_private_addresses=True, timeout=3, min_delay=0, respect_robots=False,
                               max_page_depth=500)) as f:
        deep = fetch_article(f, FeedEntry(http_server.url("/deep"), "", "", None, "d"))
        pdf = fetch_article(f, FeedEntry(http_server.url("/pdf"), "", "", None, "p"))
    assert deep == "HTML nested deeper than 500 levels (fetch.max_page_depth)"
    assert pdf == "not a web page (application/pdf)"


def test_canonical_url_wins_over_the_fetched_url() -> None:
    html = article_html("Tram line approved", PARAS, canonical="https://news.example/tram-line")
    article = extract_article(html, "http://127.0.0.1/redirected?utm_source=x")
    assert (article.url, article.fetched_url) == ("https://news.example/tram-line",
                                                  "http://127.0.0.1/redirected?utm_source=x")


"""Feed parsing on hostile bytes: entity bombs, external entities, broken and mis-encoded feeds,
and the back-off of a feed that keeps failing."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.config import FetchSettings
from monitor.feeds import FeedError, ParsedFeed, defuse, parse_feed, plausible_feed_type
from monitor.fetch import Fetcher
from monitor.pipeline import BACKOFF_MAX, poll_feed
from monitor.store import Store
from monitor.store.models import now

from .conftest import LocalServer, Route, rss, write_config
from .hostile import run_bounded

ITEM = b"<item><title>%s</title><link>http://127.0.0.1/a%d</link><guid>g%d</guid></item>"


def feed(items: bytes, prolog: bytes = b'<?xml version="1.0" encoding="utf-8"?>\n', title: bytes = b"T") -> bytes:
    return prolog + b'<rss version="2.0"><channel><title>' + title + b"</title>" + items + b"</channel></rss>"


def billion_laughs(levels: int = 10) -> bytes:
    """The classic: 10 levels of ten references each, 10^9 'lol's once expanded (3 GB)."""
    decls = b"".join(b'  <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, levels))
    return b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  <!ENTITY lol0 "lol">\n' + decls + b"]>\n"


def parse_with_peak(body: bytes) -> tuple[ParsedFeed, int]:
    tracemalloc.start()
    try:
        parsed = run_bounded(lambda: parse_feed(body), 30)
        return parsed, tracemalloc.get_traced_memory()[1]  # type: ignore[return-value]
    finally:
        tracemalloc.stop()


# -- entity declarations ----------------------------------------------------------------------

def test_billion_laughs_feed_costs_nothing() -> None:
    body = feed(ITEM % (b"Item &lol9;", 1, 1), prolog=billion_laughs(), title=b"Bomb &lol9;")
    parsed, peak = parse_with_peak(body)
    assert [e.url for e in parsed.entries] == ["http://127.0.0.1/a1"]
    assert len(parsed.title) < 100 and len(parsed.entries[0].title) < 100  # nothing was expanded
    assert "undefined entity" in (parsed.warning or "")
    assert peak < 50 * 2**20  # expanded, it would be gigabytes


def test_quadratic_blowup_feed_is_not_expanded() -> None:
    """One 100 kB entity referenced 10,000 times (1 GB) slips under naive nesting limits."""
    prolog = b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "' + b"x" * 100_000 + b'">]>\n'
    parsed, peak = parse_with_peak(feed(ITEM % (b"&big;" * 10_000, 1, 1), prolog=prolog))
    assert len(parsed.entries) == 1 and "x" * 1000 not in parsed.entries[0].title
    assert peak < 50 * 2**20


def test_external_entities_are_not_read() -> None:
    prolog = b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    parsed = parse_feed(feed(ITEM % (b"Leak &xxe;", 1, 1), prolog=prolog))
    assert "root:" not in parsed.entries[0].title and "root:" not in parsed.title


def test_defuse_cuts_declarations_whole_and_never_rejoins_them() -> None:
    assert defuse(b"<rss>plain</rss>") == b"<rss>plain</rss>"
    assert defuse(b'<!DOCTYPE a [<!ENTITY x "]>">]><rss/>') == b" <rss/>"  # a quoted "]>" does not end it
    joined = defuse(b"<!DOC<!ENTITY x 'y'>TYPE z [<!ENTITY a 'b'>]><rss/>")
    assert b"<!DOCTYPE" not in joined.upper() and b"<!ENTITY" not in joined.upper()
    assert defuse(b"<rss><!doctype x [ never closed") == b"<rss> "  # unclosed: the rest goes


@pytest.mark.parametrize("unit", [b"<!DOCTYPE [", b"<!DOCTYPE x '", b'<!ENTITY "', b"<!DOCTYPE ]", b"<!ENTITY ["])
def test_defuse_is_linear_on_pathological_input(unit: bytes) -> None:
    """Repeated unclosed starts made the old regex quadratic (minutes on 2 MB)."""
    body = unit * (2_000_000 // len(unit))
    cleaned = run_bounded(lambda: defuse(body), 20)
    assert b"<!DOCTYPE" not in cleaned.upper() and b"<!ENTITY" not in cleaned.upper()  # type: ignore[union-attr]


def test_harmless_doctype_feed_still_parses() -> None:
    prolog = (b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
              b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n')
    parsed = parse_feed(feed(ITEM % (b"One", 1, 1) + ITEM % (b"Two", 2, 2), prolog=prolog))
    assert sorted(e.title for e in parsed.entries) == ["One", "Two"]
    assert parsed.warning is None


# -- broken feeds ----------------------------------------------------------------------------

def test_truncated_feed_is_parsed_as_far_as_it_goes() -> None:
    whole = rss([{"link": f"http://127.0.0.1/a{i}", "title": f"Item {i}"} for i in range(5)])
    cut = whole[: whole.index(b"http://127.0.0.1/a3")]
    parsed = parse_feed(cut)
    assert {"http://127.0.0.1/a0", "http://127.0.0.1/a1", "http://127.0.0.1/a2"} <= {e.url for e in parsed.entries}
    assert parsed.warning and parsed.warning.startswith("malformed feed")


@pytest.mark.parametrize("body", [b"", b"<html><head><title>Home</title></head><body><p>Just a page</p></body></html>",
                                  b"\x00\xff" * 500, b"<rss version='2.0'><channel><title>x</title>"])
@pytest.mark.parametrize("ctype", ["", "text/html; charset=utf-8"])
def test_not_a_feed_is_an_error_not_a_crash(body: bytes, ctype: str) -> None:
    with pytest.raises(FeedError):
        parse_feed(body, content_type=ctype)


def test_empty_but_valid_feed_is_fine() -> None:
    parsed = parse_feed(feed(b""), content_type="text/xml")
    assert (parsed.entries, parsed.warning, parsed.title) == ([], None, "T")


# -- charsets --------------------------------------------------------------------------------

def test_declared_legacy_encoding_is_decoded() -> None:
    body = feed(ITEM % ("Café à Zürich".encode("cp1252"), 1, 1),
                prolog=b'<?xml version="1.0" encoding="windows-1252"?>\n')
    assert parse_feed(body).entries[0].title == "Café à Zürich"


def test_charset_from_the_http_header_is_used() -> None:
    body = feed(ITEM % ("Кремль заявил".encode("koi8-r"), 1, 1), prolog=b'<?xml version="1.0"?>\n')
    parsed = parse_feed(body, content_type="application/rss+xml; charset=koi8-r")
    assert parsed.entries[0].title == "Кремль заявил"


@pytest.mark.parametrize("prolog", [b'<?xml version="1.0" encoding="utf-8"?>\n',
                                    b'<?xml version="1.0" encoding="x-no-such-charset"?>\n',
                                    b'<?xml version="1.0" encoding="utf-7"?>\n'])
def test_invalid_bytes_and_bogus_charsets_never_crash(prolog: bytes) -> None:
    body = feed(ITEM % (b"Caf\xe9 \xff\xfe broken \xc3", 1, 1) + ITEM % (b"Fine", 2, 2), prolog=prolog)
    parsed = parse_feed(body)
    assert sorted(e.url for e in parsed.entries) == ["http://127.0.0.1/a1", "http://127.0.0.1/a2"]
    assert "Fine" in [e.title for e in parsed.entries]


@pytest.mark.parametrize("body", [
    feed(ITEM % (b"Bad &#x110000; ref &#xD800; &#99999999999; ok", 1, 1)),  # feedparser: chr() ValueError
    feed(ITEM % (b"One", 1, 1), prolog=b'<?xml version="1.0" encoding="utf\xe1-8"?>'),  # UnicodeDecodeError
    feed(ITEM % (b"One", 1, 1), prolog=b'<?xml version="1.0" encoding="\x9e"?>'),
])
def test_inputs_that_crashed_feedparser_are_parsed(body: bytes) -> None:
    """Found by bench/fuzz_parsers.py: feedparser raised instead of reporting a bad feed."""
    parsed = parse_feed(body, content_type="text/xml; charset=koi8-r")
    assert [e.url for e in parsed.entries] == ["http://127.0.0.1/a1"]


def test_feed_content_types() -> None:
    for ok in ("application/rss+xml", "text/xml", "application/xml", "text/html", "text/plain", ""):
        assert plausible_feed_type(ok), ok
    for bad in ("image/png", "video/mp4", "application/pdf", "application/zip", "application/octet-stream"):
        assert not plausible_feed_type(bad), bad


# -- a feed that keeps failing ----------------------------------------------------------------

def test_failing_feed_backs_off_exponentially_and_is_reported(http_server: LocalServer, tmp_path: Path) -> None:
    http_server.routes["/feed.xml"] = Route(500, b"oops")
    url = http_server.url("/feed.xml")
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    fetcher = Fetcher(FetchSettings(allow_private_addresses=True, timeout=2, min_delay=0))
    try:
        reports = [poll_feed(fetcher, store, "t", url)[0] for _ in range(4)]
        assert [r.status for r in reports] == ["error", "error", "error", "backing off"]
        assert http_server.gets("/feed.xml") == 3  # the fourth poll sent nothing
        assert "HTTP 500" in reports[3].error and "next try" in reports[3].error
        state = store.feed_state("t", url)
        assert state.failures == 3 and state.next_try_at is not None
        first_delay = state.next_try_at - now()

        state.failures, state.next_try_at = 30, None  # a feed dead for days: the delay is capped
        store.save_feed_state(state)
        poll_feed(fetcher, store, "t", url)
        capped = store.feed_state("t", url).next_try_at - now()  # type: ignore[operator]
        assert first_delay < capped <= BACKOFF_MAX + timedelta(seconds=5)
        assert capped > BACKOFF_MAX - timedelta(minutes=1)

        http_server.routes["/feed.xml"] = Route(200, rss([{"link": "http://127.0.0.1/a"}]))
        state = store.feed_state("t", url)
        state.next_try_at = None  # time passes
        store.save_feed_state(state)
        assert poll_feed(fetcher, store, "t", url)[0].status == "ok"
        healed = store.feed_state("t", url)
        assert (healed.failures, healed.next_try_at, healed.last_error) == (0, None, None)
    finally:
        fetcher.close()
        store.close()


def test_unchanged_feed_costs_one_small_request_per_poll(http_server: LocalServer, tmp_path: Path) -> None:
    body = rss([{"link": f"http://127.0.0.1/a{i}", "title": f"Item {i}"} for i in range(20)])
    http_server.routes["/feed.xml"] = Route(200, body, {"ETag": '"v7"', "Content-Type": "application/rss+xml"})
    url = http_server.url("/feed.xml")
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with Fetcher(FetchSettings(allow_private_addresses=True, timeout=2, min_delay=0)) as fetcher:
            first, entries = poll_feed(fetcher, store, "t", url)
            # the pass saves the validators once the entries are handled (crash safety)
            store.save_feed_validators("t", url, first.etag, first.last_modified)
            second, again = poll_feed(fetcher, store, "t", url)
        assert (first.status, len(entries)) == ("ok", 20)
        assert (second.status, again, second.error) == ("not modified", [], "")
        assert http_server.requests[1][2].get("If-None-Match") == '"v7"'
        assert store.feed_state("t", url).etag == '"v7"'
    finally:
        store.close()


def test_monitor_feeds_shows_the_failing_feed(http_server: LocalServer, tmp_path: Path) -> None:
    from monitor.cli import app

    http_server.routes["/feed.xml"] = Route(404, b"gone")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("Known things.")
    path = write_config(tmp_path, [{"name": "t", "baseline": str(seeds), "feeds": [http_server.url("/feed.xml")]}])
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--config", str(path), "--plain"]).exit_code == 0
    result = runner.invoke(app, ["feeds", "--config", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "HTTP 404" in result.output and "error" in result.output


def test_an_unexpected_parser_bug_costs_one_feed_not_the_pass(http_server: LocalServer, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: no known input crashes parse_feed any more, so a crash is simulated."""
    import monitor.pipeline as pipeline

    def broken(body: bytes, base_url: str = "", content_type: str = "") -> ParsedFeed:
        if b"poison" in body:
            raise RuntimeError("parser bug")
        return parse_feed(body, base_url, content_type)

    monkeypatch.setattr(pipeline, "parse_feed", broken)
    http_server.routes["/bad.xml"] = Route(200, rss([{"link": "http://127.0.0.1/poison"}]))
    http_server.routes["/good.xml"] = Route(200, rss([{"link": "http://127.0.0.1/fine"}]))
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with Fetcher(FetchSettings(allow_private_addresses=True, timeout=2)) as fetcher:
            bad = poll_feed(fetcher, store, "t", http_server.url("/bad.xml"))
            good = poll_feed(fetcher, store, "t", http_server.url("/good.xml"))
        assert (bad[0].status, bad[0].error, bad[1]) == ("error", "unexpected RuntimeError: parser bug", [])
        assert store.feed_state("t", http_server.url("/bad.xml")).failures == 1
        assert good[0].status == "ok" and [e.url for e in good[1]] == ["http://127.0.0.1/fine"]
    finally:
        store.close()

"""Hostile servers against the Fetcher and a whole pass: every limit is hit for real, over
loopback. Nothing here connects anywhere but 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.config import FetchSettings, load_config
from monitor.feeds import FeedEntry
from monitor.fetch import Fetcher, FetchError, ForbiddenAddress, HostGate, check_url, forbidden_address
from monitor.pipeline import fetch_article, run_pass
from monitor.store import Store
from monitor.store.models import ArticleRecord, Link

from .conftest import LocalServer, Route, _handler, article_html, rss, write_config
from .hostile import MB, Sent, drip, endless, gzip_bomb, in_flight_counter, reply, run_bounded, sequence


def settings(**overrides: Any) -> FetchSettings:
    """Small limits so every test ends in a second or two."""
    values: dict[str, Any] = {"allow_private_addresses": True, "timeout": 2.0, "connect_timeout": 1.0,
                              "max_bytes": 200_000, "min_delay": 0.0, "respect_robots": False}
    return FetchSettings(**(values | overrides))


@pytest.fixture
def other_server() -> Iterator[LocalServer]:
    """A second server on 127.0.0.2: the 'internal' host a redirect must not reach."""
    state = LocalServer()
    httpd = ThreadingHTTPServer(("127.0.0.2", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


PARAS = ["The harbour authority said on Tuesday that the new container terminal would open in March, "
         "after three years of construction and a long dispute over dredging permits.",
         "Officials expect the terminal to handle 1.2 million containers a year once it reaches full "
         "capacity, roughly doubling what the port can move today.",
         "Shipping lines have already booked berths for the first months, the authority said, and "
         "local hauliers are hiring drivers to cope with the extra traffic on the ring road."]


# -- size, time and redirect limits ------------------------------------------------------------

def test_endless_body_is_cut_at_the_byte_cap(http_server: LocalServer) -> None:
    sent = Sent()
    http_server.routes["/endless"] = endless(200 * MB, sent=sent)
    with Fetcher(settings(max_bytes=100_000)) as fetcher, pytest.raises(FetchError, match="over the cap"):
        run_bounded(lambda: fetcher.fetch(http_server.url("/endless")))
    assert sent.done.wait(10), "the server kept sending after the client gave up"
    assert sent.bytes < 20 * MB  # the 200 MB were never sent: the client hung up early


def test_declared_length_over_the_cap_is_refused_before_reading(http_server: LocalServer) -> None:
    sent = Sent()
    http_server.routes["/big"] = endless(200 * MB, declare_length=True, sent=sent)
    with Fetcher(settings()) as fetcher, pytest.raises(FetchError, match=r"body of 209715200 bytes is over"):
        run_bounded(lambda: fetcher.fetch(http_server.url("/big")))


def test_gzip_bomb_is_cut_at_the_cap_after_decompression(http_server: LocalServer) -> None:
    http_server.routes["/bomb"] = gzip_bomb(20 * MB)
    with Fetcher(settings(max_bytes=1_000_000)) as fetcher, pytest.raises(FetchError, match="over the cap"):
        run_bounded(lambda: fetcher.fetch(http_server.url("/bomb")))


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_slow_drip_is_cut_at_the_total_deadline(http_server: LocalServer, headers_too: bool) -> None:
    """One byte every 0.1 s for 1,000+ bytes would take minutes; every single read is quick,
    so only a total deadline stops it (headers dripping too: before any body is read)."""
    sent = Sent()
    http_server.routes["/drip"] = drip(interval=0.1, headers_too=headers_too, sent=sent)
    with Fetcher(settings(timeout=1.0)) as fetcher, pytest.raises(FetchError, match="timed out"):
        run_bounded(lambda: fetcher.fetch(http_server.url("/drip")))
    assert sent.done.wait(10)
    assert sent.bytes < 500


def test_redirect_loop_is_detected(http_server: LocalServer) -> None:
    http_server.routes["/a"] = Route(302, headers={"Location": "/b"})
    http_server.routes["/b"] = Route(301, headers={"Location": http_server.url("/a")})
    with Fetcher(settings()) as fetcher, pytest.raises(FetchError, match="redirect loop"):
        fetcher.fetch(http_server.url("/a"))
    assert http_server.gets("/a") == 1 and http_server.gets("/b") == 1


def test_redirect_chain_stops_at_the_limit(http_server: LocalServer) -> None:
    for i in range(10):
        http_server.routes[f"/r{i}"] = Route(302, headers={"Location": f"/r{i + 1}"})
    with Fetcher(settings(max_redirects=3)) as fetcher, pytest.raises(FetchError, match="more than 3 redirects"):
        fetcher.fetch(http_server.url("/r0"))
    assert http_server.gets("/r4") == 0


def test_redirects_are_followed_and_reported(http_server: LocalServer) -> None:
    http_server.routes["/go"] = Route(302, headers={"Location": "/final"})
    http_server.routes["/final"] = Route(200, b"ok", {"Content-Type": "text/html; charset=ISO-8859-1"})
    with Fetcher(settings()) as fetcher:
        resp = fetcher.fetch(http_server.url("/go"))
    assert (resp.url, resp.content, resp.redirects) == (http_server.url("/final"), b"ok", [http_server.url("/go")])
    assert (resp.content_type, resp.charset) == ("text/html", "iso-8859-1")


# -- address guard (SSRF) ----------------------------------------------------------------------

def public_test_resolver(host: str) -> list[str]:
    """DNS for tests: a made-up public name served from 127.0.0.1, an internal name on 127.0.0.2."""
    return {"public.test": ["127.0.0.1"], "internal.test": ["127.0.0.2"]}.get(host) or [host]


@pytest.mark.parametrize("target", ["ip", "name"])
def test_redirect_from_allowed_host_to_loopback_is_refused_without_connecting(
        http_server: LocalServer, other_server: LocalServer, target: str) -> None:
    host = "127.0.0.2" if target == "ip" else "internal.test"
    other_server.routes["/secret"] = Route(200, b"metadata credentials")
    http_server.routes["/go"] = Route(302, headers={"Location": f"http://{host}:{other_server.port}/secret"})
    guarded = Fetcher(settings(allow_private_addresses=False), resolve=public_test_resolver,
                      allowed_hosts={"public.test"})
    with guarded, pytest.raises(ForbiddenAddress, match=r"loopback address 127\.0\.0\.2"):
        guarded.fetch(f"http://public.test:{http_server.port}/go")
    assert http_server.gets("/go") == 1  # the first hop was allowed and served
    assert other_server.requests == []  # the forbidden hop never got a connection

    # control: the same redirect with the guard off reaches the internal server
    with Fetcher(settings(), resolve=public_test_resolver) as open_fetcher:
        assert open_fetcher.fetch(f"http://public.test:{http_server.port}/go").content == b"metadata credentials"
    assert len(other_server.requests) == 1


def test_loopback_feed_is_refused_when_private_addresses_are_off(http_server: LocalServer) -> None:
    http_server.routes["/feed"] = Route(200, b"<rss/>")
    with Fetcher(settings(allow_private_addresses=False)) as fetcher:
        for url in (http_server.url("/feed"), f"http://localhost:{http_server.port}/feed",
                    f"http://[::ffff:127.0.0.1]:{http_server.port}/feed"):
            with pytest.raises(ForbiddenAddress, match="loopback"):
                fetcher.fetch(url)
    assert http_server.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "http:///nohost",
                                 "javascript:alert(1)"])
def test_only_http_and_https_are_fetched(url: str) -> None:
    with Fetcher(settings()) as fetcher, pytest.raises(FetchError, match=r"refused scheme|no host"):
        fetcher.fetch(url)


def test_redirect_to_another_scheme_is_refused(http_server: LocalServer) -> None:
    http_server.routes["/go"] = Route(302, headers={"Location": "file:///etc/passwd"})
    with Fetcher(settings()) as fetcher, pytest.raises(FetchError, match="refused scheme 'file'"):
        fetcher.fetch(http_server.url("/go"))


@pytest.mark.parametrize(("ip", "why"), [
    ("127.0.0.1", "loopback"), ("127.5.6.7", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "shared address space"), ("100.127.255.254", "shared address space"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
    ("240.0.0.1", "private"), ("198.18.0.1", "private"), ("192.0.2.1", "private"),
])
def test_forbidden_addresses(ip: str, why: str) -> None:
    assert forbidden_address(ip) == why


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1",
                                "100.128.0.1", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(ip: str) -> None:
    assert forbidden_address(ip) is None


def test_a_name_with_any_private_record_is_refused() -> None:
    def resolve(_host: str) -> list[str]:
        return ["8.8.8.8", "10.1.2.3"]
    with pytest.raises(ForbiddenAddress, match=r"private address 10\.1\.2\.3"):
        check_url("https://mixed.test/feed", allow_private=False, resolve=resolve)
    check_url("https://mixed.test/feed", allow_private=True, resolve=resolve)  # the switch opens it


# -- politeness ------------------------------------------------------------------------------

def test_retry_after_on_429_is_honoured_once(http_server: LocalServer) -> None:
    http_server.routes["/busy"] = sequence(reply(429, b"slow down", {"Retry-After": "1"}),
                                           reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}))
    with Fetcher(settings(timeout=5.0)) as fetcher:
        assert run_bounded(lambda: fetcher.fetch(http_server.url("/busy"))).content == b"<rss/>"  # type: ignore[union-attr]
    assert http_server.gets("/busy") == 2


def test_retry_after_too_long_is_not_waited_for(http_server: LocalServer) -> None:
    http_server.routes["/busy"] = reply(503, b"later", {"Retry-After": "3600"})
    with Fetcher(settings(timeout=5.0)) as fetcher, pytest.raises(FetchError, match=r"HTTP 503.*Retry-After 3600"):
        run_bounded(lambda: fetcher.fetch(http_server.url("/busy")))
    assert http_server.gets("/busy") == 1


def test_conditional_get_costs_one_small_request(http_server: LocalServer) -> None:
    body = rss([{"link": "http://127.0.0.1/a", "title": "A"}])
    http_server.routes["/feed"] = Route(200, body, {"ETag": '"v1"', "Content-Type": "application/rss+xml"})
    with Fetcher(settings()) as fetcher:
        first = fetcher.fetch(http_server.url("/feed"))
        second = fetcher.fetch(http_server.url("/feed"), etag=first.etag)
    assert first.content == body and first.etag == '"v1"'
    assert second.not_modified and second.content == b""
    assert http_server.requests[1][2].get("If-None-Match") == '"v1"'
    assert http_server.gets("/feed") == 2


def test_user_agent_names_the_contact(http_server: LocalServer) -> None:
    http_server.routes["/x"] = Route(200, b"x")
    with Fetcher(settings(contact="https://example.org/news-bot")) as fetcher:
        fetcher.fetch(http_server.url("/x"))
    agent = http_server.requests[0][2]["User-Agent"]
    assert agent.startswith("news-monitor/") and "https://example.org/news-bot" in agent


def test_host_gate_spaces_request_starts_by_the_minimum_delay() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    gate = HostGate(per_host=4, min_delay=0.5, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        with gate.slot("a.test"):
            pass
    with gate.slot("b.test"):  # another host does not wait
        pass
    now[0] += 10  # long after: no wait either
    with gate.slot("a.test"):
        pass
    for host in ("127.0.0.1", "127.0.0.1", "localhost", "localhost", "::1", "::1"):  # this machine: no spacing
        with gate.slot(host):
            pass
    assert slept == [0.5, 1.0]


def test_per_host_concurrency_is_limited(http_server: LocalServer) -> None:
    handler, counts = in_flight_counter(reply(200, b"ok"), hold=0.2)
    http_server.routes["/slow"] = handler
    with Fetcher(settings(per_host=2, concurrency=8, timeout=10.0)) as fetcher:
        threads = [threading.Thread(target=fetcher.fetch, args=(http_server.url("/slow"),)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert http_server.gets("/slow") == 6
    assert counts[1] == 2


def test_robots_txt_is_honoured_and_fetched_once_per_host(http_server: LocalServer) -> None:
    http_server.routes["/robots.txt"] = Route(200, b"User-agent: *\nDisallow: /private/\n")
    http_server.routes["/private/a"] = Route(200, article_html("Private", PARAS), {"Content-Type": "text/html"})
    http_server.routes["/news/a"] = Route(200, article_html("Harbour terminal opens", PARAS),
                                          {"Content-Type": "text/html"})
    with Fetcher(settings(respect_robots=True)) as fetcher:
        refused = fetch_article(fetcher, FeedEntry(http_server.url("/private/a"), "Private", "", None, "p"))
        allowed = fetch_article(fetcher, FeedEntry(http_server.url("/news/a"), "News", "", None, "n"))
    assert refused == "disallowed by robots.txt (fetch.respect_robots)"
    assert not isinstance(allowed, str) and "container terminal" in allowed.text
    assert http_server.gets("/robots.txt") == 1 and http_server.gets("/private/a") == 0


@pytest.mark.parametrize(("status", "refusal"), [(404, None), (410, None),
                                                 (500, "robots.txt unreachable (HTTP 500 Internal Server Error)")])
def test_missing_robots_allows_and_broken_robots_disallows(http_server: LocalServer, status: int,
                                                            refusal: str | None) -> None:
    http_server.routes["/robots.txt"] = Route(status, b"")
    with Fetcher(settings(respect_robots=True)) as fetcher:
        found = fetcher.robots_refusal(http_server.url("/any"))
        assert fetcher.robots_refusal(http_server.url("/other")) == found
    assert (found or "").startswith(refusal or "")
    assert (found is None) == (refusal is None)
    assert http_server.gets("/robots.txt") == 1


def test_guard_refusal_is_reported_as_such_not_as_robots(http_server: LocalServer) -> None:
    http_server.routes["/a"] = Route(200, article_html("Harbour", PARAS), {"Content-Type": "text/html"})
    with Fetcher(settings(respect_robots=True, allow_private_addresses=False)) as fetcher:
        reason = fetch_article(fetcher, FeedEntry(http_server.url("/a"), "", "", None, "a"))
    assert isinstance(reason, str) and "resolves to loopback address" in reason
    assert http_server.requests == []


# -- whole passes ------------------------------------------------------------------------------

def topic(tmp_path: Path, feeds: list[str]) -> dict[str, Any]:
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / "known.txt").write_text("The port authority runs the old terminal on the river.\n")
    return {"name": "port", "description": "port news", "keywords": ["terminal", "port"],
            "baseline": str(seeds), "feeds": feeds}


def stored(config_state: str) -> tuple[list[ArticleRecord], list[Link], dict[str, Any]]:
    store = Store(config_state)
    try:
        with store.session() as s:
            articles = list(s.scalars(select(ArticleRecord)))
            links = list(s.scalars(select(Link)))
        feeds = {f.url: f for f in store.feeds()}
    finally:
        store.close()
    return articles, links, feeds


BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
        + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                   for i in range(1, 10))
        + b']>\n<rss version="2.0"><channel><title>&lol9;</title></channel></rss>')


def test_one_pass_survives_hostile_feeds_and_stores_the_good_article(http_server: LocalServer,
                                                                      tmp_path: Path) -> None:
    day = datetime(2024, 3, 5, tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    srv = http_server
    srv.routes["/article/1"] = Route(200, article_html("Harbour terminal opens in March", PARAS),
                                     {"Content-Type": "text/html; charset=utf-8"})
    srv.routes["/article/2"] = Route(200, article_html("Terminal berths booked", PARAS[::-1]),
                                     {"Content-Type": "text/html; charset=utf-8"})
    srv.routes["/good.xml"] = Route(200, rss([{"link": srv.url("/article/1"), "title": "Terminal", "pubDate": day}]),
                                    {"Content-Type": "application/rss+xml"})
    truncated = rss([{"link": srv.url("/article/2"), "title": "Berths", "pubDate": day},
                     {"link": srv.url("/article/3"), "title": "Cut", "pubDate": day}])
    srv.routes["/truncated.xml"] = Route(200, truncated[: truncated.index(b"/article/3")],
                                         {"Content-Type": "application/rss+xml"})
    srv.routes["/bomb.xml"] = Route(200, BOMB, {"Content-Type": "application/rss+xml"})
    endless_sent, drip_sent = Sent(), Sent()
    srv.routes["/endless.xml"] = endless(200 * MB, sent=endless_sent)
    srv.routes["/drip.xml"] = drip(interval=0.1, sent=drip_sent)
    feeds = [srv.url(p) for p in ("/bomb.xml", "/endless.xml", "/drip.xml", "/truncated.xml", "/good.xml")]
    path = write_config(tmp_path, [topic(tmp_path, feeds)],
                        fetch={"allow_private_addresses": True, "timeout": 1.5, "connect_timeout": 1.0,
                               "max_bytes": 300_000, "min_delay": 0, "per_host": 8})
    config = load_config(path)

    report = run_bounded(lambda: run_pass(config), 60)

    status = {f.url: (f.status, f.error) for f in report.topics[0].feeds}  # type: ignore[union-attr]
    assert status[srv.url("/good.xml")] == ("ok", "")
    assert status[srv.url("/bomb.xml")][0] == "error" and "undefined entity" in status[srv.url("/bomb.xml")][1]
    assert status[srv.url("/endless.xml")] == ("error", "body over the cap of 300000 bytes (fetch.max_bytes)")
    assert status[srv.url("/drip.xml")] == ("error", "timed out (fetch.timeout 1.5 s)")
    assert status[srv.url("/truncated.xml")][0] == "ok"  # parsed as far as it goes, with a warning
    assert "malformed feed" in status[srv.url("/truncated.xml")][1]
    assert report.summary()["topics"]["port"]["feeds_failed"] == 3  # type: ignore[union-attr,index]

    articles, _links, feed_rows = stored(config.state)
    assert sorted(a.url for a in articles) == [srv.url("/article/1"), srv.url("/article/2")]
    for name, reason in [("/bomb.xml", "undefined entity"), ("/endless.xml", "over the cap"),
                         ("/drip.xml", "timed out"), ("/truncated.xml", "malformed feed")]:
        assert reason in (feed_rows[srv.url(name)].last_error or ""), name
    assert feed_rows[srv.url("/endless.xml")].failures == 1
    assert endless_sent.done.wait(10) and endless_sent.bytes < 20 * MB
    assert drip_sent.done.wait(10)


@pytest.mark.parametrize("redirector", ["http", "meta refresh"])
def test_news_search_redirect_link_and_outlet_link_are_one_article(http_server: LocalServer, tmp_path: Path,
                                                                    redirector: str) -> None:
    """A search feed links to a redirector (an HTTP redirect, or a tiny page with a meta
    refresh); the outlet's own feed links to the page itself. Both end at the publisher URL,
    and the pass stores one article linked from both."""
    srv = http_server
    srv.routes["/article/1"] = Route(200, article_html("Harbour terminal opens in March", PARAS),
                                     {"Content-Type": "text/html"})
    if redirector == "http":
        srv.routes["/news/rss/articles/CBMiabc"] = Route(302, headers={"Location": srv.url("/article/1")})
    else:
        page = f'<html><head><meta http-equiv="refresh" content="0;url={srv.url("/article/1")}"></head></html>'
        srv.routes["/news/rss/articles/CBMiabc"] = Route(200, page.encode(), {"Content-Type": "text/html"})
    search_link = srv.url("/news/rss/articles/CBMiabc?oc=5")
    srv.routes["/search.xml"] = Route(200, rss([{"link": search_link, "title": "Terminal - Outlet"}]),
                                      {"Content-Type": "application/rss+xml"})
    srv.routes["/outlet.xml"] = Route(200, rss([{"link": srv.url("/article/1"), "title": "Terminal"}]),
                                      {"Content-Type": "application/rss+xml"})
    path = write_config(tmp_path, [topic(tmp_path, [srv.url("/search.xml"), srv.url("/outlet.xml")])],
                        fetch={"allow_private_addresses": True, "timeout": 3, "min_delay": 0})
    config = load_config(path)

    run_bounded(lambda: run_pass(config), 60)

    articles, links, _ = stored(config.state)
    assert [a.url for a in articles] == [srv.url("/article/1")]
    assert {lk.url: lk.article_id for lk in links} == {search_link: articles[0].id,
                                                       srv.url("/article/1"): articles[0].id}

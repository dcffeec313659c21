"""A 304 answer to a conditional GET is 'not modified', not an error (httpx calls it a redirect)."""

from __future__ import annotations

from monitor.config import FetchSettings
from monitor.fetch import Fetcher

from .conftest import LocalServer, Route


def test_304_is_not_modified(http_server: LocalServer) -> None:
    http_server.routes["/feed.xml"] = Route(200, b"<rss/>", {"ETag": '"v1"'})
    with Fetcher(FetchSettings(allow_private_addresses=True, timeout=10)) as fetcher:
        first = fetcher.fetch(http_server.url("/feed.xml"))
        again = fetcher.fetch(http_server.url("/feed.xml"), etag=first.etag)
    assert (first.status, first.etag) == (200, '"v1"')
    assert again.not_modified and again.content == b""
    assert http_server.requests[-1][2].get("If-None-Match") == '"v1"'

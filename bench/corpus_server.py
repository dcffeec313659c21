"""A local web site for benchmarks: the shared corpus pages and an RSS feed linking to them.

Every response waits a fixed latency first (a real site is not 0 ms away), carries an ETag
and a Last-Modified, and answers a matching conditional GET with 304, as a well-behaved
news site does. Requests are counted per path, so a benchmark can check that no page was
fetched twice. Binds to 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

EPOCH = 1_700_000_000  # fixed publication times, so runs are comparable


def rss_feed(base: str, names: list[str]) -> bytes:
    """An RSS 2.0 feed with one item per page, an hour apart, newest first as feeds list them."""
    items = []
    for i, name in reversed(list(enumerate(names))):
        when = format_datetime(_utc(EPOCH + 3600 * i), usegmt=True)
        link = f"{base}/pages/{quote(name)}"
        title = name.removesuffix(".html").replace(".", " ")
        items.append(f"<item><title>{escape(title)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
                     f"<pubDate>{when}</pubDate><description>{escape(title)}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench corpus</title>'
            f"<link>{base}/</link><description>corpus pages</description>{''.join(items)}</channel></rss>").encode()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


class CorpusServer:
    """Serves `/feed.xml` and `/pages/<name>` for the .html files in `pages`, with `latency`
    seconds added to every request."""

    def __init__(self, pages: Path, latency: float = 0.05, names: list[str] | None = None):
        self.latency = latency
        self.bodies = {p.name: p.read_bytes() for p in sorted(pages.glob("*.html"))}
        self.names = names if names is not None else list(self.bodies)
        self.hits: Counter[str] = Counter()
        self.not_modified = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.feed = rss_feed(self.base, self.names)
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"

    def __enter__(self) -> CorpusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.hits.clear()
            self.not_modified = 0

    def body(self, path: str) -> tuple[bytes, str] | None:
        if path == "/feed.xml":
            return self.feed, "application/rss+xml; charset=utf-8"
        if path.startswith("/pages/"):
            body = self.bodies.get(unquote(path.removeprefix("/pages/")))
            return (body, "text/html") if body is not None else None
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(server.latency)
                path = self.path.split("?", 1)[0]
                found = server.body(path)
                with server._lock:
                    server.hits[path] += 1
                if found is None:
                    self._send(404, b"not found", "text/plain", {})
                    return
                body, ctype = found
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                validators = {"ETag": etag, "Last-Modified": format_datetime(_utc(EPOCH), usegmt=True)}
                if self.headers.get("If-None-Match") == etag:
                    with server._lock:
                        server.not_modified += 1
                    self._send(304, b"", "", validators)
                    return
                self._send(200, body, ctype, validators)

            def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

"""Shared fixtures: a real HTTP server on 127.0.0.1 and temp configs. No traffic leaves loopback."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalServer:
    """Serves `routes` (path -> Route or handler function) and records every request."""

    routes: dict[str, Route | Handler] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def posts(self, path: str | None = None) -> list[bytes]:
        return [b for m, p, _h, b in self.requests if m == "POST" and (path is None or p == path)]

    def gets(self, path: str) -> int:
        return sum(1 for m, p, _h, _b in self.requests if m == "GET" and p == path)


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            server.requests.append((method, path, dict(self.headers), body))
            route = server.routes.get(path) or server.routes.get(self.path)
            if route is None:
                if method == "POST" and "*POST" in server.routes:
                    route = server.routes["*POST"]
                else:
                    route = Route(404, b"not found")
            if callable(route):
                route(self)
                return
            etag = route.headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(route.status)
            for k, v in route.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    return H


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    state = LocalServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def rss(items: list[dict[str, str]], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document; items have link, title, pubDate (RFC 822), description."""
    from xml.sax.saxutils import escape

    parts = [f"<item><title>{escape(i.get('title', ''))}</title><link>{escape(i['link'])}</link>"
             f"<guid>{escape(i['link'])}</guid><pubDate>{i.get('pubDate', '')}</pubDate>"
             f"<description>{escape(i.get('description', ''))}</description></item>" for i in items]
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://127.0.0.1/</link><description>t</description>{''.join(parts)}</channel></rss>").encode()


def article_html(title: str, paragraphs: list[str], canonical: str = "", date: str = "2024-01-01") -> bytes:
    """A plain news page with some chrome around the article body."""
    canon = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>{title}</title>{canon}"
            f'<meta property="article:published_time" content="{date}"></head><body>'
            f"<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{body}</article>"
            f"<footer>Copyright Example News</footer></body></html>").encode()


def write_config(tmp_path: Path, topics: list[dict[str, Any]], **extra: Any) -> Path:
    config = {"state": f"sqlite:///{tmp_path / 'state.db'}", "fetch": {"allow_private_addresses": True},
              "topics": topics, **extra}
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path

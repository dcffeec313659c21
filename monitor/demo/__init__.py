"""`monitor demo`: the whole pipeline offline on a small bundled replay.

A local HTTP server (127.0.0.1, a free port) serves a feed and five article pages on the
default topic, written for the demo: an explainer that restates the baseline, an off-topic
story with a big number, a new troop figure, the same figure from a second outlet, and a
treaty status change. The pipeline runs twice: the second pass finds nothing new.
"""

from __future__ import annotations

import html
import json
import tempfile
import threading
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import yaml
from rich.console import Console

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent.parent / "seeds"


def _page(article: dict) -> bytes:
    day = parsedate_to_datetime(article["date"]).date().isoformat()
    body = "".join(f"<p>{html.escape(p)}</p>" for p in article["paragraphs"])
    return (f"<!doctype html><html><head><title>{html.escape(article['title'])}</title>"
            f'<meta property="article:published_time" content="{day}"></head><body>'
            f"<header>{html.escape(article['outlet'])} | World | Asia</header><article>"
            f"<h1>{html.escape(article['title'])}</h1>{body}</article>"
            f"<footer>Copyright {html.escape(article['outlet'])}</footer></body></html>").encode()


def _feed(articles: list[dict], base: str) -> bytes:
    items = "".join(f"<item><title>{escape(a['title'])}</title><link>{base}/{a['slug']}.html</link>"
                    f"<guid>{base}/{a['slug']}.html</guid><pubDate>{a['date']}</pubDate></item>"
                    for a in articles)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Demo feed</title><link>{base}/</link>'
            f"<description>news-monitor demo</description>{items}</channel></rss>").encode()


def serve(articles: list[dict]) -> ThreadingHTTPServer:
    pages: dict[str, tuple[bytes, str]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, ctype = pages.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages["/feed.xml"] = (_feed(articles, base), "application/rss+xml")
    for a in articles:
        pages[f"/{a['slug']}.html"] = (_page(a), "text/html; charset=utf-8")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_demo(run: Callable[[Path], None], console: Console) -> None:
    """Serve the replay, write a config for it, and call `run(config_path)` twice."""
    if not SEEDS.is_dir():
        raise FileNotFoundError(f"the demo reads the project's seeds/ folder, not found at {SEEDS}")
    articles = json.loads((HERE / "articles.json").read_text())
    server = serve(articles)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="monitor-demo-") as tmp:
        config = Path(tmp) / "demo.yaml"
        config.write_text(yaml.safe_dump({
            "state": f"sqlite:///{Path(tmp) / 'demo.db'}",
            "fetch": {"allow_private_addresses": True},  # the replay is served on 127.0.0.1
            "topics": [{
                "name": "korea-russia-arms",
                "description": "Military cooperation between Russia and North Korea: the defence treaty and its "
                               "ratification, North Korean troops sent to Russia and their numbers, and South "
                               "Korea's arms policy toward Ukraine.",
                "keywords": ["North Korean troops", "North Korea Russia", "Russia North Korea treaty",
                             "South Korea weapons Ukraine"],
                "baseline": str(SEEDS), "feeds": [f"{base}/feed.xml"], "notify": ["console://"]}],
        }))
        try:
            console.rule("[bold]Pass 1: five new articles in the feed")
            run(config)
            console.rule("[bold]Pass 2: nothing new (no alert expected)")
            run(config)
        finally:
            server.shutdown()
            server.server_close()

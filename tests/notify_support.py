"""A small news world for the alert tests: a feed of articles that the detector surely
reports (each one a new soldier count with new names), an alert endpoint (apprise json://)
whose behaviour a test scripts per request, and helpers to run `monitor` as a subprocess.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.config import load_config
from monitor.notify import SendReport, send_pending
from monitor.store import Store

from .conftest import ROOT, LocalServer, Route, article_html, rss, write_config

BASELINE = "The army had 100 soldiers in the region. The army is based in the north."
# (headline, on-topic sentence with a new figure and two new names): checked with monitor.detect
ARTICLES = [
    ("Army sends 5,000 soldiers to Castor",
     "General Altair confirmed on Monday that 5,000 soldiers of the army had crossed the river near Castor."),
    ("Army lands 7,200 soldiers at Pollux",
     "Admiral Deneb told reporters that a convoy carrying 7,200 army soldiers docked at Pollux harbour "
     "overnight."),
    ("Army camps 9,400 soldiers outside Vega",
     "Satellite pictures published by Sirius Analytics show 9,400 soldiers of the army camping in tents "
     "outside Vega."),
    ("Army moves 11,800 soldiers into Rigel",
     "Mayor Antares said 11,800 army soldiers marched into Rigel through the eastern gate, blocking the "
     "market."),
]
TIMEOUT = 60  # seconds: upper bound for any one `monitor` subprocess


def article_path(i: int) -> str:
    return f"/articles/{i:03d}.html"


def publish(server: LocalServer, count: int = len(ARTICLES)) -> list[str]:
    """Serve the feed and the first `count` articles; returns their URLs in order."""
    urls = []
    items = []
    for i, (title, sentence) in enumerate(ARTICLES[:count], 1):
        url = server.url(article_path(i))
        urls.append(url)
        day = f"2024-01-{5 * i:02d}"  # five days apart: never one news cycle (no merging)
        server.routes.setdefault(article_path(i), Route(200, article_html(
            title, [sentence, "The ministry gave no further details."], canonical=url, date=day),
            {"Content-Type": "text/html; charset=utf-8"}))
        stamp = format_datetime(datetime.fromisoformat(f"{day}T10:00:00+00:00"))
        items.append({"link": url, "title": title, "pubDate": stamp})
    # with an ETag: a pass killed after reading the feed must not make the next one get a 304
    server.routes["/feed.xml"] = Route(200, rss(items), {"Content-Type": "application/rss+xml",
                                                         "ETag": f'"feed-{count}"'})
    return urls


def make_config(tmp_path: Path, routes: list[Any], **extra: Any) -> Path:
    baseline = tmp_path / "baseline"
    baseline.mkdir(exist_ok=True)
    (baseline / "army.txt").write_text("Army in the region\n\n" + BASELINE + "\n")
    alerts = {"retries_in_pass": 0, "backoff_seconds": 0.0, **extra.pop("alerts", {})}
    extra["fetch"] = {"allow_private_addresses": True, "timeout": TIMEOUT - 5, **extra.pop("fetch", {})}
    topic = {"name": "army", "description": "The army deployment in the northern region",
             "keywords": ["army", "soldiers"], "baseline": str(baseline), "feeds": [extra.pop("feed")],
             "notify": routes}
    return write_config(tmp_path, [topic], alerts=alerts, **extra)


@dataclass
class AlertEndpoint:
    """An alert receiver on its own port. `plan` decides each POST's fate in order ("ok",
    "fail" = HTTP 500, "block" = hold until `release` is set, then 500); after the plan,
    "ok". Only bodies answered with 200 count as received."""

    plan: list[str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # Idempotency-Key header of every POST, in order
    arrived: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    ok_body: bytes = b"ok"
    hold_until: int = 0  # each POST waits until this many POSTs have arrived (concurrency proof)

    def url(self, scheme: str = "json", path: str = "/alerts") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            fate = self.plan.pop(0) if self.plan else "ok"
            self.arrived += 1
            self.keys.append(handler.headers.get("Idempotency-Key", ""))
        deadline = time.monotonic() + TIMEOUT / 2
        while self.arrived < self.hold_until and time.monotonic() < deadline:
            time.sleep(0.01)
        if fate == "block":  # hold the request until the test releases it (after the kill)
            self.release.wait(TIMEOUT)
            fate = "fail"
        status = {"ok": 200, "fail": 500, "busy": 429}[fate]
        if status == 200:
            with self.lock:
                self.raw.append(body)
                self.received.append(json.loads(body))
        reply = self.ok_body if status == 200 else b"error"
        handler.send_response(status)
        if status == 429:
            handler.send_header("Retry-After", "1")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    @contextmanager
    def serving(self) -> Iterator[AlertEndpoint]:
        endpoint = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                endpoint(self)

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.release.set()
            httpd.shutdown()
            httpd.server_close()

    def ids_received(self, dev_ids: list[str]) -> dict[str, int]:
        """How many received alerts name each development id."""
        texts = [m.get("title", "") + "\n" + m.get("message", "") for m in self.received]
        return {d: sum(d in t for t in texts) for d in dev_ids}


def send_outbox(config: Path) -> SendReport:
    """One run of the outbox sender (instant mode) over the state of `config`."""
    cfg = load_config(config)
    store = Store(cfg.state)
    try:
        return send_pending(store, cfg)
    finally:
        store.close()


def monitor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ, DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", MONITOR_PLAIN="1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_monitor(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(monitor_cmd(*args), capture_output=True, text=True, timeout=TIMEOUT, env=_env(),
                          cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"monitor {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def cli(*args: str, exit_code: int = 0) -> str:
    """Run a `monitor` command in this process (faster than a subprocess); its output."""
    from typer.testing import CliRunner

    from monitor.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == exit_code, (result.output, result.exception)
    return result.output


def start_monitor(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(monitor_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=ROOT, start_new_session=True)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str] | None = None,
             timeout: float = TIMEOUT) -> None:
    """Poll until `condition()`; fail early if `proc` exits first (it should be killed)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"monitor exited {proc.returncode} before the kill point:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the kill point")
        time.sleep(0.02)


def sigkill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the whole process group and reap it (a zombie would look alive)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL


def seed(config_path: Path, count: int, topic: str = "army", title: str = "", first: int = 0) -> list[str]:
    """Store `count` developments with one pending delivery per configured route, the way
    the pipeline does (Store.save_article); returns their ids, oldest first."""
    from datetime import UTC, timedelta

    from monitor.config import load_config, redact
    from monitor.store import ArticleRecord, DevelopmentRecord, Store

    config = load_config(config_path)
    routes = [(r.url, redact(r.url), r.mode) for t in config.topics if t.name == topic for r in t.notify]
    store = Store(config.state)
    ids = []
    try:
        start = datetime(2024, 1, 1, tzinfo=UTC)
        for i in range(first, first + count):
            dev_id = f"dev{i:04d}{topic[:4]}"
            url = f"https://news.example/{topic}/{i}"
            dev = DevelopmentRecord(id=dev_id, topic=topic, kind="figure",
                                    summary=title or f"The army now has {1000 + i} soldiers in the region.",
                                    title=title or f"Army grows to {1000 + i}",
                                    evidence=f"The army now has {1000 + i} soldiers in the region.",
                                    new_value=f"{1000 + i} soldiers", known_before="100 soldiers",
                                    known_source="baseline army.txt", sources=[url], confidence=0.8,
                                    first_seen=start + timedelta(hours=i))
            article = ArticleRecord(topic=topic, url=url, fetched_url=url, title=dev.title, text=dev.evidence,
                                    text_hash=f"{i:064d}", verdict="development", development_id=dev_id)
            store.save_article(article, url, dev, routes)
            ids.append(dev_id)
    finally:
        store.close()
    return ids


def _postgres_url() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    except Exception:
        return None


STATE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def state_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh state database URL: SQLite in tmp_path, or a private schema in PostgreSQL
    (dropped afterwards), so parallel test runs never share tables."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    import psycopg

    schema = f"outbox_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

"""Two workers, one topic, one PostgreSQL state: two real `monitor run --plain` processes run
at the same time over the same feed. Each fact must become exactly one development, each
article one row, and each development exactly one alert."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from . import redsea
from .conftest import LocalServer, write_config
from .pgdb import temp_database, unreachable

pytestmark = pytest.mark.postgres

DELAY = 0.4  # seconds per article page: long enough for the two passes to overlap


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = unreachable()
    if reason:
        pytest.skip(reason)
    with temp_database("monitor_conc") as url:
        yield url


def _slow_page(body: bytes) -> object:
    def handler(h: BaseHTTPRequestHandler) -> None:
        time.sleep(DELAY)
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def _monitor(*args: str) -> list[str]:
    return [sys.executable, "-c", "from monitor.cli import main; main()", *args]


@pytest.mark.parametrize("topic_lock", ["on", "off"])
def test_two_workers_on_one_topic_store_and_alert_each_development_once(
        http_server: LocalServer, pg_url: str, tmp_path: Path, topic_lock: str) -> None:
    """With the topic lock the passes take turns; without it (MONITOR_TOPIC_LOCK=off) they
    really race, and the unique constraints plus the loser's rollback keep the rows single."""
    redsea.publish(http_server, list(redsea.ARTICLES), page=_slow_page)
    config = write_config(tmp_path, [redsea.topic(http_server, redsea.write_seeds(tmp_path / "seeds"))],
                          state=pg_url)
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "MONITOR_TOPIC_LOCK": topic_lock}

    workers = [subprocess.Popen(_monitor("run", "--plain", "--explain", "--config", str(config)), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, f"{out}\n{err}"
    print("\n".join(out for out, _err in outputs))

    listed = subprocess.run(_monitor("developments", "--json", "--config", str(config)), env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    devs = json.loads(listed.stdout)
    expected = {redsea.page_url(http_server, slug) for slug, (*_x, new) in redsea.ARTICLES.items() if new}
    first_sources = [d["sources"][0] for d in devs]
    assert sorted(first_sources) == sorted(expected), devs  # one development per fact, no duplicate
    assert len({d["id"] for d in devs}) == len(devs)

    # every article fetched by either worker is stored once (unique topic + URL)
    from monitor.store import Store

    store = Store(pg_url)
    try:
        assert sorted(a.url for a in store.known_articles("redsea")) == sorted(
            redsea.page_url(http_server, slug) for slug in redsea.ARTICLES)
        statuses = [d.status for d in store.deliveries()]
    finally:
        store.close()
    assert statuses == ["sent"] * len(expected)

    alerts = [json.loads(body) for body in http_server.posts("/alerts")]
    per_development = {d["id"]: sum(d["sources"][0] in (a.get("title", "") + a.get("message", ""))
                                    for a in alerts) for d in devs}
    # exactly once: the outbox claims each delivery atomically (SKIP LOCKED on PostgreSQL)
    assert per_development == {d["id"]: 1 for d in devs}, alerts
    assert http_server.gets("/feed.xml") == 2  # both workers polled

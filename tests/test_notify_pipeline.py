"""The outbox inside a real pass: routes per topic, min_confidence, modes, notify-test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.pipeline import run_pass
from monitor.store import Store

from .notify_support import ARTICLES, AlertEndpoint, make_config, publish, run_monitor


@pytest.fixture
def endpoint() -> Iterator[AlertEndpoint]:
    with AlertEndpoint().serving() as ep:
        yield ep


def test_a_pass_stores_one_delivery_per_eligible_route_and_sends_instant_ones(
        http_server, tmp_path: Path, endpoint: AlertEndpoint) -> None:  # type: ignore[no-untyped-def]
    publish(http_server)
    routes = [endpoint.url(path="/instant"),
              {"url": endpoint.url(path="/digest"), "mode": "digest"},
              {"url": endpoint.url(path="/picky"), "min_confidence": 1.0}]  # no development is that sure
    config = make_config(tmp_path, routes, feed=http_server.url("/feed.xml"))
    cfg = load_config(config)
    report = run_pass(cfg)
    devs = report.developments
    assert len(devs) == len(ARTICLES)
    assert report.alerts.sent == len(ARTICLES) and report.alerts.failed == 0
    store = Store(cfg.state)
    try:
        rows = store.deliveries()
    finally:
        store.close()
    by_mode = {(r.mode, r.status) for r in rows}
    assert len(rows) == 2 * len(ARTICLES)  # instant + digest; the picky route got none
    assert by_mode == {("instant", "sent"), ("digest", "pending")}
    assert endpoint.ids_received([d.id for d in devs]) == {d.id: 1 for d in devs}
    for dev in devs:  # each alert names its article
        assert any(dev.sources[0] in m["message"] for m in endpoint.received)
    assert run_pass(cfg).alerts.sent == 0  # an idle pass sends nothing again


def test_notify_test_reports_each_route_and_fails_if_one_fails(tmp_path: Path,
                                                               endpoint: AlertEndpoint) -> None:
    endpoint.plan = ["ok", "fail"]
    config = make_config(tmp_path, [endpoint.url(path="/good"), endpoint.url(path="/bad"), "console://"],
                         feed="http://127.0.0.1:9/feed.xml")
    proc = run_monitor("notify-test", "--config", str(config), check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("army: ")]
    assert proc.returncode == 1
    assert len(lines) == 3
    assert "/good (instant) ok" in lines[0]
    assert "/bad (instant) failed" in lines[1] and "error=500" in lines[1]
    assert "console:// (instant) ok" in lines[2]

"""SIGKILL a real `monitor run --plain` at chosen points of a pass, run it again, and check
that every development exists exactly once and reached the alert endpoint exactly once.

The kill points are made deterministic by the local servers: an article response or an
alert POST blocks until the process is dead, so we know exactly what had happened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.store import Store

from .notify_support import (
    ARTICLES,
    STATE_KINDS,
    AlertEndpoint,
    article_path,
    make_config,
    publish,
    run_monitor,
    sigkill,
    start_monitor,
    state_database,
    wait_for,
)


def _state(config: Path) -> tuple[list[str], dict[str, int]]:
    """Development ids, and delivery statuses counted."""
    store = Store(load_config(config).state)
    try:
        devs = [d.id for d in store.developments()]
        statuses: dict[str, int] = {}
        for d in store.deliveries():
            statuses[d.status] = statuses.get(d.status, 0) + 1
        return devs, statuses
    finally:
        store.close()


@pytest.fixture
def endpoint() -> Iterator[AlertEndpoint]:
    with AlertEndpoint().serving() as ep:
        yield ep


@pytest.fixture(params=STATE_KINDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with state_database(request.param, tmp_path) as url:
        yield url


def _world(http_server, tmp_path: Path, endpoint: AlertEndpoint,  # type: ignore[no-untyped-def]
           plan: list[str], state: str | None = None) -> Path:
    endpoint.plan = plan
    publish(http_server)
    extra = {"state": state} if state else {}
    return make_config(tmp_path, [endpoint.url()], feed=http_server.url("/feed.xml"), **extra)


def _check_exactly_once(config: Path, endpoint: AlertEndpoint) -> list[str]:
    devs, statuses = _state(config)
    assert len(devs) == len(ARTICLES) == len(set(devs))
    assert statuses == {"sent": len(ARTICLES)}
    assert endpoint.ids_received(devs) == dict.fromkeys(devs, 1)
    assert len(endpoint.received) == len(ARTICLES)
    return devs


def test_kill_before_store_while_an_article_is_loading(http_server, tmp_path: Path,
                                                       endpoint: AlertEndpoint) -> None:
    config = _world(http_server, tmp_path, endpoint, [])
    blocked = article_path(3)
    original = http_server.routes[blocked]
    gate = endpoint.release

    def slow_article(handler) -> None:  # type: ignore[no-untyped-def]
        gate.wait(60)  # never answers while the first run lives
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    http_server.routes[blocked] = slow_article
    proc = start_monitor("run", "--plain", "--config", str(config))
    # articles 1 and 2 are stored (in publication order) while article 3 hangs
    wait_for(lambda: len(_state(config)[0]) == 2, proc)
    sigkill(proc)
    gate.set()
    assert endpoint.received == []  # alerts go out at the end of the pass: none yet
    http_server.routes[blocked] = original
    run_monitor("run", "--plain", "--config", str(config))
    _check_exactly_once(config, endpoint)


def test_kill_while_the_alert_endpoint_holds_the_first_alert(http_server, tmp_path: Path,
                                                             endpoint: AlertEndpoint, state_url: str) -> None:
    config = _world(http_server, tmp_path, endpoint, ["block"], state_url)
    proc = start_monitor("run", "--plain", "--config", str(config))
    wait_for(lambda: endpoint.arrived == 1, proc)  # everything stored, the first send in flight
    devs, statuses = _state(config)
    assert len(devs) == len(ARTICLES) and statuses == {"sending": 1, "pending": len(ARTICLES) - 1}
    sigkill(proc)
    endpoint.release.set()
    assert endpoint.received == []  # the held alert was never answered: not delivered
    run_monitor("run", "--plain", "--config", str(config))  # takes the dead claim back, sends all
    _check_exactly_once(config, endpoint)
    # the resend carried the same idempotency key (development:route) as the held request
    assert endpoint.keys[0] and endpoint.keys[0] == endpoint.keys[1]
    assert len(set(endpoint.keys)) == len(ARTICLES)


@pytest.mark.parametrize("sent_before_kill", [2])
def test_kill_in_the_middle_of_sending(http_server, tmp_path: Path, endpoint: AlertEndpoint,
                                       sent_before_kill: int) -> None:
    config = _world(http_server, tmp_path, endpoint, ["ok"] * sent_before_kill + ["block"])
    proc = start_monitor("run", "--plain", "--config", str(config))
    wait_for(lambda: endpoint.arrived == sent_before_kill + 1, proc)
    wait_for(lambda: _state(config)[1].get("sent") == sent_before_kill, proc)
    sigkill(proc)
    endpoint.release.set()
    assert len(endpoint.received) == sent_before_kill
    run_monitor("run", "--plain", "--config", str(config))
    _check_exactly_once(config, endpoint)

"""The outbox: retries, dead deliveries, claims, concurrent senders, digests, redaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.notify import claimer_alive, new_token, send_pending
from monitor.store import Store
from monitor.store.models import Delivery, now

from .notify_support import (
    STATE_KINDS,
    AlertEndpoint,
    cli,
    make_config,
    seed,
    start_monitor,
    state_database,
)

SECRET_USER, SECRET_TOKEN = "hunter2user", "s3cr3tTOKENvalue"


@pytest.fixture
def endpoint() -> Iterator[AlertEndpoint]:
    with AlertEndpoint().serving() as ep:
        yield ep


def _config(tmp_path: Path, routes: list[object], **extra: object) -> Path:
    return make_config(tmp_path, routes, feed="http://127.0.0.1:9/feed.xml", **extra)


def _deliveries(config: Path) -> list[Delivery]:
    store = Store(load_config(config).state)
    try:
        return store.deliveries()
    finally:
        store.close()


def _send(config: Path, mode: str = "instant"):  # type: ignore[no-untyped-def]
    cfg = load_config(config)
    store = Store(cfg.state)
    try:
        return send_pending(store, cfg, mode)
    finally:
        store.close()


def test_a_failing_route_is_retried_next_pass_then_dead_and_reported(tmp_path: Path,
                                                                     endpoint: AlertEndpoint) -> None:
    config = _config(tmp_path, [endpoint.url()], alerts={"max_attempts": 2})
    ids = seed(config, 3)
    endpoint.plan = ["fail"] * 10
    first = _send(config)
    # two deliveries failed in a row: the route counts as down, the third waits (not counted)
    assert (first.sent, first.failed, first.deferred, first.dead) == (0, 2, 1, 0)
    rows = _deliveries(config)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1), ("failed", 1), ("pending", 0)]
    assert "error=500" in (rows[0].last_error or "")
    listing = cli("deliveries", "--config", str(config))
    assert "2 failed" in listing and "error=500" in listing
    endpoint.plan = ["fail"]  # the first delivery fails once more, then the route is back
    second = _send(config)
    assert (second.sent, second.failed, second.dead) == (2, 1, 1)
    assert ids[0] in " ".join(second.errors) and "dead after 2 attempts" in " ".join(second.errors)
    assert [r.status for r in _deliveries(config)] == ["dead", "sent", "sent"]
    dead = cli("deliveries", "--status", "dead", "--config", str(config))
    assert ids[0] in dead and ids[1] not in dead
    assert _send(config).sent == 0  # dead stays dead; sent is never sent again
    assert endpoint.ids_received(ids) == {ids[0]: 0, ids[1]: 1, ids[2]: 1}
    out = cli("retry", "--dead", "--config", str(config))  # the route was fixed: send the dead one
    assert "1 dead deliveries back in the queue" in out and "sent 1," in out
    assert endpoint.ids_received(ids) == dict.fromkeys(ids, 1)
    sent = [r for r in _deliveries(config) if r.status == "sent"]
    assert all(r.sent_at and r.response and r.response.startswith("accepted") for r in sent)


def test_in_pass_retries_with_backoff(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    config = _config(tmp_path, [endpoint.url()], alerts={"retries_in_pass": 2, "backoff_seconds": 0.01})
    ids = seed(config, 2)
    endpoint.plan = ["fail", "fail"]  # third try of the first delivery succeeds
    report = _send(config)
    assert report.sent == 2 and report.failed == 0
    assert endpoint.ids_received(ids) == dict.fromkeys(ids, 1)
    assert endpoint.arrived == 4


def test_a_claim_is_won_once(tmp_path: Path) -> None:
    config = _config(tmp_path, ["console://"])
    seed(config, 2)
    store = Store(load_config(config).state)
    try:
        ids = [i for i, _ in store.queue("instant")]
        first = store.claim(ids, new_token())
        assert [d.id for d in first] == ids and all(d.status == "sending" for d in first)
        assert store.claim(ids, new_token()) == []  # the other sender gets nothing
        assert store.queue("instant") == []
    finally:
        store.close()


def test_dead_or_expired_claims_are_taken_back_live_ones_are_not(tmp_path: Path) -> None:
    config = _config(tmp_path, ["console://"])
    seed(config, 3)
    store = Store(load_config(config).state)
    try:
        ids = [i for i, _ in store.queue()]
        dead_local = "localhost-test/999999999/abc"  # a host name that is not ours: judged by age
        store.claim(ids[:1], dead_local)
        store.claim(ids[1:2], new_token())  # this process, but no send running under it: dead
        other_host = "elsewhere.example/1/xyz"
        store.claim(ids[2:], other_host)
        with store.session() as s:  # the first claim is old
            s.get(Delivery, ids[0]).claimed_at = now() - timedelta(hours=1)
        released = store.release_stale(600, claimer_alive)
        assert sorted(released) == ids[:2]
        rows = {d.id: d for d in store.deliveries()}
        assert rows[ids[2]].status == "sending"  # a fresh claim on another host: left alone
        assert rows[ids[0]].status == "failed" and "abandoned" in (rows[ids[0]].last_error or "")
    finally:
        store.close()


def test_claimer_alive_on_this_host() -> None:
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=30)
    host = socket.gethostname()
    assert not claimer_alive(f"{host}/{proc.pid}/0/x")  # exited and reaped
    start_of_1 = Path("/proc/1/stat").read_text().rsplit(")", 1)[1].split()[19]
    assert claimer_alive(f"{host}/1/{start_of_1}/x")  # pid 1 lives
    assert not claimer_alive(f"{host}/1/{int(start_of_1) + 1}/x")  # pid 1 reused: not our claimer
    assert claimer_alive("another-host.example/12345/0/x")  # unknown: wait for the timeout
    token = new_token()
    assert not claimer_alive(token)  # this process, but no send runs under this token


@pytest.fixture(params=STATE_KINDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with state_database(request.param, tmp_path) as url:
        yield url


def test_two_concurrent_senders_never_send_a_delivery_twice(tmp_path: Path, endpoint: AlertEndpoint,
                                                           state_url: str) -> None:
    config = _config(tmp_path, [endpoint.url()], state=state_url)
    ids = seed(config, 12)
    # the first POST is answered only once a second one arrived: both senders are then
    # provably sending at the same time (one is stuck on its claimed delivery)
    endpoint.hold_until = 2
    procs = [start_monitor("retry", "--config", str(config)) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    sent = [int(out.split("sent ", 1)[1].split(",")[0]) for out, _err in outputs]
    assert sum(sent) == len(ids) and min(sent) >= 1
    assert endpoint.ids_received(ids) == dict.fromkeys(ids, 1)
    assert len(endpoint.received) == len(ids)
    assert {d.status for d in _deliveries(config)} == {"sent"}


def test_digest_is_one_message_since_the_last_digest(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    config = _config(tmp_path, [{"url": endpoint.url(), "mode": "digest"}])
    ids = seed(config, 3)
    assert _send(config, "instant").sent == 0  # the pass does not send digest deliveries
    out = cli("digest", "--config", str(config))
    assert "sent 3" in out
    assert len(endpoint.received) == 1
    message = endpoint.received[0]
    assert message["title"] == "Digest: 3 new developments in 1 topic"
    body = message["message"]
    assert all(i in body for i in ids) and all(f"https://news.example/army/{n}" in body for n in range(3))
    assert body.index(ids[2]) < body.index(ids[1]) < body.index(ids[0])  # newest first
    more = seed(config, 1, first=3)  # one more development later
    cli("digest", "--config", str(config))
    assert len(endpoint.received) == 2
    second = endpoint.received[1]["message"]
    assert more[0] in second and not any(i in second for i in ids)
    assert endpoint.received[1]["title"] == "Digest: 1 new development in 1 topic"


def test_secrets_never_appear_in_output_or_state(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    url = f"json://{SECRET_USER}:{SECRET_TOKEN}@127.0.0.1:{endpoint.port}/alerts?token={SECRET_TOKEN}"
    config = _config(tmp_path, [url])
    seed(config, 1)
    endpoint.plan = ["fail"] * 5
    outputs = [cli("retry", "--config", str(config)), cli("deliveries", "--config", str(config)),
               cli("deliveries", "--json", "--config", str(config)),
               cli("notify-test", "--config", str(config), exit_code=1),
               cli("run", "--plain", "--config", str(config))]
    text = "".join(outputs)
    assert "error=500" in text and "127.0.0.1" in text  # the reason and the route are shown...
    assert SECRET_USER not in text and SECRET_TOKEN not in text  # ...without the credentials
    rows = _deliveries(config)
    stored = " ".join(f"{r.route} {r.last_error} {r.response} {r.route_key}" for r in rows)
    assert "error=500" in stored
    assert SECRET_USER not in stored and SECRET_TOKEN not in stored
    db = Path(load_config(config).state.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert SECRET_TOKEN.encode() not in raw and SECRET_USER.encode() not in raw


def test_an_older_state_database_gets_the_new_outbox_columns(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    import sqlite3

    config = _config(tmp_path, [endpoint.url()])
    url = load_config(config).state
    Store(url).close()
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:  # the first release's table
        for column in ("claim_token", "claimed_at", "response"):
            conn.execute(f"ALTER TABLE deliveries DROP COLUMN {column}")
        conn.execute("DROP TABLE alembic_version")  # the first release had no migrations
    ids = seed(config, 1)
    assert _send(config).sent == 1
    assert endpoint.ids_received(ids) == {ids[0]: 1}
    assert _deliveries(config)[0].response


def test_an_interrupted_send_gives_its_claim_back(tmp_path: Path) -> None:
    config = _config(tmp_path, ["console://"])
    seed(config, 2)
    cfg = load_config(config)

    def broken_printer(_message: object) -> None:
        raise KeyboardInterrupt

    store = Store(cfg.state)
    try:
        with pytest.raises(KeyboardInterrupt):
            send_pending(store, cfg, printer=broken_printer)
        rows = store.deliveries()
        assert [r.status for r in rows] == ["failed", "pending"]
        assert rows[0].attempts == 0 and "interrupted" in (rows[0].last_error or "")
        printed: list[object] = []
        assert send_pending(store, cfg, printer=printed.append).sent == 2
        assert len(printed) == 2
    finally:
        store.close()


def test_dismissed_developments_are_never_sent_nor_revived(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    config = _config(tmp_path, [endpoint.url()])
    ids = seed(config, 2)
    store = Store(load_config(config).state)
    try:
        store.dismiss(ids[0])
        assert store.revive_dead() == 0
    finally:
        store.close()
    assert _send(config).sent == 1
    assert endpoint.ids_received(ids) == {ids[0]: 0, ids[1]: 1}

"""Slack and JSON routes against local HTTP endpoints: exactly one post per development
through an outage, 429 handling, and escaped article text in the Slack payload.

apprise's Slack plugin posts webhooks to the fixed https://hooks.slack.com/services base
(the class attribute `NotifySlack.webhook_url`); the URL a user writes carries only the
tokens. The only way to aim it at a local server is to patch that attribute, so these tests
send in-process (pytest's monkeypatch restores it); no request ever leaves 127.0.0.1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from apprise.plugins.slack import NotifySlack

from monitor.config import load_config
from monitor.notify import deliver_message, render
from monitor.store import DevelopmentRecord, Store

from .notify_support import AlertEndpoint, make_config, seed, send_outbox

SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertEndpoint]:
    """A local stand-in for hooks.slack.com (answers "ok" like Slack does)."""
    with AlertEndpoint(ok_body=b"ok").serving() as ep:
        monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{ep.port}/services")
        yield ep


@pytest.fixture
def endpoint() -> Iterator[AlertEndpoint]:
    with AlertEndpoint().serving() as ep:
        yield ep


def _slack_texts(slack: AlertEndpoint) -> list[str]:
    return [a["title"] + "\n" + a["text"] for m in slack.received for a in m["attachments"]]


def test_slack_outage_then_recovery_posts_each_development_once(tmp_path: Path, slack: AlertEndpoint) -> None:
    config = make_config(tmp_path, [SLACK_URL], feed="http://127.0.0.1:9/feed.xml")
    ids = seed(config, 3)
    slack.plan = ["fail", "fail"]  # HTTP 500 for this pass
    first = send_outbox(config)
    assert first.sent == 0 and first.failed == 2 and slack.received == []
    assert any("error=500" in e for e in first.errors)
    assert not any("TIiajkdnlazkcOXrIdevi7" in e for e in first.errors)  # the webhook secret
    second = send_outbox(config)
    assert second.sent == 3
    texts = _slack_texts(slack)
    assert [sum(i in t for t in texts) for i in ids] == [1, 1, 1]
    assert send_outbox(config).sent == 0  # nothing is posted twice
    assert len(slack.received) == 3


def test_slack_429_is_retried_within_the_pass(tmp_path: Path, slack: AlertEndpoint) -> None:
    # apprise's Slack plugin reports a 429 as a plain failure (it does not read Retry-After);
    # our in-pass backoff retries it, and the next pass would too.
    config = make_config(tmp_path, [SLACK_URL], feed="http://127.0.0.1:9/feed.xml",
                         alerts={"retries_in_pass": 2, "backoff_seconds": 0.05})
    ids = seed(config, 2)
    slack.plan = ["busy"]
    report = send_outbox(config)
    assert report.sent == 2 and report.failed == 0
    assert slack.arrived == 3
    texts = _slack_texts(slack)
    assert [sum(i in t for t in texts) for i in ids] == [1, 1]


def test_slack_message_is_compact_and_names_the_development(tmp_path: Path, slack: AlertEndpoint) -> None:
    config = make_config(tmp_path, [SLACK_URL], feed="http://127.0.0.1:9/feed.xml")
    (dev_id,) = seed(config, 1)
    send_outbox(config)
    attachment = slack.received[0]["attachments"][0]
    assert attachment["title"].startswith("[army] New figure: The army now has 1000 soldiers")
    text = attachment["text"]
    for part in ("New: 1000 soldiers", "Known before: 100 soldiers (baseline army.txt)",
                 'Evidence: "The army now has 1000 soldiers in the region."', "Sources (1):",
                 "https://news.example/army/0", "1 source", f"id {dev_id}"):
        assert part in text


def _hostile() -> DevelopmentRecord:
    evil = "Army <!channel> <@U123> <http://evil|click> & <!here>"
    return DevelopmentRecord(id="abcdef123456", topic="army", kind="figure", summary=evil, title=evil,
                             evidence=f"{evil} now has 5,000 soldiers.", new_value="5,000 soldiers",
                             known_before="", known_source="", sources=["https://news.example/a?x=1&y=2"],
                             confidence=0.9)


def test_article_text_cannot_ping_mention_or_hide_links_in_slack(slack: AlertEndpoint) -> None:
    assert deliver_message(SLACK_URL, render(_hostile())).ok
    raw = slack.raw[0].decode()
    payload = json.loads(raw)
    attachment = payload["attachments"][0]
    for control in ("<!channel>", "<@U123>", "<http://evil|click>", "<!here>"):
        assert control not in raw  # nothing Slack would act on
    assert "&lt;!channel&gt;" in attachment["title"] and "&lt;@U123&gt;" in attachment["text"]
    assert "&lt;http://evil|click&gt;" in attachment["text"]
    assert payload["mrkdwn"] is False
    assert "abcdef123456" in attachment["text"]


def test_json_route_payload(tmp_path: Path, endpoint: AlertEndpoint) -> None:
    config = make_config(tmp_path, [endpoint.url()], feed="http://127.0.0.1:9/feed.xml")
    (dev_id,) = seed(config, 1)
    assert send_outbox(config).sent == 1
    (message,) = endpoint.received
    assert message["title"].startswith("[army] New figure:")
    assert dev_id in message["message"] and "https://news.example/army/0" in message["message"]
    store = Store(load_config(config).state)
    try:
        (row,) = store.deliveries()
    finally:
        store.close()
    assert row.status == "sent" and row.key == f"{dev_id}:{row.route_key}"
    assert endpoint.keys == [row.key]  # sent as the Idempotency-Key header
    assert row.response and row.response.startswith("accepted by JSON")

"""Email alerts through a real local SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import email
import socket
from collections.abc import Iterator
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from .notify_support import make_config, seed, send_outbox


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[tuple[Inbox, Controller]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    yield box, controller
    with contextlib.suppress(AssertionError):  # a test that failed before starting it
        controller.stop()


def _mail_route(port: int) -> str:
    # A plain (no TLS, no login) SMTP server: host:port in the URL, secure=no
    return f"mailto://127.0.0.1:{port}?from=monitor@news.example&to=desk@news.example&secure=no"


def _parts(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
            if not p.is_multipart()}


def test_email_alert_has_subject_text_and_html(tmp_path: Path, smtp_port: int, inbox) -> None:  # type: ignore[no-untyped-def]
    box, controller = inbox
    controller.start()
    config = make_config(tmp_path, [_mail_route(smtp_port)], feed="http://127.0.0.1:9/feed.xml")
    (dev_id,) = seed(config, 1)
    assert send_outbox(config).sent == 1
    (msg,) = box.messages
    assert msg["Subject"] == "[army] New figure: The army now has 1000 soldiers in the region."
    assert msg.get_content_type() == "multipart/alternative"
    parts = _parts(msg)
    assert set(parts) == {"text/plain", "text/html"}
    html, text = parts["text/html"], parts["text/plain"]
    assert '<a href="https://news.example/army/0">' in html and dev_id in html
    assert "https://news.example/army/0" in text and dev_id in text and "100 soldiers" in text


def test_smtp_down_for_one_pass_then_up_delivers_each_alert_once(tmp_path: Path, smtp_port: int,
                                                                 inbox) -> None:  # type: ignore[no-untyped-def]
    box, controller = inbox
    config = make_config(tmp_path, [_mail_route(smtp_port)], feed="http://127.0.0.1:9/feed.xml")
    ids = seed(config, 3)
    down = send_outbox(config)  # nothing listens on the port yet
    assert down.sent == 0 and down.failed >= 1
    assert all("Connection" in e or "connect" in e for e in down.errors)
    controller.start()
    up = send_outbox(config)
    assert up.sent == 3
    assert send_outbox(config).sent == 0
    bodies = [_parts(m)["text/plain"] for m in box.messages]
    assert [sum(i in b for b in bodies) for i in ids] == [1, 1, 1]
    assert len(box.messages) == 3

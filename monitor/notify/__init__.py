"""Notify: the outbox sender. Pending deliveries are sent through apprise and marked sent
right after; a failure stays pending (retried within the pass with backoff, and at the
next pass) until `alerts.max_attempts`, then it is marked dead and reported."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import apprise

from monitor.config import CONSOLE_ROUTE, AlertSettings, Config, Route, redact
from monitor.notify.render import Message, render, render_digest
from monitor.store import Delivery, DevelopmentRecord, Store, route_key

__all__ = ["Message", "SendReport", "render", "render_digest", "send_message", "send_pending"]

Printer = Callable[[Message], None]


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _reason(result: apprise.AppriseResult) -> str:
    for attempt in result.results:
        for log in getattr(attempt, "logs", lambda: [])() if callable(getattr(attempt, "logs", None)) else []:
            return redact(str(getattr(log, "message", log)))
    msgs = [redact(str(getattr(entry, "message", entry))) for entry in result.logs()]
    return msgs[-1] if msgs else "the notification service refused the message"


def send_message(url: str, message: Message, printer: Printer | None = None) -> str | None:
    """Send one message to one route; None on success, else the reason (redacted)."""
    if url == CONSOLE_ROUTE:
        if printer:
            printer(message)
        return None
    app = apprise.Apprise()
    if not app.add(url):
        return f"invalid apprise URL {redact(url)}"
    fmt = apprise.NotifyFormat.HTML if url.startswith(("mailto", "mailtos")) else apprise.NotifyFormat.TEXT
    body = message.html if fmt == apprise.NotifyFormat.HTML else message.text
    result = app.notify(body=body, title=message.title, body_format=fmt)
    return None if result else _reason(result)


def _escape_for(url: str) -> str:
    return "slack" if url.startswith("slack") else ""


def _routes(config: Config) -> dict[str, Route]:
    return {route_key(r.url): r for t in config.topics for r in t.notify}


def send_pending(store: Store, config: Config, mode: str = "instant", printer: Printer | None = None,
                 settings: AlertSettings | None = None) -> SendReport:
    """Send every pending delivery of `mode`: instant ones one by one, digest ones as one
    message per route."""
    settings = settings or config.alerts
    routes = _routes(config)
    report = SendReport()
    pending = [d for d in (store.delivery(i) for i in store.claim_pending(mode)) if d is not None]
    batches: dict[str, list[Delivery]] = {}
    for d in pending:
        if d.route_key not in routes:
            continue  # the route was removed from the config: keep it pending, reported by `deliveries`
        batches.setdefault(d.route_key, []).append(d)
    for key, items in batches.items():
        url = routes[key].url
        groups = [[d] for d in items] if mode == "instant" else [items]
        for group in groups:
            devs: list[DevelopmentRecord] = [d.development for d in group]
            msg = render(devs[0], _escape_for(url)) if mode == "instant" else render_digest(devs, _escape_for(url))
            error = _send_with_retries(url, msg, printer, settings)
            ids = [d.id for d in group]
            if error is None:
                store.mark_sent(ids)
                report.sent += len(ids)
            else:
                store.mark_failed(ids, error, settings.max_attempts)
                report.failed += len(ids)
                report.errors.append(f"{redact(url)}: {error}")
                report.dead += sum(1 for d in group if d.attempts + 1 >= settings.max_attempts)
    return report


def _send_with_retries(url: str, msg: Message, printer: Printer | None, settings: AlertSettings) -> str | None:
    error = send_message(url, msg, printer)
    for attempt in range(settings.retries_in_pass):
        if error is None:
            break
        time.sleep(settings.backoff_seconds * (2**attempt))
        error = send_message(url, msg, printer)
    return error

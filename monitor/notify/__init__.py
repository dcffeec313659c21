"""Notify: the outbox sender.

A development and one delivery row per route are committed together (Store.save_article).
This module sends those rows: claim (pending/failed -> sending, under a claim token),
send through apprise, mark sent (with the time and the route's answer) or failed. A failing
route is retried within the pass with bounded exponential backoff, then left for the next
pass; after `alerts.max_attempts` failed passes a delivery is marked dead and reported.

At-least-once window: a send that completed but whose `mark_sent` was not committed (the
process died in between, a few milliseconds) is sent again by the next pass. Nothing else
can double a message: a claim is a compare-and-set, and a crashed claim is only taken
back when its sender is dead (same host, its process gone) or the claim is older than
`alerts.claim_timeout_seconds` (a sender on another host). See docs/alerts.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from monitor.config import CONSOLE_ROUTE, AlertSettings, Config, Route, redact
from monitor.notify.render import Message, render, render_digest
from monitor.store import Delivery, Store, route_key

if TYPE_CHECKING:
    import apprise

__all__ = ["Message", "Outcome", "SendReport", "claimer_alive", "deliver_message", "new_token", "render",
           "render_digest", "send_message", "send_pending"]

Printer = Callable[[Message], None]

# apprise logs with the standard logging module, unredacted (its debug lines carry full
# URLs). Those records stay inside apprise: the reasons we keep and print are redacted
# copies taken from the notify result.
_apprise_log = logging.getLogger("apprise")
_apprise_log.addHandler(logging.NullHandler())
_apprise_log.propagate = False

# Consecutive failed deliveries after which a route counts as down for the rest of the pass
# (one failure may be the message's fault; two in a row, the route's). Not attempted
# deliveries keep their attempt count: an outage kills at most the head of the queue.
ROUTE_DOWN_AFTER = 2
_ACTIVE_TOKENS: set[str] = set()  # claim tokens of sends running in this process


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0  # not tried this pass: their route had just failed, or it left the config
    errors: list[str] = field(default_factory=list)  # redacted, one line each


@dataclass
class Outcome:
    ok: bool
    detail: str  # the route's answer when ok, else why it failed (redacted either way)


# -- one message to one route --------------------------------------------------------------

def _format_for(url: str) -> str:
    """HTML for email (apprise sends multipart/alternative: text/plain derived from the
    HTML, plus text/html), plain text for everything else (Slack escapes it)."""
    scheme = url.split("://", 1)[0].lower()
    return "html" if scheme in ("mailto", "mailtos") else "text"  # apprise.NotifyFormat values


def _log_lines(result: apprise.AppriseResult, minimum: int) -> list[str]:
    lines = []
    for entry in result.logs():
        level = getattr(entry, "level", logging.WARNING)  # a name ("WARNING") in apprise 2
        if isinstance(level, str):
            level = logging.getLevelName(level.upper())
        if not isinstance(level, int) or level >= minimum:
            lines.append(redact(" ".join(str(getattr(entry, "message", entry)).split())))
    return lines


HEADER_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms")  # apprise web hooks: custom headers


def with_idempotency_key(url: str, key: str | None) -> str:
    """For generic web hooks, add the delivery's idempotency key as an `Idempotency-Key`
    header (apprise's `+Header=value` URL argument), so a receiver can drop the resend of
    the at-least-once window. Other services have no such field."""
    scheme = url.split("://", 1)[0].lower()
    if not key or scheme not in HEADER_SCHEMES or "+idempotency-key=" in url.lower():
        return url
    return f"{url}{'&' if '?' in url else '?'}+Idempotency-Key={quote(key, safe='')}"


def deliver_message(url: str, message: Message, printer: Printer | None = None,
                    key: str | None = None) -> Outcome:
    """Send one message to one route, once; never raises for a route's failure."""
    if url == CONSOLE_ROUTE:
        if printer:
            printer(message)
        return Outcome(True, "printed")
    import apprise  # on first send: a pass with nothing to send never pays for its import

    app = apprise.Apprise()
    if not app.add(with_idempotency_key(url, key)):
        return Outcome(False, f"invalid apprise URL {redact(url)}")
    fmt = _format_for(url)
    body = message.html if fmt == "html" else message.text
    try:
        result = app.notify(body=body, title=message.title, body_format=fmt)
    except Exception as exc:  # a plugin bug must not stop the outbox
        return Outcome(False, redact(f"{type(exc).__name__}: {exc}"))
    if result:
        names = ", ".join(getattr(r, "name", "?") for r in result) or "apprise"
        return Outcome(True, f"accepted by {names} in {getattr(result, 'elapsed', 0.0):.2f}s")
    problems = _log_lines(result, logging.WARNING) or ["the notification service refused the message"]
    return Outcome(False, problems[-1][:500])


def send_message(url: str, message: Message, printer: Printer | None = None) -> str | None:
    """Send one message to one route; None on success, else the reason (redacted)."""
    outcome = deliver_message(url, message, printer)
    return None if outcome.ok else outcome.detail


def _send_with_retries(url: str, msg: Message, printer: Printer | None, settings: AlertSettings,
                       key: str) -> Outcome:
    outcome = deliver_message(url, msg, printer, key)
    for attempt in range(settings.retries_in_pass):
        if outcome.ok:
            break
        time.sleep(min(settings.backoff_max_seconds, settings.backoff_seconds * 2**attempt))
        outcome = deliver_message(url, msg, printer, key)
    return outcome


# -- claims --------------------------------------------------------------------------------

def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (Linux), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _start_time(pid: int) -> str:
    stat = _proc_stat(pid)
    return stat[19] if stat and len(stat) > 19 else "0"  # field 22: start time in clock ticks


def new_token() -> str:
    """host/pid/process start/nonce: enough to tell later whether the claimer still runs
    (the start time tells a reused pid from the original process)."""
    return f"{socket.gethostname()}/{os.getpid()}/{_start_time(os.getpid())}/{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: trust the pid
    if stat[0] == "Z":  # killed, not yet reaped: dead for our purpose
        return False
    return started in ("", "0") or _start_time(pid) == started


def claimer_alive(token: str) -> bool:
    """Whether the sender that holds a claim may still be working. Unknown (another host)
    counts as alive: such claims are taken back only after alerts.claim_timeout_seconds."""
    host, pid_text, started = ([*token.split("/"), "", ""])[:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid() and started == _start_time(pid):
        return token in _ACTIVE_TOKENS
    return _pid_alive(pid, started)


# -- the outbox ----------------------------------------------------------------------------

def _routes(config: Config) -> dict[str, Route]:
    return {route_key(r.url): r for t in config.topics for r in t.notify}


def _deliver(store: Store, route: Route, items: list[Delivery], mode: str, printer: Printer | None,
             settings: AlertSettings, report: SendReport) -> bool:
    """Send claimed deliveries as one message (instant: one item; digest: all); mark them."""
    devs = [d.development for d in items]
    msg = render(devs[0]) if mode == "instant" else render_digest(devs)
    key = items[0].key if mode == "instant" else \
        "digest:" + hashlib.sha256(" ".join(d.key for d in items).encode()).hexdigest()[:24]
    outcome = _send_with_retries(route.url, msg, printer, settings, key)
    ids = [d.id for d in items]
    if outcome.ok:
        store.mark_sent(ids, outcome.detail)  # right away: this is the at-least-once window
        report.sent += len(ids)
        return True
    dead = store.mark_failed(ids, outcome.detail, settings.max_attempts)
    report.failed += len(ids)
    report.dead += len(dead)
    which = ", ".join(d.development_id for d in items)
    report.errors.append(f"{redact(route.url)} [{which}]: {outcome.detail}"
                         + (f" (dead after {settings.max_attempts} attempts)" if dead else ""))
    return False


def send_pending(store: Store, config: Config, mode: str = "instant", printer: Printer | None = None,
                 settings: AlertSettings | None = None) -> SendReport:
    """Send every pending (or failed) delivery of `mode`: instant ones one message each,
    digest ones one message per route. Safe to run in several processes at once."""
    settings = settings or config.alerts
    routes = _routes(config)
    report = SendReport()
    store.release_stale(settings.claim_timeout_seconds, claimer_alive)
    queue: dict[str, list[int]] = {}
    for delivery_id, key in store.queue(mode):
        queue.setdefault(key, []).append(delivery_id)
    token = new_token()
    _ACTIVE_TOKENS.add(token)
    try:
        for key, ids in queue.items():
            route = routes.get(key)
            if route is None:  # the route left the config: kept, listed by `monitor deliveries`
                report.deferred += len(ids)
                continue
            batches = [[i] for i in ids] if mode == "instant" else [ids]
            failures = 0
            for n, batch in enumerate(batches):
                items = store.claim(batch, token)
                if not items:
                    continue  # another sender got there first
                try:
                    ok = _deliver(store, route, items, mode, printer, settings, report)
                except BaseException:  # interrupted: give the claim back (if the store still
                    # answers; else it is taken back once this process is gone)
                    with contextlib.suppress(Exception):
                        store.unclaim([d.id for d in items], token, "sender interrupted during the send")
                    raise
                failures = 0 if ok else failures + 1
                if failures >= ROUTE_DOWN_AFTER:  # leave the rest for the next pass
                    report.deferred += sum(len(b) for b in batches[n + 1:])
                    break
    finally:
        _ACTIVE_TOKENS.discard(token)
    return report

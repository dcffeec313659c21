"""Hostile HTTP handlers for the conftest LocalServer: endless, dripping, stalling, counting.

Every handler stops as soon as the client goes away (a write to a closed socket raises) and
has its own upper bound, so a test that goes wrong cannot leave a thread serving forever.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

Handler = Callable[[BaseHTTPRequestHandler], None]
MB = 1 << 20


@dataclass
class Sent:
    """What a handler managed to send before it stopped (shared with the test)."""

    bytes: int = 0
    requests: int = 0
    done: threading.Event = field(default_factory=threading.Event)


def _write(req: BaseHTTPRequestHandler, data: bytes, sent: Sent) -> bool:
    """Write and flush; False once the client has gone."""
    try:
        req.wfile.write(data)
        req.wfile.flush()
    except OSError:
        return False
    sent.bytes += len(data)
    return True


def endless(total: int = 200 * MB, chunk: int = 64 * 1024, declare_length: bool = False,
            content_type: str = "application/rss+xml", sent: Sent | None = None) -> Handler:
    """A body of `total` bytes generated lazily (never held in memory), close-delimited
    unless `declare_length`."""
    sent = sent if sent is not None else Sent()
    block = (b"<item><title>x</title></item>" * (chunk // 29 + 1))[:chunk]

    def handle(req: BaseHTTPRequestHandler) -> None:
        sent.requests += 1
        req.close_connection = True
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        if declare_length:
            req.send_header("Content-Length", str(total))
        req.end_headers()
        left = total
        while left > 0 and _write(req, block[:left], sent):
            left -= len(block)
        sent.done.set()

    return handle


def drip(body: bytes = b"<rss>" + b" " * 1000, interval: float = 0.2, headers_too: bool = False,
         sent: Sent | None = None) -> Handler:
    """Sends one byte every `interval` seconds (the status line and headers too, if asked)."""
    sent = sent if sent is not None else Sent()

    def handle(req: BaseHTTPRequestHandler) -> None:
        sent.requests += 1
        req.close_connection = True
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        if headers_too:
            data = head + body
        else:
            if not _write(req, head, sent):
                return
            data = body
        for i in range(len(data)):
            if not _write(req, data[i:i + 1], sent):
                break
            time.sleep(interval)
        sent.done.set()

    return handle


def gzip_bomb(size: int = 50 * MB, sent: Sent | None = None) -> Handler:
    """A small gzip body that inflates to `size` bytes of zeros."""
    sent = sent if sent is not None else Sent()
    packed = gzip.compress(b"\0" * size, compresslevel=9)

    def handle(req: BaseHTTPRequestHandler) -> None:
        sent.requests += 1
        req.send_response(200)
        req.send_header("Content-Type", "text/html")
        req.send_header("Content-Encoding", "gzip")
        req.send_header("Content-Length", str(len(packed)))
        req.end_headers()
        _write(req, packed, sent)

    return handle


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    """A plain answer (for use inside other handlers)."""

    def handle(req: BaseHTTPRequestHandler) -> None:
        req.send_response(status)
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handle


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler (the last one repeats)."""
    calls = [0]

    def handle(req: BaseHTTPRequestHandler) -> None:
        i = min(calls[0], len(handlers) - 1)
        calls[0] += 1
        handlers[i](req)

    return handle


def in_flight_counter(inner: Handler, hold: float = 0.3) -> tuple[Handler, list[int]]:
    """Wraps `inner`, holding each request `hold` seconds before answering; [current, peak]
    counts of requests held at once."""
    counts = [0, 0]
    lock = threading.Lock()

    def handle(req: BaseHTTPRequestHandler) -> None:
        with lock:
            counts[0] += 1
            counts[1] = max(counts[1], counts[0])
        time.sleep(hold)
        with lock:  # before answering: once answered, the client may send its next request at once
            counts[0] -= 1
        inner(req)

    return handle, counts


def run_bounded(fn: Callable[[], object], seconds: float = 30.0) -> object:
    """Run `fn` in a thread and fail the test if it has not returned within `seconds`
    (a hang guard far above the expected time, not a speed assertion)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")

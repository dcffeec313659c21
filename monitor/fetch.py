"""HTTP with limits: every request has a total deadline, a byte cap, checked redirects and an
address guard, so nothing a server sends can hang or exhaust a pass.

Redirects are followed by hand so that every hop is checked against the guard and loops are
caught. Conditional GET validators (ETag, Last-Modified) go in and come out of `fetch`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from monitor.config import FetchSettings


class FetchError(Exception):
    """A request that did not give us a usable body; the message says why, in one line."""


@dataclass
class Response:
    url: str  # final URL after redirects
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    charset: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def forbidden_address(ip: str) -> str | None:
    """Why an address must not be fetched from (None when it is a public unicast address).

    Covers loopback, private ranges, carrier-grade NAT, link-local (cloud metadata lives
    there), multicast, reserved and unspecified addresses, and IPv4 mapped into IPv6.
    """
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    checks = [
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("multicast", addr.is_multicast),
        ("unspecified", addr.is_unspecified),
        ("private", addr.is_private),
        ("shared address space", addr in ipaddress.ip_network("100.64.0.0/10")),
        ("reserved", addr.is_reserved),
    ]
    return next((name for name, hit in checks if hit), None)


def check_url(url: str, allow_private: bool, resolve: Callable[[str], list[str]] | None = None) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to a forbidden address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"refused scheme {parts.scheme or '(none)'!r}: only http and https")
    if not parts.hostname:
        raise FetchError("URL has no host")
    if allow_private:
        return
    for ip in (resolve or resolve_host)(parts.hostname):
        why = forbidden_address(ip)
        if why:
            raise FetchError(f"refused {parts.hostname}: resolves to {why} address {ip}")


def resolve_host(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"DNS lookup failed for {host}: {exc.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class HostGate:
    """At most `per_host` requests in flight to one host (politeness)."""

    per_host: int
    _locks: dict[str, threading.Semaphore] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, host: str) -> threading.Semaphore:
        with self._guard:
            return self._locks.setdefault(host, threading.Semaphore(self.per_host))


class Fetcher:
    """A shared, thread-safe HTTP client with the limits from `FetchSettings`."""

    def __init__(self, settings: FetchSettings):
        self.settings = settings
        timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=settings.concurrency),
        )
        self.gate = HostGate(settings.per_host)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
              accept: str = "*/*") -> Response:
        """GET `url` within the limits; a 304 comes back as a Response with status 304.

        Raises FetchError for anything else that is not a 2xx with a body under the cap.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen: set[str] = set()
        deadline = time.monotonic() + self.settings.timeout
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            seen.add(current)
            check_url(current, self.settings.allow_private_addresses)
            host = urlsplit(current).hostname or ""
            with self.gate(host):
                response = self._get(current, headers, deadline)
            if isinstance(response, str):  # a redirect target
                current = response
                continue
            return response
        raise FetchError(f"more than {self.settings.max_redirects} redirects")

    def _get(self, url: str, headers: dict[str, str], deadline: float) -> Response | str:
        """One request: a Response, or the absolute URL a redirect points to."""
        retried = False
        while True:
            try:
                with self.client.stream("GET", url, headers=headers) as r:
                    if r.is_redirect:
                        location = r.headers.get("Location")
                        if not location:
                            raise FetchError(f"HTTP {r.status_code} redirect without Location")
                        return urljoin(url, location)
                    wait = retry_after_seconds(r.headers.get("Retry-After"))
                    if r.status_code in (429, 503) and not retried and wait is not None \
                            and wait <= self.settings.retry_after_max \
                            and time.monotonic() + wait < deadline:
                        retried = True
                        time.sleep(wait)
                        continue
                    if r.status_code == 304:
                        return self._response(url, r, b"")
                    if r.status_code >= 400:
                        raise FetchError(f"HTTP {r.status_code} {r.reason_phrase}".strip())
                    declared = r.headers.get("Content-Length")
                    if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
                        raise FetchError(f"body of {int(declared)} bytes is over the cap of "
                                         f"{self.settings.max_bytes} (fetch.max_bytes)")
                    return self._response(url, r, self._read(r, deadline))
            except httpx.TimeoutException:
                raise FetchError(f"timed out (fetch.timeout {self.settings.timeout:g} s)") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    def _read(self, r: httpx.Response, deadline: float) -> bytes:
        """The body, streamed: aborted at the byte cap or when the total deadline passes."""
        chunks: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > self.settings.max_bytes:
                raise FetchError(f"body over the cap of {self.settings.max_bytes} bytes (fetch.max_bytes)")
            if time.monotonic() > deadline:
                raise FetchError(f"timed out (fetch.timeout {self.settings.timeout:g} s)")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _response(url: str, r: httpx.Response, body: bytes) -> Response:
        ctype = r.headers.get("Content-Type", "")
        return Response(url=url, status=r.status_code, content=body, content_type=ctype.split(";")[0].strip(),
                        etag=r.headers.get("ETag"), last_modified=r.headers.get("Last-Modified"),
                        charset=r.charset_encoding)

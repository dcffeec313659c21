"""HTTP with limits: every request has a total deadline, a byte cap, checked redirects and an
address guard, so nothing a server sends can hang or exhaust a pass.

Redirects are followed by hand so that every hop is checked and loops are caught. The address
guard sits in the connection layer (`GuardedBackend`): the host is resolved once, every
address is checked, and the socket is opened to the address that was checked, so a DNS answer
that changes between check and connect (DNS rebinding) cannot slip through. The total
deadline is enforced there too: every socket read and write gets at most the time left, so a
server that drips one byte a second is cut at the deadline, not at the next read timeout.

Conditional GET validators (ETag, Last-Modified) go in and come out of `fetch`.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from monitor.config import FetchSettings

Resolver = Callable[[str], list[str]]
ROBOTS_MAX_BYTES = 500_000  # RFC 9309 lets crawlers stop reading robots.txt after 500 KiB


class FetchError(Exception):
    """A request that did not give us a usable body; the message says why, in one line."""


class ForbiddenAddress(FetchError):
    """A URL whose host resolves to an address we must not connect to (SSRF guard)."""


@dataclass
class Response:
    url: str  # final URL after redirects
    status: int
    content: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    charset: str | None = None
    redirects: list[str] = field(default_factory=list)  # URLs passed through before `url`

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


def check_scheme(url: str) -> None:
    """Refuse anything but http(s) URLs with a host (checked before any connection)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"refused scheme {parts.scheme or '(none)'!r}: only http and https")
    if not parts.hostname:
        raise FetchError("URL has no host")


def check_url(url: str, allow_private: bool, resolve: Resolver | None = None) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to a forbidden address.

    `Fetcher` does the address part in its connection layer; this is for callers that only
    want to know."""
    check_scheme(url)
    if not allow_private:
        host = urlsplit(url).hostname or ""
        check_addresses(host, (resolve or resolve_host)(host))


def check_addresses(host: str, ips: Iterable[str]) -> None:
    """Raise ForbiddenAddress if any address of `host` is forbidden (a name with one private
    record among public ones is refused whole)."""
    for ip in ips:
        why = forbidden_address(ip)
        if why:
            raise ForbiddenAddress(f"refused {host}: resolves to {why} address {ip} "
                                   "(fetch.allow_private_addresses is off)")


def resolve_host(host: str) -> list[str]:
    """The addresses of `host` (an IP literal is its own answer), in getaddrinfo's order."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"DNS lookup failed for {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


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


def is_loopback_host(host: str) -> bool:
    """localhost or a loopback IP literal: this machine, where spacing requests protects nobody
    (no DNS lookup: a name is judged by itself)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class HostGate:
    """Politeness per host: at most `per_host` requests in flight, and request starts at least
    `min_delay` seconds apart (not for this machine's own loopback servers)."""

    per_host: int
    min_delay: float = 0.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _locks: dict[str, threading.Semaphore] = field(default_factory=dict)
    _next_start: dict[str, float] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, host: str) -> threading.Semaphore:
        with self._guard:
            return self._locks.setdefault(host, threading.Semaphore(self.per_host))

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Hold one of the host's slots; waits for the minimum delay since the last start."""
        with self(host):
            with self._guard:  # reserve a start time, then sleep outside the lock
                now = self.clock()
                start = max(now, self._next_start.get(host, now))
                self._next_start[host] = start + (0.0 if is_loopback_host(host) else self.min_delay)
            if start > now:
                self.sleep(start - now)
            yield


class Deadline(threading.local):
    """The current request's monotonic deadline, per thread (None outside a request)."""

    at: float | None = None

    def left(self, timeout: float | None) -> float | None:
        """`timeout` shortened to the time left; raises when none is left."""
        if self.at is None:
            return timeout
        left = self.at - time.monotonic()
        if left <= 0:
            raise httpcore.ReadTimeout("total deadline passed")
        return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline):
        self.inner, self.deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.deadline.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self.inner.start_tls(ssl_context, server_hostname, self.deadline.left(timeout))
        return DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses that passed the guard, within the deadline."""

    _dns_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns")

    def __init__(self, allow_private: bool, deadline: Deadline, resolve: Resolver = resolve_host,
                 allowed_hosts: frozenset[str] = frozenset()):
        self.allow_private, self.deadline, self.resolve = allow_private, deadline, resolve
        self.allowed_hosts = allowed_hosts
        self.inner = httpcore.SyncBackend()

    def addresses(self, host: str, timeout: float | None) -> list[str]:
        """Resolve with a time limit (getaddrinfo itself cannot be interrupted)."""
        try:
            ips = self._dns_pool.submit(self.resolve, host).result(timeout=timeout)
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"DNS lookup for {host} timed out") from None
        if not ips:
            raise FetchError(f"DNS lookup for {host} found no address")
        if not self.allow_private and host not in self.allowed_hosts:
            check_addresses(host, ips)
        return ips

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        timeout = self.deadline.left(timeout)
        error: Exception | None = None
        for ip in self.addresses(host, timeout):
            try:  # connect to the very address that was checked
                stream = self.inner.connect_tcp(ip, port, self.deadline.left(timeout), local_address,
                                                socket_options)
                return DeadlineStream(stream, self.deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise FetchError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every client of the process: loading the CA bundle takes ~25 ms."""
    return httpx.create_ssl_context()


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over `GuardedBackend`, never through an environment proxy."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits):
        super().__init__(verify=ssl_context(), limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=backend)


def user_agent(settings: FetchSettings) -> str:
    """The User-Agent: the configured one, plus the contact URL when one is set."""
    contact = settings.contact.strip()
    if contact and contact not in settings.user_agent:
        return f"{settings.user_agent} (+{contact})"
    return settings.user_agent


class Fetcher:
    """A shared, thread-safe HTTP client with the limits from `FetchSettings`.

    `resolve` and `allowed_hosts` exist for tests: a resolver that maps a made-up public name
    to 127.0.0.1, and hosts exempt from the address guard."""

    def __init__(self, settings: FetchSettings, resolve: Resolver = resolve_host,
                 allowed_hosts: Iterable[str] = ()):
        self.settings = settings
        self.deadline = Deadline()
        backend = GuardedBackend(settings.allow_private_addresses, self.deadline, resolve,
                                 frozenset(allowed_hosts))
        limits = httpx.Limits(max_connections=settings.concurrency)
        self.client = httpx.Client(
            transport=GuardedTransport(backend, limits),
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            follow_redirects=False, trust_env=False,
            headers={"User-Agent": user_agent(settings), "Accept-Encoding": "gzip, deflate"},
        )
        self.gate = HostGate(settings.per_host, settings.min_delay)
        self._robots: dict[str, tuple[RobotFileParser | None, str]] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_guard = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
              accept: str = "*/*", max_bytes: int | None = None) -> Response:
        """GET `url` within the limits; a 304 comes back as a Response with status 304.

        Raises FetchError for anything else that is not a 2xx with a body under the cap.
        The total deadline (fetch.timeout) starts when the first hop gets its host slot and
        covers every redirect hop, Retry-After wait and body byte.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen: list[str] = []
        deadline: float | None = None
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            check_scheme(current)
            with self.gate.slot(urlsplit(current).hostname or ""):
                deadline = deadline or time.monotonic() + self.settings.timeout
                self.deadline.at = deadline  # every socket read and write of this thread ends by then
                try:
                    response = self._get(current, headers, deadline, max_bytes or self.settings.max_bytes)
                finally:
                    self.deadline.at = None
            seen.append(current)
            if isinstance(response, str):  # a redirect target
                current = response
                continue
            response.redirects = seen[:-1]
            return response
        raise FetchError(f"more than {self.settings.max_redirects} redirects (fetch.max_redirects)")

    def _get(self, url: str, headers: dict[str, str], deadline: float, cap: int) -> Response | str:
        """One request: a Response, or the absolute URL a redirect points to."""
        retried = False
        while True:
            try:
                with self.client.stream("GET", url, headers=headers) as r:
                    if r.is_redirect and r.status_code != 304:  # httpx counts 304 as a redirect
                        location = r.headers.get("Location")
                        if not location:
                            raise FetchError(f"HTTP {r.status_code} redirect without Location")
                        return urljoin(url, location.strip())
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
                        later = f" (Retry-After {wait:g} s)" if wait is not None else ""
                        raise FetchError(f"HTTP {r.status_code} {r.reason_phrase}".strip() + later)
                    declared = r.headers.get("Content-Length", "").strip()
                    if declared.isdigit() and int(declared) > cap:
                        raise FetchError(f"body of {int(declared)} bytes is over the cap of {cap} "
                                         "(fetch.max_bytes)")
                    return self._response(url, r, self._read(r, deadline, cap))
            except httpx.TimeoutException:
                raise FetchError(f"timed out (fetch.timeout {self.settings.timeout:g} s)") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    def _read(self, r: httpx.Response, deadline: float, cap: int) -> bytes:
        """The body, streamed: aborted at the byte cap or when the total deadline passes.

        Counted after decompression, so a gzip bomb stops at the cap too."""
        chunks: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(f"body over the cap of {cap} bytes (fetch.max_bytes)")
            if time.monotonic() > deadline:
                raise FetchError(f"timed out (fetch.timeout {self.settings.timeout:g} s)")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _response(url: str, r: httpx.Response, body: bytes) -> Response:
        ctype = r.headers.get("Content-Type", "")
        try:
            charset = r.charset_encoding
        except (LookupError, ValueError):
            charset = None
        return Response(url=url, status=r.status_code, content=body,
                        content_type=ctype.split(";")[0].strip().lower(), etag=r.headers.get("ETag"),
                        last_modified=r.headers.get("Last-Modified"),
                        charset=charset)

    # -- robots.txt -----------------------------------------------------------------------

    def robots_allows(self, url: str) -> bool:
        """Whether the host's robots.txt lets our User-Agent fetch `url` (cached per host)."""
        return self.robots_refusal(url) is None

    def robots_refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from `url`, or None when it may be fetched (cached per host).

        RFC 9309: a missing robots.txt (any 4xx) allows everything; an unreachable one (5xx,
        timeout, refused connection) disallows the whole host for this run. A host the address
        guard refuses is left to the page fetch, which then says so."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_guard:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one fetch per host even when many threads ask at once
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin)
        rules, unreachable = self._robots[origin]
        if unreachable:
            return f"robots.txt unreachable ({unreachable}): host skipped this run (fetch.respect_robots)"
        agent = self.settings.user_agent.split("/", 1)[0].split()[0]
        if rules is not None and not rules.can_fetch(agent, url):
            return "disallowed by robots.txt (fetch.respect_robots)"
        return None

    def _load_robots(self, origin: str) -> tuple[RobotFileParser | None, str]:
        """(rules or None for no rules, why robots.txt was unreachable or "")."""
        try:
            resp = self.fetch(origin + "/robots.txt", accept="text/plain", max_bytes=ROBOTS_MAX_BYTES)
        except ForbiddenAddress:
            return None, ""
        except FetchError as exc:
            text = str(exc)
            if text.startswith("HTTP 4") or "over the cap" in text or "refused scheme" in text:
                return None, ""
            return None, text
        rules = RobotFileParser(origin + "/robots.txt")
        rules.parse(resp.content.decode("utf-8", errors="replace").splitlines())
        return rules, ""

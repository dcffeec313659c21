"""Configuration: one YAML file, validated by pydantic.

`${VAR}` and `${VAR:-default}` in any string value are replaced from the environment, so
webhook URLs and passwords stay out of the file. Relative paths (baseline folders, SQLite
files) resolve against the config file's folder. Every error names the file and the key.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
CONSOLE_ROUTE = "console://"


class ConfigError(Exception):
    """A config file that cannot be used; the message is one line for the user."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FetchSettings(Strict):
    """How we talk to the web. Every limit has a default and a key."""

    allow_private_addresses: bool = False
    timeout: float = Field(20.0, gt=0, description="total seconds per request, body included")
    connect_timeout: float = Field(5.0, gt=0)
    max_bytes: int = Field(5_000_000, gt=1000, description="byte cap per response")
    max_redirects: int = Field(5, ge=0, le=20)
    max_articles_per_feed: int = Field(50, ge=1)
    concurrency: int = Field(8, ge=1, le=64, description="requests in flight in all")
    per_host: int = Field(2, ge=1, le=16, description="requests in flight per host")
    user_agent: str = "news-monitor/0.1 (+https://github.com/news-monitor/news-monitor)"
    retry_after_max: float = Field(30.0, ge=0, description="longest Retry-After we wait inside a pass")
    contact: str = Field("", description="contact URL or mail added to the User-Agent, e.g. https://example.org/bot")
    min_delay: float = Field(0.5, ge=0, le=60, description="seconds between request starts to one host")
    respect_robots: bool = Field(True, description="skip article pages that robots.txt disallows")
    max_page_bytes: int = Field(3_000_000, gt=1000, description="largest HTML page handed to extraction")
    max_page_elements: int = Field(10_000, ge=100, description="most HTML elements in a page we extract")
    max_page_depth: int = Field(1_600, ge=50, description="deepest HTML nesting (rough count) we extract")


class Route(Strict):
    """One alert destination: an apprise URL with a delivery mode."""

    url: str
    mode: Literal["instant", "digest"] = "instant"
    min_confidence: float = Field(0.0, ge=0, le=1)

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, url: str) -> str:
        if url == CONSOLE_ROUTE:
            return url
        import apprise  # imported lazily: it is slow to import and only needed here

        if not apprise.Apprise().add(url):
            raise ValueError(f"not a valid apprise URL: {redact(url)}")
        return url


class Topic(Strict):
    """What to watch: a subject, its baseline (articles already known) and its sources."""

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    keywords: list[str] = Field(default_factory=list)
    baseline: Path
    feeds: list[str] = Field(default_factory=list)
    notify: list[Route] = Field(default_factory=list)

    @field_validator("notify", mode="before")
    @classmethod
    def _routes(cls, value: Any) -> Any:
        """Accept plain URL strings; drop empty ones (an unset `${VAR:-}`)."""
        if not isinstance(value, list):
            return value
        routes = [{"url": v} if isinstance(v, str) else v for v in value]
        return [r for r in routes if not (isinstance(r, dict) and r.get("url") == "")]

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, feeds: list[str]) -> list[str]:
        feeds = [f.strip() for f in feeds if f.strip()]
        for feed in feeds:
            if not re.match(r"https?://", feed):
                raise ValueError(f"feed must be an http(s) URL: {feed}")
        return feeds

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


class AlertSettings(Strict):
    """Outbox policy: how often and how long a failing route is retried."""

    max_attempts: int = Field(8, ge=1, description="failed sends before a delivery is marked dead")
    retries_in_pass: int = Field(2, ge=0, le=10)
    backoff_seconds: float = Field(1.0, ge=0)
    backoff_max_seconds: float = Field(30.0, ge=0, description="longest wait between two tries in a pass")
    claim_timeout_seconds: float = Field(600.0, gt=0, description="a claim older than this is taken "
                                         "back (a sender on another host that died mid-send)")


class Config(Strict):
    state: str = "sqlite:///state/monitor.db"
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    timezone: str = "UTC"
    topics: list[Topic] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [t.name for t in self.topics]
        if len(set(names)) != len(names):
            raise ValueError("topic names must be unique")
        return self

    def topic(self, name: str | None) -> list[Topic]:
        """The topics a command works on: all, or the one named (by name or slug)."""
        if name is None:
            return list(self.topics)
        found = [t for t in self.topics if name in (t.name, t.slug)]
        if not found:
            raise ConfigError(f"no topic named {name!r}; topics: {', '.join(t.name for t in self.topics)}")
        return found


WEB_SCHEMES = ("http", "https", "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos")


def redact(text: str) -> str:
    """Hide credentials in URLs: user:password@, token-like query values, and the token path
    of service URLs (slack://T../B../secret). Plain web URLs keep their readable path."""
    text = re.sub(r"(://)[^/@\s]+@", r"\1***@", text)
    text = re.sub(r"([?&][^=&\s]*(?:key|token|pass|secret|auth|sig)[^=&\s]*=)[^&\s]+", r"\1***", text, flags=re.I)

    def service(match: re.Match[str]) -> str:
        scheme, host, path = match.group(1), match.group(2), match.group(3) or ""
        if scheme.lower() in WEB_SCHEMES:
            path = re.sub(r"/[A-Za-z0-9_\-]{20,}", "/***", path)  # long opaque webhook tokens
            return f"{scheme}://{host}{path}"
        return f"{scheme}://{host[:4]}***" if path or len(host) > 12 else f"{scheme}://{host}"

    return re.sub(r"\b([a-z][a-z0-9+.\-]*)://([^/\s?]+)(/[^\s?]*)?", service, text, flags=re.I)


def interpolate(value: Any, path: str = "") -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string of a parsed YAML tree."""
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return ENV_REF.sub(sub, value)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    state = data.get("state")
    if isinstance(state, str) and state.startswith("sqlite:///") and not state.startswith("sqlite:////"):
        rel = state.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            data["state"] = f"sqlite:///{(base / rel).resolve()}"
    for topic in data.get("topics") or []:
        if isinstance(topic, dict) and isinstance(topic.get("baseline"), str):
            topic["baseline"] = str((base / os.path.expanduser(topic["baseline"])).resolve())


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{key}: {msg}{more}"


def load_config(path: str | Path) -> Config:
    """Read, interpolate, resolve and validate a config file; raise ConfigError on any problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping with a 'topics' list")
    try:
        data = interpolate(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    _resolve_paths(data, path.parent.resolve())
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None
    for i, topic in enumerate(config.topics):
        if not topic.baseline.is_dir():
            raise ConfigError(f"{path}: topics[{i}].baseline: folder not found: {topic.baseline}")
    return config

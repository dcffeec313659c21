"""The vocabulary of detection: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Figure:
    """A quantity in a sentence: `value` (low end of a range), `high` for ranges, what it
    counts (`unit`: stems of the counted noun phrase, or 'percent'/'money'), a qualifier."""

    value: float
    unit: tuple[str, ...]
    text: str  # the figure as written, e.g. "more than 60 targets"
    high: float | None = None
    qualifier: str = ""  # about, at least, more than, up to, nearly...
    percent: bool = False
    money: bool = False

    def same_value(self, other: Figure) -> bool:
        return _close(self.value, other.value) and _close(self.high or self.value, other.high or other.value)

    def shows(self) -> str:
        return self.text


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@dataclass(frozen=True)
class Event:
    """A decision or status change: an action class (e.g. 'end', 'approve'), the content
    stems around it (who and what), whether it is negated, and the sentence it came from."""

    action: str
    stems: frozenset[str]
    negated: bool = False
    hedged: bool = False  # a modal, condition or intention before the verb ("could send", "if ...")
    future: bool = False  # announced, not done ("will end")


@dataclass(frozen=True)
class Sentence:
    """One sentence of an article or seed, with what detection reads from it."""

    text: str
    stems: frozenset[str]  # content-word stems
    names: frozenset[str]  # capitalised names (lower-cased), e.g. "rubymar", "aspides"
    figures: tuple[Figure, ...] = ()
    events: tuple[Event, ...] = ()
    hedged: bool = False  # modal, conditional or reported-speculation ("may", "could", "if")
    paragraph: int = 0
    position: int = 0


@dataclass
class Document:
    """Text to compare: a seed document or an extracted article."""

    url: str
    title: str
    text: str
    published: datetime | None = None
    source: str = ""  # where it came from: a seed file name or the feed URL


@dataclass(frozen=True)
class Known:
    """Where a known fact came from: a baseline document or an earlier development."""

    origin: str  # "baseline:01.txt" or "development:<id>"
    sentence: str


@dataclass
class Finding:
    """One new fact in an article, with its evidence."""

    kind: str  # figure, policy, status, event
    sentence: Sentence
    score: float
    new_value: str = ""
    known_before: str = ""
    known_source: str = ""
    reasons: list[str] = field(default_factory=list)


@dataclass
class Relevance:
    score: float
    on_topic: bool
    matched: list[str]
    reason: str


@dataclass
class Verdict:
    """Detection's answer for one article: background, off topic, or a development."""

    relevance: Relevance
    findings: list[Finding]
    sentences: list[Sentence]

    @property
    def is_new(self) -> bool:
        return self.relevance.on_topic and bool(self.findings)

    @property
    def best(self) -> Finding | None:
        return max(self.findings, key=lambda f: f.score) if self.findings else None

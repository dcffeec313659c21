"""Novelty: what an article says that nothing known says.

`KnownFacts` is the rolling baseline: the seed documents, then every article judged on
topic (restated background is known by definition, and so is each reported development).
A sentence is read as figures, events and names, and each is compared with what is known
*as a fact* (a figure with what it counts, an event with its action and actors); fuzzy
sentence similarity (rapidfuzz) only decides that a sentence is a reworded known one.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType

from rapidfuzz import fuzz, process

from monitor.detect.figures import units_compatible, values_match
from monitor.detect.statements import event_is_known
from monitor.detect.types import Event, Figure, Finding, Known, Sentence

RESTATED = 90  # token_set_ratio (0-100) of content stems at which a sentence is a rewording
CANDIDATES = 64  # known sentences compared per sentence (found through shared stems)
TIME_UNITS = {"day", "week", "month", "year", "hour", "minute", "decade"}
DECISIVE = {"launch", "begin", "end", "suspend", "resume", "approve", "reject", "sign", "ratify", "in_force",
            "agree", "designate", "sanction", "sink", "seize", "release", "kill", "leave_post", "appoint",
            "charge", "declare", "ban", "find", "cut", "raise", "vote"}
POLICY = {"approve", "reject", "sign", "ratify", "agree", "designate", "sanction", "ban", "declare", "cut",
          "raise", "charge", "appoint", "leave_post", "find", "vote"}
STATUS = {"in_force", "end", "suspend", "resume", "launch", "begin", "sink", "release", "seize"}


def _figure_key(value: float) -> int:
    return round(math.log10(abs(value)) * 20) if value else -999


def _numpy() -> ModuleType:
    """numpy, imported on first use: a pass that compares nothing need not pay for it."""
    import numpy

    return numpy


def _postings() -> array:
    """Sentence ids of one stem: a compact int array (a module-level factory, so it pickles)."""
    return array("i")


def _floats() -> array:
    return array("d")


def _top_voted(postings: list[array], n: int) -> list[int]:
    """The `n` ids found in most postings, most votes first, then lowest id first."""
    if sum(len(p) for p in postings) <= 128:  # a few votes: plain counting is quicker than numpy's set-up
        votes: Counter[int] = Counter()
        for p in postings:
            votes.update(p)
        return [i for i, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
    np = _numpy()
    every = np.concatenate([np.frombuffer(p, dtype=np.intc) for p in postings])
    size = int(every.max()) + 1
    if len(every) * 4 < size:  # sparse votes: sorting them beats counting over every id
        ids, counts = np.unique(every, return_counts=True)
    else:
        counts = np.bincount(every)
        ids = np.flatnonzero(counts)
        counts = counts[ids]
    key = counts.astype(np.int64) * (size + 1) + (size - ids)  # more votes first, then the lower id
    if len(ids) > n:
        keep = np.argpartition(-key, n - 1)[:n]
        ids, key = ids[keep], key[keep]
    return ids[np.argsort(-key, kind="stable")].tolist()


@dataclass
class KnownFacts:
    """Everything known so far, indexed for fast comparison."""

    figures: dict[int, list[tuple[Figure, Known, Sentence]]] = field(
        default_factory=lambda: defaultdict(list))
    units: dict[str, list[tuple[Figure, Known]]] = field(default_factory=lambda: defaultdict(list))
    events: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    # every statement, hedged or not, to tell what was said before ("a bill to ratify" before
    # "ratified"); only the unhedged ones above count as known facts
    statements: dict[str, list[tuple[Event, Known]]] = field(default_factory=lambda: defaultdict(list))
    names: Counter[str] = field(default_factory=Counter)
    texts: list[str] = field(default_factory=list)
    sentence_names: list[frozenset[str]] = field(default_factory=list)
    origins: list[Known] = field(default_factory=list)
    index: dict[str, array] = field(default_factory=lambda: defaultdict(_postings))
    figure_values: dict[int, array] = field(default_factory=lambda: defaultdict(_floats))  # as `figures`

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, sentences: list[Sentence], origin: str) -> None:
        """Make these sentences known, with where they came from."""
        for s in sentences:
            known = Known(origin=origin, sentence=s.text)
            for f in s.figures:
                for key in {_figure_key(f.value), _figure_key(f.high or f.value)}:
                    self.figures[key].append((f, known, s))
                    self.figure_values[key].append(f.value)
                for u in f.unit[:1] or ("",):
                    self.units[u].append((f, known))
            for e in s.events:
                self.statements[e.action].append((e, known))
                if not (e.hedged or e.future):  # what may, could or will happen has not happened
                    self.events[e.action].append(e)
            self.names.update(s.names)
            i = len(self.texts)
            self.texts.append(" ".join(sorted(s.stems)))
            self.sentence_names.append(s.names)
            self.origins.append(known)
            for stem in s.stems:
                self.index[stem].append(i)

    def figure_known(self, f: Figure, sentence: Sentence | None = None) -> Known | None:
        """A known figure with the same value that counts the same thing: a compatible unit,
        or the same value told with another noun ("17,000 ships" / "17,000 vessels",
        "25 crew" / "twenty-five seafarers") in a sentence about the same things: for large
        values three shared words, for any value two shared names or another shared figure."""
        for key in {_figure_key(f.value) + d for d in (-1, 0, 1)}:
            for other, known, ks in self._near_value(key, f.value):
                if not values_match(f, other) or f.percent != other.percent or f.money != other.money:
                    continue
                if units_compatible(f, other):
                    return known
                if sentence is not None and _same_context(f, sentence, ks):
                    return known
        return None

    def _near_value(self, key: int, value: float) -> Sequence[tuple[Figure, Known, Sentence]]:
        """The figures of a bucket whose value is within 5% of `value` (values_match never
        accepts more), in bucket order: a vectorised first cut for large buckets."""
        bucket = self.figures.get(key, ())
        if len(bucket) < 64:
            return bucket
        np = _numpy()
        values = np.frombuffer(self.figure_values[key], dtype=np.float64)
        close = np.abs(values - value) <= 0.05 * np.maximum(np.maximum(np.abs(values), abs(value)), 1e-9)
        return [bucket[i] for i in np.flatnonzero(close).tolist()]

    def figure_before(self, f: Figure) -> tuple[Figure, Known] | None:
        """The latest known figure that counts the same thing with another value."""
        unit = f.unit[1:2] if not f.unit or f.percent or f.money else f.unit[:1]
        bucket = self.units.get(unit[0], ()) if unit else ()

        def candidate(c: tuple[Figure, Known]) -> bool:
            return c[0].percent == f.percent and c[0].money == f.money and not values_match(c[0], f)

        # the latest value (scanning back from the end), cited where it was first known (a
        # baseline rather than a restatement)
        latest = next((c for c in reversed(bucket) if candidate(c)), None)
        if latest is None:
            return None
        return next(c for c in bucket if candidate(c) and values_match(c[0], latest[0]))

    def statement_before(self, e: Event) -> Known | None:
        """The closest earlier statement of the same kind of action about the same things,
        hedged or not (what was said before a decision was taken)."""
        best, best_shared = None, 2
        for other, known in self.statements.get(e.action, ()):
            shared = len(e.stems & other.stems)
            if shared > best_shared or (shared == best_shared and best is None):
                best, best_shared = known, shared
        return best

    def event_known(self, e: Event) -> bool:
        return event_is_known(e, self.events.get(e.action, []))

    def lists_known_names(self, s: Sentence, least: int = 4) -> bool:
        """Whether the sentence names only known names, at least `least` of them together in
        one known sentence: a count of a known list ("nine partners: Britain, Bahrain...")."""
        if len(s.names) < least or any(n not in self.names for n in s.names):
            return False
        rare = sorted(s.names, key=lambda n: len(self.index.get(n, ())))[:3]
        ids = {i for n in rare for i in self.index.get(n, ())}
        return any(len(s.names & self.sentence_names[i]) >= least for i in ids)

    def restated(self, s: Sentence) -> tuple[float, Known | None]:
        """The best fuzzy match (0-100) among known sentences sharing the rarer stems."""
        if not s.stems or not self.texts:
            return 0.0, None
        limit = max(50, len(self.texts) // 10)
        postings = [p for stem in s.stems if (p := self.index.get(stem)) and len(p) <= limit]
        if not postings:
            return 0.0, None
        ids = _top_voted(postings, CANDIDATES)
        query = " ".join(sorted(s.stems))
        best = process.extractOne(query, [self.texts[i] for i in ids], scorer=fuzz.token_set_ratio)
        if best is None:
            return 0.0, None
        return float(best[1]), self.origins[ids[best[2]]]


def _same_context(f: Figure, s: Sentence, known: Sentence) -> bool:
    if (f.value >= 100 and len(s.stems & known.stems) >= 3) or len(s.names & known.names) >= 2:
        return True
    return any(values_match(g, h) and g is not f for g in s.figures for h in known.figures
               if g.value != f.value)


def _new_figures(s: Sentence, known: KnownFacts) -> list[tuple[Figure, tuple[Figure, Known] | None]]:
    if s.figures and known.lists_known_names(s):
        return []
    out = []
    for f in s.figures:
        if not f.unit and f.value < 10 and not (f.percent or f.money):
            continue  # a bare small number says nothing on its own
        if known.figure_known(f, s):
            continue
        out.append((f, known.figure_before(f)))
    return out


def sentence_findings(s: Sentence, known: KnownFacts, topic_names: set[str],
                      headline_actions: frozenset[str] = frozenset()) -> Finding | None:
    """The new facts in one sentence, scored; None when it says nothing new.

    A new figure that counts something weighs most; a new decision or status change weighs
    more when the headline states the same kind of action (news puts the development in the
    headline); new names support both. Hedged sentences ("may", "plans to") count half.
    """
    figures = _new_figures(s, known)
    # A reworded known sentence states nothing new, unless its figure changed: fuzzy
    # similarity cannot see numbers, so it never hides a new one.
    restated = known.restated(s)[0] >= RESTATED
    if restated and not figures:
        return None
    new_names = sorted(n for n in s.names if n not in known.names and n not in topic_names)
    events = [] if restated else [e for e in s.events
                                  if e.action in DECISIVE and not e.hedged and not known.event_known(e)]
    score = 0.0
    reasons: list[str] = []
    for f, _before in figures[:2]:
        score += 0.5 if f.unit and f.unit[0] in TIME_UNITS else 1.0
        reasons.append(f"new figure {f.text}")
    if events:
        in_headline = any(e.action in headline_actions for e in events)
        score += 0.7 + (0.4 if in_headline else 0.0)
        reasons.append(f"new {events[0].action} event" + (" (negated)" if events[0].negated else "")
                       + (", as in the headline" if in_headline else ""))
    if new_names and (figures or events):
        score += 0.3 * min(2, len(new_names))
        reasons.append(f"new names {', '.join(new_names[:4])}")
    if not score:
        return None
    if s.hedged:
        score *= 0.5
        reasons.append("hedged")
    kind, new_value, before, source = "event", "", "", ""
    if figures:
        f, prior = figures[0]
        kind, new_value = "figure", f.text
        if prior:
            before, source = prior[0].text, prior[1].origin
    elif events:
        action = events[0].action
        kind = "policy" if action in POLICY else "status" if action in STATUS else "event"
        said = known.statement_before(events[0])
        if said:
            before, source = said.sentence, said.origin
    return Finding(kind=kind, sentence=s, score=round(score, 3), new_value=new_value, known_before=before,
                   known_source=source, reasons=reasons)

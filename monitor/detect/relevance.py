"""Relevance: is an article *about* the topic, or does it only mention it in passing?

The measure is topical coverage: of everything specific an article says (its words weighted
by how rare they are in general English, so 'said' weighs nothing and a ship's name a lot),
which share belongs to the topic's own vocabulary (its description, keywords, baseline and
the articles already judged on topic). An article on another subject that shares a name or
a few words with the topic spends most of its specific words elsewhere.

Coverage differs from topic to topic (a wide baseline covers more), so it is calibrated on
the baseline itself: each seed document is scored against the others (leave-one-out), and
an article must reach a share of that typical seed coverage. Keywords in the headline or
lead lower the bar a little; they decide alone only when the baseline has fewer than three
documents (too few to know the topic's vocabulary).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.detect.text import weighted_stems
from monitor.detect.types import Relevance, Sentence

ON_TOPIC = 1.2  # share of the typical seed coverage that makes an article on topic
WITH_KEYWORD = 0.8  # ... when a keyword stands in its headline or lead (where news states its subject)
DEFAULT_REFERENCE = 0.45  # typical coverage when the baseline is too small to calibrate
KEYWORD_MATCH = 0.6
LEARNED_WEIGHT = 0.5
MIN_SEEDS = 3  # seed documents needed to calibrate coverage  # share of a keyword's specific words that must be present


@dataclass
class TopicProfile:
    """What the topic is: core terms (description, keywords), keyword phrases, and document
    frequencies of the words of the baseline and of on-topic articles."""

    name: str
    keywords: list[tuple[str, dict[str, float]]]
    core: frozenset[str] = frozenset()
    vocabulary: Counter[str] = field(default_factory=Counter)  # seed document frequencies
    learned: Counter[str] = field(default_factory=Counter)  # on-topic article frequencies
    seeds: list[dict[str, float]] = field(default_factory=list)
    reference: float = DEFAULT_REFERENCE

    @classmethod
    def build(cls, name: str, description: str, keywords: Iterable[str]) -> TopicProfile:
        keywords = list(keywords)
        kws = [(k, weighted_stems(k)) for k in keywords if weighted_stems(k)]
        core = frozenset(weighted_stems(f"{name} {description} {' '.join(keywords)}"))
        return cls(name=name, keywords=kws, core=core)

    def member(self, stem: str, exclude: dict[str, float] | None = None) -> float:
        """How surely a stem belongs to the topic (0..1)."""
        if stem in self.core:
            return 1.0
        df = self.vocabulary.get(stem, 0) - (1 if exclude and stem in exclude else 0)
        if df > 0:
            return min(1.0, df / 2)
        # Words only seen in articles count for less: an article judged on topic may still
        # carry asides, and what it brings must not pull the next off-topic piece in.
        return min(LEARNED_WEIGHT, self.learned.get(stem, 0) / 4)

    def learn(self, stems: dict[str, float], seed: bool = False) -> None:
        """Add one document's words to the topic vocabulary."""
        if seed:
            self.vocabulary.update(set(stems))
            self.seeds.append(stems)
        else:
            self.learned.update(set(stems))

    def calibrate(self) -> None:
        """Typical coverage of a seed document by the rest of the baseline (leave-one-out)."""
        if len(self.seeds) >= MIN_SEEDS:
            self.reference = statistics.median(self.coverage(s, exclude=s) for s in self.seeds)

    def coverage(self, stems: dict[str, float], exclude: dict[str, float] | None = None) -> float:
        total = sum(stems.values())
        if not total:
            return 0.0
        return sum(w * self.member(s, exclude) for s, w in stems.items()) / total

    def keyword_hits(self, stems: Iterable[str]) -> list[str]:
        """Keywords most of whose specific words are present."""
        present = set(stems)
        hits = []
        for phrase, weights in self.keywords:
            mass = sum(weights.values()) or 1.0
            if sum(w for s, w in weights.items() if s in present) / mass >= KEYWORD_MATCH:
                hits.append(phrase)
        return hits


def judge(profile: TopicProfile, title: str, sentences: list[Sentence]) -> Relevance:
    """Score an article's main subject against the topic; explain the decision."""
    stems = weighted_stems(title + "\n" + "\n".join(s.text for s in sentences))
    lead = weighted_stems(title + "\n" + "\n".join(s.text for s in sentences[:3]))
    cover = profile.coverage(stems)
    score = cover / profile.reference if profile.reference else 0.0
    head_hits = profile.keyword_hits(lead)
    body_hits = profile.keyword_hits(stems)
    bar = WITH_KEYWORD if head_hits else ON_TOPIC
    if len(profile.seeds) < MIN_SEEDS and head_hits:
        bar = 0.0  # too small a baseline to know the topic's vocabulary: the keywords decide
    reason = (f"relevance {score:.2f} (topic coverage {cover:.0%} vs typical seed {profile.reference:.0%}; "
              f"bar {bar:.2f}; keywords in headline/lead: {', '.join(head_hits) or 'none'})")
    return Relevance(score=round(score, 3), on_topic=score >= bar, matched=sorted(set(body_hits)), reason=reason)

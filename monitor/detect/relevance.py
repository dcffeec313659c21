"""Relevance: is an article *about* the topic, or does it only mention it in passing?

Two signals, both explained in the result:
- anchors: the topic's keywords (all their words present) in the headline, the lead and the
  body; a keyword in one sentence of a long piece is a passing mention;
- vocabulary: how much of the article's own vocabulary belongs to the topic (its
  description, keywords, baseline and the developments reported so far). An article on
  another subject that shares a name with the topic uses few of the topic's other words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.detect.text import content_stems
from monitor.detect.types import Relevance, Sentence

# An article is on topic when its score reaches this; the score is mostly in [0, 1].
ON_TOPIC = 0.5


@dataclass
class TopicProfile:
    """What the topic is: keyword stem sets and a vocabulary with document frequencies."""

    name: str
    keywords: list[tuple[str, frozenset[str]]]
    vocabulary: Counter[str] = field(default_factory=Counter)
    documents: int = 0

    @classmethod
    def build(cls, name: str, description: str, keywords: Iterable[str]) -> TopicProfile:
        kws = [(k, content_stems(k)) for k in keywords if content_stems(k)]
        profile = cls(name=name, keywords=kws)
        profile.learn(content_stems(f"{name} {description} {' '.join(keywords)}"), weight=3)
        return profile

    def learn(self, stems: Iterable[str], weight: int = 1) -> None:
        """Add one document's distinct stems to the topic vocabulary."""
        for s in set(stems):
            self.vocabulary[s] += weight
        self.documents += 1

    def anchors(self, stems: frozenset[str]) -> list[str]:
        """The keywords whose words all stand in `stems`."""
        return [k for k, ks in self.keywords if ks <= stems]

    def vocabulary_share(self, stems: frozenset[str]) -> float:
        """Share of these stems that the topic uses (weighted toward words used more than once)."""
        if not stems:
            return 0.0
        hits = sum(min(1.0, self.vocabulary.get(s, 0) / 2) for s in stems)
        return hits / len(stems)


def judge(profile: TopicProfile, title: str, sentences: list[Sentence]) -> Relevance:
    """Score an article's main subject against the topic; explain the decision."""
    title_stems = content_stems(title)
    title_hits = profile.anchors(title_stems)
    lead = sentences[:3]
    lead_hits = {k for s in lead for k in profile.anchors(s.stems)}
    body_hits = [profile.anchors(s.stems) for s in sentences]
    anchored = sum(1 for h in body_hits if h) / max(1, len(sentences))
    all_stems = frozenset().union(title_stems, *(s.stems for s in sentences))
    vocab = profile.vocabulary_share(all_stems)
    title_vocab = profile.vocabulary_share(title_stems)
    score = (0.25 * bool(title_hits) + 0.15 * bool(lead_hits) + 0.6 * min(1.0, anchored * 2.5)) \
        * 0.5 + vocab * 0.35 + title_vocab * 0.15
    matched = sorted(set(title_hits) | lead_hits | {k for h in body_hits for k in h})
    reason = (f"score {score:.2f} (title keywords {len(title_hits)}, lead keywords {len(lead_hits)}, "
              f"sentences with a keyword {anchored:.0%}, topic vocabulary {vocab:.0%}, title vocabulary "
              f"{title_vocab:.0%})")
    return Relevance(score=round(score, 3), on_topic=score >= ON_TOPIC, matched=matched, reason=reason)

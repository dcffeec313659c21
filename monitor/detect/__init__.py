"""Detection: pure functions and small classes, no I/O. Text in, findings out.

    detector = Detector.for_topic(name, description, keywords)
    detector.learn_baseline(seed_sentences, "baseline:01.txt")
    verdict = detector.analyze(title, sentences)
    detector.learn(verdict.sentences, "development:abc123")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.detect.novelty import KnownFacts, sentence_findings
from monitor.detect.reading import read_sentence, read_text
from monitor.detect.relevance import TopicProfile, judge
from monitor.detect.statements import extract_events
from monitor.detect.text import weighted_stems
from monitor.detect.types import Finding, Sentence, Verdict

__all__ = ["Detector", "Finding", "Sentence", "Verdict", "read_sentence", "read_text"]

# An article reports a development when its best sentence scores this much: one new figure
# that counts something, or a new decisive event with a new name.
NEW_DEVELOPMENT = 1.0
TOPICAL_SENTENCE = 0.8  # share of the typical seed coverage that makes a sentence on topic


@dataclass
class Detector:
    profile: TopicProfile
    known: KnownFacts = field(default_factory=KnownFacts)

    @classmethod
    def for_topic(cls, name: str, description: str, keywords: list[str]) -> Detector:
        return cls(profile=TopicProfile.build(name, description, keywords))

    @property
    def topic_names(self) -> set[str]:
        return {s for _, stems in self.profile.keywords for s in stems}

    def learn_baseline(self, sentences: list[Sentence], origin: str) -> None:
        """Add one seed document to what is known and to the topic's vocabulary."""
        self.known.add(sentences, origin)
        self.profile.learn(weighted_stems("\n".join(s.text for s in sentences)), seed=True)
        self.profile.calibrate()

    def learn(self, sentences: list[Sentence], origin: str, title: str = "") -> None:
        """Make an on-topic article known (rolling baseline); its headline states facts too."""
        self.known.add([read_sentence(title), *sentences] if title else sentences, origin)
        self.profile.learn(weighted_stems(title + "\n" + "\n".join(s.text for s in sentences)))

    def topical(self, sentences: list[Sentence]) -> list[Sentence]:
        """Sentences that are themselves about the topic: a keyword in the sentence's
        paragraph, or mostly topic vocabulary. Asides on other subjects are dropped."""
        paragraphs: dict[int, list[Sentence]] = {}
        for s in sentences:
            paragraphs.setdefault(s.paragraph, []).append(s)
        keep: set[int] = set()
        for p, group in paragraphs.items():
            stems = weighted_stems(" ".join(s.text for s in group))
            if self.profile.keyword_hits(stems) or \
                    self.profile.coverage(stems) >= TOPICAL_SENTENCE * self.profile.reference:
                keep.add(p)
        return [s for s in sentences if s.paragraph in keep]

    def analyze(self, title: str, sentences: list[Sentence]) -> Verdict:
        relevance = judge(self.profile, title, sentences)
        findings: list[Finding] = []
        if relevance.on_topic:
            headline_actions = frozenset(e.action for e in extract_events(title))
            for s in self.topical(sentences):
                finding = sentence_findings(s, self.known, self.topic_names, headline_actions)
                if finding and finding.score >= NEW_DEVELOPMENT:
                    findings.append(finding)
        return Verdict(relevance=relevance, findings=findings, sentences=sentences)

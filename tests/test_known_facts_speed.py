"""The indexed KnownFacts gives the same answers as the plain algorithm it replaced.

`ReferenceKnownFacts` is the earlier code, kept here as the oracle: votes counted with a
Counter, the most voted candidates compared, and figures looked up by scanning whole
buckets and a copied list. (The earlier code broke ties among equally voted candidates in set-iteration order,
which changes with the hash seed; both sides here break them by the lower sentence id.)
"""

from __future__ import annotations

import importlib.util
import pickle
import random
from array import array
from collections import Counter
from pathlib import Path

from rapidfuzz import fuzz, process

from monitor.detect import Detector, read_sentence, read_text
from monitor.detect.figures import units_compatible, values_match
from monitor.detect.novelty import CANDIDATES, KnownFacts, _figure_key, _same_context, _top_voted
from monitor.detect.types import Figure, Known, Sentence

ROOT = Path(__file__).resolve().parent.parent


def _writer(seed: int):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_synthetic", ROOT / "bench" / "synthetic.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NewsWriter(seed), module.TOPIC_WORDS


class ReferenceKnownFacts(KnownFacts):
    def restated(self, s: Sentence) -> tuple[float, Known | None]:
        if not s.stems or not self.texts:
            return 0.0, None
        limit = max(50, len(self.texts) // 10)
        votes: Counter[int] = Counter()
        for stem in s.stems:
            postings = self.index.get(stem)
            if postings and len(postings) <= limit:
                votes.update(postings)
        if not votes:
            return 0.0, None
        ids = [i for i, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:CANDIDATES]]
        query = " ".join(sorted(s.stems))
        best = process.extractOne(query, [self.texts[i] for i in ids], scorer=fuzz.token_set_ratio)
        if best is None:
            return 0.0, None
        return float(best[1]), self.origins[ids[best[2]]]

    def figure_known(self, f: Figure, sentence: Sentence | None = None) -> Known | None:
        for key in {_figure_key(f.value) + d for d in (-1, 0, 1)}:
            for other, known, ks in self.figures.get(key, ()):
                if not values_match(f, other) or f.percent != other.percent or f.money != other.money:
                    continue
                if units_compatible(f, other):
                    return known
                if sentence is not None and _same_context(f, sentence, ks):
                    return known
        return None

    def figure_before(self, f: Figure) -> tuple[Figure, Known] | None:
        if not f.unit or f.percent or f.money:
            candidates = [c for u in f.unit[1:2] for c in self.units.get(u, ())] if f.unit[1:2] else []
        else:
            candidates = list(self.units.get(f.unit[0], ()))
        candidates = [c for c in candidates if c[0].percent == f.percent and c[0].money == f.money
                      and not values_match(c[0], f)]
        if not candidates:
            return None
        return next(c for c in candidates if values_match(c[0], candidates[-1][0]))


def _run(known: KnownFacts, baseline: list[Sentence], articles: list[tuple[str, list[Sentence]]],
         topic_words: list[str]) -> list[tuple]:
    detector = Detector.for_topic("shipping", "ports and freight", topic_words)
    detector.known = known
    for i in range(0, len(baseline), 500):
        detector.learn_baseline(baseline[i:i + 500], f"baseline {i}")
    out = []
    for n, (title, sentences) in enumerate(articles):
        v = detector.analyze(title, sentences)
        out.append((v.relevance.score, v.relevance.on_topic, v.is_new,
                    [(f.kind, f.sentence.text, f.score, f.new_value, f.known_before, f.known_source,
                      tuple(f.reasons)) for f in v.findings]))
        if v.relevance.on_topic:
            detector.learn(sentences, f"article {n}", title)
    return out


def test_identical_verdicts_on_a_fixture() -> None:
    writer, topic_words = _writer(3)
    unique = [read_sentence(s, position=i) for i, s in enumerate(writer.sentences(400))]
    baseline = unique * 12  # 4,800 known sentences: large postings take the numpy path
    articles = [(title, read_text(text, title)) for title, text in
                (writer.article([s.text for s in unique], fresh_share=0.3) for _ in range(40))]
    new, old = _run(KnownFacts(), baseline, articles, topic_words), \
        _run(ReferenceKnownFacts(), baseline, articles, topic_words)
    assert new == old
    assert any(v[2] for v in new) and not all(v[2] for v in new)  # both kinds of verdict occur


def test_restated_and_figures_match_the_reference_per_sentence() -> None:
    writer, _ = _writer(5)
    sentences = [read_sentence(s, position=i) for i, s in enumerate(writer.sentences(300))]
    fast, slow = KnownFacts(), ReferenceKnownFacts()
    for i in list(range(0, 300, 30)) * 6:
        fast.add(sentences[i:i + 30], f"doc {i}")
        slow.add(sentences[i:i + 30], f"doc {i}")
    assert max(len(bucket) for bucket in fast.figures.values()) >= 64  # the vectorised cut is used
    texts = writer.sentences(60) + [writer.fresh_sentence() for _ in range(20)]
    probes = [read_sentence(t) for t in texts]
    for s in probes:
        assert fast.restated(s) == slow.restated(s)
        for f in s.figures:
            assert fast.figure_before(f) == slow.figure_before(f)
            assert fast.figure_known(f) == slow.figure_known(f)
            assert fast.figure_known(f, s) == slow.figure_known(f, s)


def test_top_voted_numpy_and_counter_paths_agree() -> None:
    rng = random.Random(11)
    for _ in range(40):
        ids = rng.choice([300, 5000, 200_000])  # dense and sparse votes
        postings = [array("i", sorted(rng.sample(range(ids), rng.randint(1, min(ids, 1500))))) for _ in range(8)]
        votes: Counter[int] = Counter()
        for p in postings:
            votes.update(p)
        expected = [i for i, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[:CANDIDATES]]
        assert _top_voted(postings, CANDIDATES) == expected


def test_known_facts_survive_pickling() -> None:
    writer, _ = _writer(9)
    sentences = [read_sentence(s) for s in writer.sentences(100)]
    known = KnownFacts()
    known.add(sentences, "baseline")
    copy = pickle.loads(pickle.dumps(known))
    probe = read_sentence(writer.sentence())
    assert copy.restated(probe) == known.restated(probe)
    copy.add([probe], "later")  # the index still grows after a round trip
    assert copy.restated(probe)[0] == 100.0

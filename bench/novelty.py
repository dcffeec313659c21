"""Novelty benchmark: 1,000 synthetic articles against a baseline of 100,000 sentences.

    python bench/novelty.py [--articles 1000] [--baseline 100000] [--seed 7]

Goes through monitor.detect as the pipeline does: read the baseline sentences, learn them
(Detector.learn_baseline), then read and analyze each article, learning the on-topic ones
(the rolling baseline). Prints the time of each step, the peak memory, and the verdicts.
Targets on the 2-core reference machine: learning the baseline and reading and analyzing the
articles within 30 s, peak memory within 1 GiB. Reading the baseline's text is shown apart:
the pipeline does it once per change of the seed files and caches the learned detector
(its pickle round trip is timed too). The same baseline is then read as 100 seed files
through `load_baseline`, as a pipeline reads a seed folder (a large one by one process per
core).
"""

from __future__ import annotations

import argparse
import gc
import pickle
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic import TOPIC_WORDS, NewsWriter

from monitor.baseline import load_baseline, reader_processes, seed_paths
from monitor.cache import unpickle
from monitor.detect import Detector, read_sentence, read_text

TARGET_SECONDS = 30.0
TARGET_MB = 1024.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    writer = NewsWriter(args.seed)
    t0 = time.perf_counter()
    texts = writer.sentences(args.baseline)
    articles = [writer.article(texts) for _ in range(args.articles)]
    t_gen = time.perf_counter() - t0

    start = time.perf_counter()
    baseline = [read_sentence(s, paragraph=i // 5, position=i) for i, s in enumerate(texts)]
    t_read_base = time.perf_counter() - start

    t = time.perf_counter()
    detector = Detector.for_topic("shipping", "ports, freight and shipping routes", TOPIC_WORDS)
    for i in range(0, len(baseline), 1000):  # a baseline of 100 seed documents
        detector.learn_baseline(baseline[i:i + 1000], f"baseline {i // 1000:03d}")
    t_learn = time.perf_counter() - t

    t = time.perf_counter()
    read = [(title, read_text(text, title)) for title, text in articles]
    t_read_articles = time.perf_counter() - t

    t = time.perf_counter()
    verdicts: Counter[str] = Counter()
    findings = 0
    for i, (title, sentences) in enumerate(read):
        verdict = detector.analyze(title, sentences)
        kind = "development" if verdict.is_new else "background" if verdict.relevance.on_topic else "offtopic"
        verdicts[kind] += 1
        findings += len(verdict.findings)
        if verdict.relevance.on_topic:
            detector.learn(sentences, f"article {i}", title)
    t_analyze = time.perf_counter() - t
    checked = t_learn + t_read_articles + t_analyze
    total = t_read_base + checked
    peak_checked = peak_mb()

    t = time.perf_counter()  # a pass loads what is known from the cache instead of rebuilding it
    blob = pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)
    t_dump = time.perf_counter() - t
    size_mb = len(blob) / 2**20
    del detector  # a pass holds one detector: the one it loads
    gc.collect()
    t = time.perf_counter()
    detector = unpickle(blob)
    t_load = time.perf_counter() - t
    del blob
    known = len(detector.known)
    peak_round_trip = peak_mb()
    del detector  # a pass reads its seed folder before it holds a detector
    gc.collect()

    # The pipeline reads a seed folder with load_baseline, large ones by one process per core.
    with tempfile.TemporaryDirectory() as folder:
        for i in range(0, len(texts), 1000):  # the same 100 documents, paragraphs of 5 sentences
            paragraphs = [" ".join(texts[j:j + 5]) for j in range(i, min(i + 1000, len(texts)), 5)]
            Path(folder, f"seed{i // 1000:03d}.txt").write_text("\n\n".join(paragraphs))
        readers = reader_processes(seed_paths(Path(folder)))
        t = time.perf_counter()
        docs = load_baseline(Path(folder))
        t_files = time.perf_counter() - t
        seed_files, seed_sentences = len(docs), sum(len(d.sentences) for d in docs)
        del docs

    sentences = sum(len(s) for _, s in read)
    print(f"novelty benchmark: {args.articles} articles ({sentences} sentences) against {args.baseline} "
          f"baseline sentences, seed {args.seed}")
    rows = [("generate text (not timed)", t_gen), ("read baseline sentences (once)", t_read_base),
            ("learn baseline (KnownFacts index)", t_learn), ("read articles", t_read_articles),
            ("analyze + learn articles", t_analyze), ("learn + read + analyze", checked),
            ("the same, reading the baseline too", total),
            (f"read it as {seed_files} seed files instead", t_files),
            ("learn + read + analyze, seed files read", checked + t_files),
            (f"cache what is known ({size_mb:.0f} MB pickle)", t_dump),
            ("load it from the cache", t_load)]
    for name, secs in rows:
        print(f"  {name:36s} {secs:8.2f} s")
    print(f"  per article (analyze)                {1000 * t_analyze / max(1, args.articles):8.2f} ms")
    print(f"  peak memory (max RSS)                {peak_checked:8.0f} MB; "
          f"{peak_round_trip:.0f} MB with the cache round trip")
    print(f"  verdicts: {dict(verdicts)}; findings: {findings}; known sentences now {known}")
    print(f"  seed files: {seed_sentences} sentences read by load_baseline in {readers} process(es) (one per "
          "core for a seed folder of over 4 MB of text)")
    ok_time, ok_mem = checked <= TARGET_SECONDS, peak_checked <= TARGET_MB
    print(f"  target learn_baseline + analyze (articles read) <= {TARGET_SECONDS:g} s: {checked:.1f} s "
          f"{'met' if ok_time else 'MISSED'}; with the baseline read too: {total:.1f} s "
          f"{'met' if total <= TARGET_SECONDS else 'MISSED'}; as seed files: {checked + t_files:.1f} s "
          f"{'met' if checked + t_files <= TARGET_SECONDS else 'MISSED'} (a pipeline reads a baseline once and "
          "caches it)")
    print(f"  target peak memory <= {TARGET_MB:g} MB: {peak_checked:.0f} MB {'met' if ok_mem else 'MISSED'} "
          f"(pickling for the cache adds its memo: {peak_round_trip:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

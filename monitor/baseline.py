"""Baseline: the seed folder read as known sentences, figures and statements.

Seeds are scraped texts (.txt, .md) or saved pages (.html, .htm); junk lines (captions,
share prompts, "Read also" headlines of other stories) are dropped before reading.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from monitor.cache import paused_gc
from monitor.detect import Sentence, read_sentence, read_text
from monitor.extract import ExtractError, extract_article

SEED_SUFFIXES = {".txt", ".md", ".html", ".htm"}
# Above this much seed text, the documents are read by one process per core. Reading costs
# about 0.25 ms per sentence (4 MB is ~27,000 sentences, 6 s); reader processes cost ~1 s to
# start and their sentences ~0.5 s to unpickle, and below this they did not pay (measured).
PARALLEL_BYTES = 4_000_000
HTML_TEXT_SHARE = 10  # a saved page is mostly markup: about a tenth of its bytes is text


class BaselineError(Exception):
    """A seed folder we cannot read."""


@dataclass
class SeedDocument:
    name: str
    title: str
    sentences: list[Sentence]


DATE_LINE = re.compile(r"^\s*(?:updated|published|posted)?\s*(?:on\s+)?(?:[A-Z][a-z]+\.? \d{1,2}|\d{1,2} [A-Z][a-z]+)"
                       r",? \d{4}", re.I)


def guess_title(text: str) -> str:
    """The first headline-like line: four words or more, not a menu crumb or a dateline."""
    for line in text.splitlines():
        line = line.strip()
        if len(line.split()) >= 4 and " / " not in line and not DATE_LINE.match(line):
            return line
    return ""


def _read_seed(path: Path) -> SeedDocument:
    raw = path.read_bytes()
    if path.suffix.lower() in (".html", ".htm"):
        try:
            article = extract_article(raw, path.as_uri())
        except ExtractError as exc:
            raise BaselineError(f"{path}: {exc}") from None
        title, text = article.title, f"{article.title}\n{article.text}"
    else:
        text = raw.decode("utf-8", errors="replace")
        title = guess_title(text) or path.stem
    sentences = read_text(text, title)
    if title:  # the headline states facts too (seeds often carry the key figure there)
        sentences.insert(0, read_sentence(title))
    return SeedDocument(name=path.name, title=title, sentences=sentences)


def load_baseline(folder: Path, workers: int | None = None) -> list[SeedDocument]:
    """Every seed document in the folder, in name order. A large baseline is read by
    `workers` processes (default: one per core); a small one, or `workers=1`, here."""
    if not folder.is_dir():
        raise BaselineError(f"baseline folder not found: {folder}")
    paths = seed_paths(folder)
    workers = reader_processes(paths) if workers is None else workers
    with paused_gc():  # here, and in the reader processes (their initializer)
        if workers > 1:
            try:
                return _read_in_processes(paths, workers)
            except BrokenExecutor:
                pass  # a reader process died (out of memory, killed): read here instead
        return [_read_seed(p) for p in paths]


def seed_paths(folder: Path) -> list[Path]:
    """The seed files of a folder, in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SEED_SUFFIXES)


def reader_processes(paths: list[Path]) -> int:
    """Processes to read these seed files with: one per core for a large baseline (by its
    text, estimated from the file sizes), else 1."""
    text = sum(p.stat().st_size // (HTML_TEXT_SHARE if p.suffix.lower() in (".html", ".htm") else 1)
               for p in paths)
    large = text >= PARALLEL_BYTES
    return min(os.cpu_count() or 1, len(paths)) if large else 1


def _read_in_processes(paths: list[Path], workers: int) -> list[SeedDocument]:
    # forkserver: the pipeline runs in threads, and forking a process with threads can deadlock
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.baseline"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=gc.disable) as pool:
        return list(pool.map(_read_seed, paths, chunksize=max(1, len(paths) // (workers * 4))))


def fingerprint(folder: Path) -> str:
    """Changes when any seed file changes (names, sizes, modification times)."""
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in seed_paths(folder)]
    return "|".join(parts)

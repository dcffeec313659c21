"""Baseline: the seed folder read as known sentences, figures and statements.

Seeds are scraped texts (.txt, .md) or saved pages (.html, .htm); junk lines (captions,
share prompts, "Read also" headlines of other stories) are dropped before reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from monitor.detect import Sentence, read_sentence, read_text
from monitor.extract import ExtractError, extract_article

SEED_SUFFIXES = {".txt", ".md", ".html", ".htm"}


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


def load_baseline(folder: Path) -> list[SeedDocument]:
    """Every seed document in the folder, in name order."""
    if not folder.is_dir():
        raise BaselineError(f"baseline folder not found: {folder}")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SEED_SUFFIXES)
    return [_read_seed(p) for p in paths]


def fingerprint(folder: Path) -> str:
    """Changes when any seed file changes (names, sizes, modification times)."""
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(folder.iterdir())
             if p.is_file() and p.suffix.lower() in SEED_SUFFIXES]
    return "|".join(parts)

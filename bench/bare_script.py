"""The reference: the monitoring script a user would write by hand, sequential and plain.

    python bench/bare_script.py FEED_URL BASELINE_DIR

Reads the baseline (.txt as is, .html through trafilatura) into sentences, then for each
feed entry fetches the page, extracts its text and prints every sentence that no baseline
sentence matches with rapidfuzz (token_set_ratio below 85). No state, no relevance, no
figures: this is the floor our pipeline is compared with, not a competitor.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import feedparser
import httpx
import trafilatura
from rapidfuzz import fuzz, process


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 5]


def main(feed_url: str, baseline_dir: str) -> None:
    baseline: list[str] = []
    for path in sorted(Path(baseline_dir).iterdir()):
        if path.suffix == ".txt":
            baseline += sentences(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix in (".html", ".htm"):
            baseline += sentences(trafilatura.extract(path.read_text(encoding="utf-8", errors="replace")) or "")
    with httpx.Client(timeout=20) as client:
        feed = feedparser.parse(client.get(feed_url).content)
        for entry in feed.entries:
            page = client.get(entry.link)
            text = trafilatura.extract(page.text)
            if not text:
                continue
            for sentence in sentences(text):
                match = process.extractOne(sentence, baseline, scorer=fuzz.token_set_ratio)
                if match is None or match[1] < 85:
                    print(f"NEW {entry.link}: {sentence}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

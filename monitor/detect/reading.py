"""Reading: text in, `Sentence` records out (figures, events, names, stems per sentence)."""

from __future__ import annotations

from monitor.detect.figures import extract_figures
from monitor.detect.statements import extract_events, is_hedged
from monitor.detect.text import clean_text, content_stems, names, normalize, split_sentences
from monitor.detect.types import Sentence

MIN_WORDS = 5  # shorter "sentences" are captions, bylines and menu items


def read_sentence(text: str, paragraph: int = 0, position: int = 0) -> Sentence:
    return Sentence(text=text, stems=content_stems(text), names=names(text), figures=extract_figures(text),
                    events=extract_events(text), hedged=is_hedged(text), paragraph=paragraph,
                    position=position)


def read_text(text: str, title: str = "") -> list[Sentence]:
    """The sentences of a scraped text, junk lines removed; the title is not repeated."""
    out: list[Sentence] = []
    title_norm = normalize(title).strip().lower()
    for p, paragraph in enumerate(clean_text(text)):
        if title_norm and paragraph.strip().lower() == title_norm:
            continue
        for sentence in split_sentences(paragraph):
            if len(sentence.split()) >= MIN_WORDS:
                out.append(read_sentence(sentence, paragraph=p, position=len(out)))
    return out

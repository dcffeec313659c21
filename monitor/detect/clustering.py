"""One development, many outlets: does a new article report a development we already have?

Outlets cover an event in the same news cycle (a day or two) and repeat its distinctive
facts: the names that were new with it and its new figures. A later article that carries
those facts inside that window is another source for the development, not a new one; after
the window, the facts are background (they are in the rolling baseline by then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from monitor.detect.figures import extract_figures, units_compatible, values_match
from monitor.detect.types import Figure, Sentence

NEWS_CYCLE = timedelta(hours=60)
SAME_HEADLINE = 70  # token_set_ratio of headline stems that alone says "same story"


@dataclass
class Signature:
    """The distinctive facts of a development: what was new when it was first reported."""

    id: str
    names: frozenset[str]
    figures: tuple[Figure, ...]
    title: str
    published: datetime | None

    @classmethod
    def of(cls, id: str, title: str, new_sentences: list[Sentence], new_names: set[str],
           published: datetime | None) -> Signature:
        """From the development's new sentences plus its headline (where news states it)."""
        figures = tuple(f for s in new_sentences for f in s.figures) + extract_figures(title)
        return cls(id=id, names=frozenset(new_names), figures=figures, title=title, published=published)


def shared_facts(sig: Signature, names: set[str], figures: list[Figure]) -> list[tuple[str, float]]:
    """(fact, weight) pairs: a figure with what it counts ("4 bolts") is a whole fact, a bare
    figure or a name half of one."""
    shared = [(f"name {n}", 0.5) for n in sorted(sig.names & names)]
    for f in figures:
        if any(values_match(f, g) and units_compatible(f, g) and (f.unit or f.percent or f.money or f.value >= 10)
               for g in sig.figures):
            shared.append((f"figure {f.text}", 1.0 if f.unit else 0.5))
    return shared


def same_development(sig: Signature, title: str, sentences: list[Sentence],
                     published: datetime | None) -> list[str]:
    """The facts this article shares with the development (empty when it is another story)."""
    if sig.published and published and abs(published - sig.published) > NEWS_CYCLE:
        return []
    names = {n for s in sentences for n in s.names}
    figures = [f for s in sentences for f in s.figures] + list(extract_figures(title))
    shared = shared_facts(sig, names, figures)
    headline = fuzz.token_set_ratio(title.lower(), sig.title.lower())
    if headline >= SAME_HEADLINE:
        return [f"headline {headline:.0f}%", *(fact for fact, _ in shared)]
    return [fact for fact, _ in shared] if sum(w for _, w in shared) >= 1.0 else []

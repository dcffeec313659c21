"""Text plumbing shared by baseline and articles: junk lines out, sentences, stems, names."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Lines that scraping leaves around an article but that are not its text: other stories'
# headlines, share/subscribe prompts, photo credits, copyright and donation appeals.
JUNK_LINE = re.compile(
    r"^\s*(?:read (?:also|more)|see also|related(?: stories| articles)?|most read|trending|recommended"
    r"|more from|advertisement|sponsored|share (?:this|on)|follow us|subscribe|sign up|newsletter"
    r"|click here|copyright|©|all rights reserved|photo(?:graph)?:|image:|credit:|getty images|\(photo"
    r"|oops!|something went wrong|please try again|support (?:our|independent)|donate|cookie"
    r"|we use cookies|accept all|listen to this article|reporting by|editing by|writing by)",
    re.I,
)
CREDIT = re.compile(r"\((?:photo|image|picture)[^)]*\)\s*$|/ (?:AFP|AP|Reuters|Getty)\b.*\)$", re.I)
SENTENCE_END = re.compile(r"[.!?\"”’)]\s*$")
ABBREVIATIONS = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Gen|Lt|Col|Sgt|Capt|Adm|Rep|Sen|Gov|St|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept"
    r"|Oct|Nov|Dec|No|Nos|vs|etc|Inc|Corp|Ltd|Co|U\.S|U\.K|U\.N|approx|est)\.$"
)
SPLIT = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]*[A-Z0-9])")
WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*[A-Za-z]|[A-Za-z]")
NAME = re.compile(r"\b[A-Z][a-zA-Z'’\-]+(?:\s+(?:al-|bin\s|de\s|of\s)?[A-Z][a-zA-Z'’\-]+)*")

NUMBER_WORD = re.compile(
    r"(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    r"|million|billion|half|third|quarter|dozen)-?)+",
    re.I,
)
STOPWORDS = frozenset("""
a about above after again against all also am an and any are around as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours yourself
said says say told according also one two new last first week weeks day days month months year years
mr mrs ms since still yet even much many may might must shall would could us per via
monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow
january february march april june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
""".split())


def normalize(text: str) -> str:
    """NFKC, typographic quotes and dashes made plain, spaces folded."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": " - ",
                                         "\u00a0": " ", "\u200b": ""}))
    return re.sub(r"[ \t]+", " ", text)


def is_junk_line(line: str) -> bool:
    """True for a scraped line that is not article prose."""
    s = line.strip()
    if not s:
        return True
    if JUNK_LINE.match(s) or CREDIT.search(s):
        return True
    words = WORD.findall(s)
    if not SENTENCE_END.search(s) and len(words) < 15:
        return True  # headlines of other stories, "×", "News / Koreas / More", menu crumbs, names
    return bool(len(s) < 25 and s.count("/") >= 2)


def clean_text(text: str) -> list[str]:
    """The prose paragraphs of a scraped text, junk lines removed, in order."""
    paragraphs: list[str] = []
    for line in normalize(text).splitlines():
        line = line.strip(" •\t")
        if not is_junk_line(line):
            paragraphs.append(line)
    return paragraphs


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; abbreviations (Jan., U.S., Gen.) do not end one."""
    parts = SPLIT.split(paragraph.strip())
    out: list[str] = []
    for part in parts:
        if out and ABBREVIATIONS.search(out[-1]):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return [s.strip() for s in out if s.strip()]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English stem: enough to meet 'ships'/'ship', 'attacked'/'attack', 'shares'/'share'."""
    w = word.lower().replace("’", "'").strip("'-")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 4:
        # short plurals: "tons", "jets", "days" (not "gas", "bus", "this")
        return w[:-1] if len(w) == 4 and w.endswith("s") and not w.endswith(("ss", "us", "is", "as")) else w
    if w.endswith("ss"):
        return w
    if w.endswith("ies") or w.endswith("ied"):
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "zes", "ches", "shes")):
        return w[:-2]
    if w.endswith("ing") and len(w) > 6:
        return w[:-3]
    if w.endswith("ed") and len(w) > 5:
        w = w[:-2]
        return w[:-1] if len(w) > 3 and w[-1] == w[-2] else w
    if w.endswith("s") and not w.endswith(("us", "is")):
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    return WORD.findall(text)


def content_stems(text: str) -> frozenset[str]:
    """Stems of the words that carry meaning (no stopwords, no one-letter words)."""
    return frozenset(stem(w) for w in words(text) if len(w) > 1 and w.lower() not in STOPWORDS)


def names(sentence: str) -> frozenset[str]:
    """Capitalised names in a sentence, lower-cased; the first word counts only when it is
    not an ordinary sentence opener (a stopword)."""
    found: set[str] = set()
    for match in NAME.finditer(sentence):
        token = match.group(0)
        first = token.split()[0]
        if match.start() == 0 and first.lower() in STOPWORDS:
            rest = token.split()[1:]
            if not rest:
                continue
            token = " ".join(rest)
        for part in token.split():
            part = re.sub(r"['’]s$", "", part)
            if NUMBER_WORD.fullmatch(part):
                continue
            # capitalised common words (sentence openers, titles like "Secretary") are not names
            if part.lower() not in STOPWORDS and len(part) > 2 and specificity(part) >= 1.5:
                found.add(stem(part))
    return frozenset(found)


@lru_cache(maxsize=200_000)
def specificity(word: str) -> float:
    """How much a word says about a subject: 0 for 'the' or 'said', about 4 for a rare name.
    From general English word frequencies (wordfreq's Zipf scale, shipped with the package;
    imported on first use: 0.15 s that a pass with nothing new to read does not pay)."""
    from wordfreq import zipf_frequency

    return max(0.0, 6.0 - zipf_frequency(word.lower(), "en"))


def weighted_stems(text: str) -> dict[str, float]:
    """Content stems with their specificity (the most specific spelling of each stem)."""
    out: dict[str, float] = {}
    for w in words(text):
        low = w.lower()
        if len(low) < 2 or low in STOPWORDS:
            continue
        s = stem(low)
        out[s] = max(out.get(s, 0.0), specificity(low))
    return out

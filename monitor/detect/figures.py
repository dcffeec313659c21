"""Figures: quantities in digits or words, with their qualifier and what they count.

Number words go through text2num (`alpha2digit`); fractions ("a tenth", "seven-tenths of
one percent") and a few counting words ("a score", "a dozen") are resolved first, since
text2num leaves them alone. Years, dates, clock times, ordinals and identifiers
("Flight 1282", "Resolution 2722", "MAX 9", "A320") are not figures.
"""

from __future__ import annotations

import re
from functools import lru_cache

from text_to_num import alpha2digit

from monitor.detect.text import NUMBER_WORD, STOPWORDS, stem
from monitor.detect.types import Figure

FRACTIONS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fifth": 5, "fifths": 5,
    "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7, "eighth": 8, "eighths": 8, "ninth": 9,
    "ninths": 9, "tenth": 10, "tenths": 10, "twentieth": 20, "twentieths": 20, "hundredth": 100,
    "hundredths": 100, "thousandth": 1000,
}
SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
_FRAC = r"\b(a|an|one|two|three|four|five|six|seven|eight|nine)[\s-]+(" + "|".join(FRACTIONS) + r")\b"
_OF_PCT = r"(\s+of\s+(?:one|a|1)\s+(?:per\s*cent|percent))?"
FRACTION_RANGE = re.compile(_FRAC + r"\s+(?:and|to|or)\s+" + _FRAC + _OF_PCT, re.I)
# "a third" is a fraction only as "a third of ..." (else "a third country"); plurals always are.
FRACTION = re.compile(_FRAC + r"(?=s?\s+of\b|s\b)" + _OF_PCT, re.I)
WORD_MULT = re.compile(r"(\d)\s+(thousand|million|billion|trillion)\b", re.I)
UNIT_SPELLINGS = {"tonne": "ton", "metre": "meter", "kilometre": "kilometer", "litre": "liter", "centre": "center"}
LEADING_FILLER = {"metric", "already", "additional", "more", "other", "new", "further", "extra", "some", "of",
                  "a", "an", "the"}
COUNTING = [(re.compile(r"\ba score of\b", re.I), "20"), (re.compile(r"\ba dozen\b", re.I), "12"),
            (re.compile(r"\b(?:one|a) (per ?cent|percentage point)", re.I), r"1 \1")]
MULTIPLIER = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9,
              "b": 1e9, "trillion": 1e12, "tn": 1e12}
NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
MULT = r"(?:\s*(?:thousand|million|billion|trillion|mn|bn|tn)\b|(?:k|m|bn|b)\b)"
FIGURE = re.compile(
    rf"(?P<cur>(?:US)?\$|€|£|¥)?\s?(?P<num>{NUMBER})(?P<mult>{MULT})?"
    rf"(?:\s*(?:-|to|and)\s*(?:(?:US)?\$|€|£)?(?P<num2>{NUMBER})(?P<mult2>{MULT})?)?"
    r"(?P<pct>\s*(?:%|per\s*cent\b|percent\b|percentage points?\b))?",
    re.I,
)
QUALIFIER = re.compile(
    r"(about|around|roughly|nearly|almost|approximately|some|over|more than|at least|up to|less than"
    r"|fewer than|under|as many as|as much as|close to|just over|just under|an estimated|estimated)\s*$",
    re.I,
)
MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
DATE_BEFORE = re.compile(rf"\b(?:{MONTHS})\.?\s*$", re.I)
DATE_AFTER = re.compile(rf"^(?:st|nd|rd|th)?\s*(?:of\s+)?(?:{MONTHS})\b", re.I)
ORDINAL_AFTER = re.compile(r"^(?:st|nd|rd|th)\b", re.I)
# "Flight 1282", "Resolution 2722", "MAX 9", "F-16", "737 MAX": a capitalised word right before
# the number (unless it is an ordinary opener such as "All" or "Nearly"), a hyphenated prefix,
# or an all-caps model name right after it.
IDENT_BEFORE = re.compile(r"(?:\b([A-Z][A-Za-z]*)|[A-Za-z]+-|#|No\.)\s?$")
IDENT_AFTER = re.compile(r"^\s+[A-Z]{2,}\b(?!\s+[a-z])")
TIME_AFTER = re.compile(r"^(?::\d\d|\s*(?:a\.m\.|p\.m\.|am\b|pm\b|GMT|UTC|GMT))", re.I)
UNIT_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
TIME_UNITS = {"year", "years", "month", "months"}


def _fraction_value(count: str, denominator: str, of_percent: bool) -> float:
    value = SMALL[count.lower()] / FRACTIONS[denominator.lower()]
    # "seven-tenths of one percent" is a percentage already; "a tenth of trade" is 10%
    return round(value if of_percent else value * 100, 6)


def _fraction(match: re.Match[str]) -> str:
    return f"{_fraction_value(match.group(1), match.group(2), bool(match.group(3))):g} percent"


def _fraction_range(match: re.Match[str]) -> str:
    pct = bool(match.group(5))
    low = _fraction_value(match.group(1), match.group(2), pct)
    high = _fraction_value(match.group(3), match.group(4), pct)
    return f"{low:g}-{high:g} percent"


@lru_cache(maxsize=65536)
def to_digits(sentence: str) -> str:
    """The sentence with number words, fractions and counting words written as digits."""
    text = FRACTION_RANGE.sub(_fraction_range, sentence)
    text = FRACTION.sub(_fraction, text)
    text = WORD_MULT.sub(lambda m: m.group(1) + {"thousand": "k", "million": "mn", "billion": "bn",
                                                  "trillion": "tn"}[m.group(2).lower()], text)
    for pattern, repl in COUNTING:
        text = pattern.sub(repl, text)
    try:
        return alpha2digit(text, "en")
    except Exception:  # text2num can choke on odd input; the digits we have still count
        return text


def _number(num: str, mult: str | None) -> float:
    value = float(num.replace(",", ""))
    if mult:
        value *= MULTIPLIER.get(mult.strip().lower(), 1)
    return value


def _unit(after: str) -> tuple[tuple[str, ...], str]:
    """What a figure counts: the noun phrase after it (up to four words, ending before
    punctuation, a function word or a verb), as stems with the head noun first ("about 12,000
    North Korean troops" counts ('troop', 'north', 'korean')), and the phrase as written."""
    head = re.split(r"[,;:.()\"]|\s-\s", after, maxsplit=1)[0]
    if re.match(r"\s*of\s+(?:the\s+|its\s+|their\s+)?\d", head):
        return (), ""  # "129 of the 171 jets": counted by the figure that follows
    phrase: list[str] = []
    for i, word in enumerate(UNIT_WORD.findall(head)[:6]):
        low = word.lower()
        if i == 0 and low in ("a", "an", "per", "each", "every"):
            break  # a rate ("38 a month"): what is counted is not named here
        if low in LEADING_FILLER and not phrase:
            continue
        if (low in STOPWORDS and low not in TIME_UNITS) or (phrase and low.endswith(("ed", "ing"))):
            break  # the counted noun ends before a verb ("171 passengers survived")
        phrase.append(word)
        if len(phrase) == 4 or low in TIME_UNITS:
            break
    stems = [UNIT_SPELLINGS.get(stem(w), stem(w)) for w in phrase]
    return (tuple(stems[-1:] + stems[:-1]), " ".join(phrase))


def _is_not_a_figure(text: str, m: re.Match[str]) -> bool:
    before, after = text[: m.start()], text[m.end():]
    num = m.group("num")
    plain = not (m.group("cur") or m.group("pct") or m.group("mult"))
    if plain and re.fullmatch(r"(1[89]|20)\d\d", num) and not re.match(r"\s*(?:[a-z]+\s+)?(?:troops|people)",
                                                                         after):
        return True  # a year
    if plain and (DATE_BEFORE.search(before) or DATE_AFTER.match(after)):
        return True  # Jan. 12 / 12 January / the 2nd of March
    if ORDINAL_AFTER.match(after) or TIME_AFTER.match(after):
        return True
    ident = IDENT_BEFORE.search(before)
    if plain and ident and not (ident.group(1) and (ident.group(1).lower() in STOPWORDS
                                                   or QUALIFIER.search(ident.group(1)))):
        return True  # Flight 1282, MAX 9, F-16
    if plain and (re.match(r"[A-Za-z]", after) or IDENT_AFTER.match(after)):
        return True  # A320, 777X, 737 MAX
    return bool(before.endswith(("/", ".")) or (after.startswith(("/", "-")) and plain))


NUMBERISH = re.compile(r"\d|" + NUMBER_WORD.pattern + r"|\b(?:score|dozen|" + "|".join(FRACTIONS) + r")\b", re.I)


def extract_figures(sentence: str) -> tuple[Figure, ...]:
    """Every figure in the sentence, in order."""
    if not NUMBERISH.search(sentence):
        return ()  # no digit and no number word: nothing to convert (text2num is costly)
    text = to_digits(sentence)
    figures: list[Figure] = []
    for m in FIGURE.finditer(text):
        if _is_not_a_figure(text, m):
            continue
        value = _number(m.group("num"), m.group("mult") or m.group("mult2"))
        high = _number(m.group("num2"), m.group("mult2")) if m.group("num2") else None
        if high is not None and high <= value:
            continue  # a vote or a score (11-0), not a range
        percent = bool(m.group("pct"))
        money = bool(m.group("cur"))
        qual = QUALIFIER.search(text[: m.start()])
        unit, unit_text = _unit(text[m.end():])
        if percent:
            unit = ("percent", *unit[:1])
        elif money:
            unit = ("money", *unit[:1])
        start = qual.start() if qual else m.start()
        shown = f"{text[start: m.end()].strip()} {unit_text if not percent else ''}"
        shown = re.sub(r"(?<![\d.,])\d{4,}(?![\d.,])", lambda d: f"{int(d.group()):,}", shown)  # 12000 -> 12,000
        figures.append(Figure(value=value, high=high, unit=unit, text=shown.strip(),
                              qualifier=(qual.group(1).lower() if qual else ""), percent=percent, money=money))
    return tuple(figures)


def units_compatible(a: Figure, b: Figure) -> bool:
    """Whether two figures could count the same thing: same kind, and the head noun of one
    among the words of the other ("crew" / "crew members"), or one of them unnamed."""
    if a.percent != b.percent or a.money != b.money:
        return False
    if a.percent or a.money or not a.unit or not b.unit:
        return True
    return a.unit[0] in b.unit or b.unit[0] in a.unit


def values_match(a: Figure, b: Figure) -> bool:
    """Same value, allowing the rounding that prose uses (a tenth-to-an-eighth vs 10-12%)."""
    def near(x: float, y: float, tol: float) -> bool:
        return abs(x - y) <= tol * max(abs(x), abs(y), 1e-9)

    tol = 0.05 if (a.high or b.high or a.qualifier or b.qualifier) else 0.005
    return (near(a.value, b.value, tol) and near(a.high or a.value, b.high or b.value, tol)) \
        or (near(a.value, b.value, 0.005) and not (a.high and b.high))

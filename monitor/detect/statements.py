"""Statements: decisions, status changes and first-time events, read from one sentence.

An event is an action class (what kind of change: `end`, `approve`, `sink`...) with the
content stems around it (who and what). The verb lists are ordinary English news verbs,
not any topic's words. Negation ("did not ratify") and hedging ("may", "could", "plans
to", "if") are kept, so that a denial is not a confirmation and a possibility is not a fact.
"""

from __future__ import annotations

import re

from monitor.detect.text import content_stems
from monitor.detect.types import Event

# action class -> verb forms (regex alternatives). Kinds: status changes and decisions.
ACTIONS: dict[str, str] = {
    "launch": r"launch(?:es|ed|ing)?|inaugurat\w*|set up|sets up|establish(?:es|ed)?|unveil(?:s|ed)?"
              r"|announc(?:es|ed)",
    "begin": r"beg[ia]n[s]?|begun|start(?:s|ed)?|walk(?:s|ed)? out|went on strike|go(?:es)? on strike"
             r"|kick(?:s|ed)? off|broke out",
    "end": r"end(?:s|ed|ing)|(?:to|will|would) end|conclud(?:es|ed)|halt(?:s|ed)?|ceas(?:es|ed)|call(?:s|ed) off"
           r"|terminat(?:es|ed)|scrap(?:s|ped)?|abandon(?:s|ed)?|wound down",
    "suspend": r"suspend(?:s|ed)?|paus(?:es|ed)|freez(?:es)|froze(?:n)?|withh[eo]ld(?:s)?",
    "resume": r"resum(?:es|ed)|restart(?:s|ed)?|reopen(?:s|ed)?|return(?:s|ed)? to",
    "approve": r"approv(?:es|ed)|authori[sz](?:es|ed)|clear(?:s|ed)|endors(?:es|ed)|pass(?:es|ed)"
               r"|adopt(?:s|ed)?|let(?:s)?|allow(?:s|ed)?|lift(?:s|ed)?|eas(?:es|ed)|grant(?:s|ed)?",
    "reject": r"reject(?:s|ed)?|throw(?:s|n)? out|threw out|vot(?:es|ed) down|veto(?:es|ed)?"
              r"|overturn(?:s|ed)?|struck down|strikes? down|dismiss(?:es|ed)?|refus(?:es|ed)|block(?:s|ed)?",
    "sign": r"sign(?:s|ed)?|ink(?:s|ed)?",
    "ratify": r"ratif(?:y|ies|ied|ying)",
    "in_force": r"(?:enter(?:s|ed)?|came|come[s]?) into force|t[ao]ok(?:e[sn])? effect|in force",
    "agree": r"agree(?:s|d)?|accept(?:s|ed)?|settl(?:es|ed)|reach(?:es|ed) (?:a |an )?(?:deal|agreement)"
             r"|plead(?:s|ed)? guilty|pled guilty",
    "designate": r"designat(?:es|ed)|re-?designat(?:es|ed)|list(?:s|ed) as|blacklist(?:s|ed)?",
    "sanction": r"sanction(?:s|ed)|impos(?:es|ed)|fin(?:es|ed)|penali[sz](?:es|ed)",
    "sink": r"sink(?:s)?|sank|sunk|capsiz(?:es|ed)|went down|goes down|lost at sea",
    "seize": r"seiz(?:es|ed)|hijack(?:s|ed)?|captur(?:es|ed)|detain(?:s|ed)?|arrest(?:s|ed)?"
             r"|abduct(?:s|ed)?|kidnap(?:s|ped)?",
    "release": r"releas(?:es|ed)|fre(?:es|ed)|set free|let go|hand(?:s|ed) over",
    "kill": r"kill(?:s|ed)?|died|dies|dead|death[s]?",
    "attack": r"attack(?:s|ed)?|struck|strikes|hit(?:s)?|bomb(?:s|ed)?|fir(?:es|ed) (?:on|at)|shell(?:s|ed)?"
              r"|target(?:s|ed)?|raid(?:s|ed)?",
    "deploy": r"deploy(?:s|ed)?|sen[dt]s?|dispatch(?:es|ed)?|station(?:s|ed)?",
    "withdraw": r"withdr[ae]w(?:s|n)?|pull(?:s|ed)? out|retreat(?:s|ed)?",
    "leave_post": r"resign(?:s|ed)?|step(?:s|ped)? down|quit(?:s)?|retir(?:es|ed)|oust(?:s|ed)?"
                  r"|sack(?:s|ed)?",
    "appoint": r"appoint(?:s|ed)?|nam(?:es|ed) (?:as )?(?:new |its )?|elect(?:s|ed)?|tap(?:s|ped)?"
               r"|promot(?:es|ed)|succeed(?:s|ed)?|replac(?:es|ed)",
    "charge": r"charg(?:es|ed)|indict(?:s|ed)?|su(?:es|ed)|convict(?:s|ed)?|sentenc(?:es|ed)|prosecut\w+",
    "declare": r"declar(?:es|ed)|proclaim(?:s|ed)?",
    "confirm": r"confirm(?:s|ed)?|acknowledg(?:es|ed)|admit(?:s|ted)?",
    "deny": r"den(?:y|ies|ied)",
    "cut": r"cut(?:s)?|slash(?:es|ed)?|lay(?:s)? off|laid off|reduc(?:es|ed)|lower(?:s|ed)?|shrink(?:s)?"
           r"|delay(?:s|ed)?|postpon(?:es|ed)|push(?:es|ed)? back",
    "raise": r"rais(?:es|ed)|increas(?:es|ed)|ris(?:es|en)|rose|hik(?:es|ed)|boost(?:s|ed)?|doubl(?:es|ed)"
             r"|climb(?:s|ed)?|jump(?:s|ed)?|soar(?:s|ed)?",
    "ban": r"ban(?:s|ned)?|prohibit(?:s|ed)?|bar(?:s|red)?|ground(?:s|ed)?|cap(?:s|ped)?",
    "vote": r"vot(?:es|ed)|ballot(?:s|ed)?",
    "find": r"f[io]und|conclud(?:es|ed)|blam(?:es|ed)|determin(?:es|ed)|rul(?:es|ed)",
}
ACTION_PATTERNS = {name: re.compile(rf"\b(?:{forms})\b", re.I) for name, forms in ACTIONS.items()}
# one pass to skip the sentences (most of them) that hold no action verb at all; every verb
# form starts with a letter, and saying so lets the scan skip other positions (2x faster)
ANY_ACTION = re.compile(r"\b(?=[A-Za-z])(?:" + "|".join(ACTIONS.values()) + r")\b", re.I)

NEGATION = re.compile(r"\b(?:not|no|never|n't|neither|nor|without|rul\w+ out)\b", re.I)
HEDGE = re.compile(
    r"\b(?:may|might|could|should|if|whether|unless|until|considering|consider(?:s|ed)?|weigh(?:s|ing|ed)?"
    r"|plan(?:s|ned)? to|intend\w* to|threaten\w* to|expected to|likely to|poised to|set to|aim(?:s|ed)? to"
    r"|seek(?:s|ing)? to|propos\w+|possible|possibly|potential(?:ly)?|reportedly|rumou?r\w*|speculat\w+"
    r"|warn\w*|call(?:s|ed)? for|urg\w+|demand\w*|hope\w*|want\w*|review\w*|reconsider\w*)\b",
)  # case-sensitive: "May" the month is not "may" (sentence openers are lower-cased first)


def _hedged(text: str) -> bool:
    return bool(HEDGE.search(text[:1].lower() + text[1:]))

FUTURE = re.compile(r"\b(?:will|would|shall|won't|going to|ask\w* (?:him|her|them|the \w+) to)\b", re.I)


def is_hedged(sentence: str) -> bool:
    return _hedged(sentence)


# A verb form that is not the sentence's news: an adjective or noun ("an agreed ending", "the
# end of May"), a time clause ("since the Houthis began", "a week after X unveiled"), or a
# reduced relative clause (", launched in December,").
NOT_A_STATEMENT = re.compile(r"(?:\b(?:a|an|the|its|their|his|her)\s+$|\b(?:after|since|before|when|once|as)\b"
                             r"[^,;]{0,60}$|,\s*$)", re.I)


def extract_events(sentence: str) -> tuple[Event, ...]:
    """The action classes a sentence states, each with the sentence's content stems.

    Hedging and the future count when they stand before the verb ("could send", "if ...
    will impose", "plans to start"); negation when it stands in the verb's own clause
    ("did not ratify", not "does not rule out ..., where he signed").
    """
    # Verbs are found in one scan; each action class is then tried only where a verb starts
    # (anchored), which finds the same first statement per class as scanning for each class.
    starts = [m.start() for m in ANY_ACTION.finditer(sentence)]
    if not starts:
        return ()
    stems = content_stems(sentence)
    found: dict[str, tuple[re.Match[str], str]] = {}
    for start in starts:
        before = sentence[:start]
        if NOT_A_STATEMENT.search(before[-80:]):
            continue
        for name, pattern in ACTION_PATTERNS.items():
            if name not in found and (match := pattern.match(sentence, start)):
                found[name] = (match, before)
    events: list[Event] = []
    for name in ACTION_PATTERNS:
        if name in found:
            match, before = found[name]
            clause = re.split(r"[,;:]", before)[-1].split()[-6:]
            events.append(Event(action=name, stems=stems - content_stems(match.group(0)),
                                negated=bool(NEGATION.search(" ".join(clause))),
                                hedged=_hedged(before), future=bool(FUTURE.search(before))))
    return tuple(events)


def event_is_known(event: Event, known: list[Event], share: float = 0.4) -> bool:
    """Whether a known event has the same action and polarity and is about the same things:
    at least two shared stems and `share` of the smaller stem set (a shared company name
    alone does not make two strikes the same strike)."""
    for other in known:
        if other.action != event.action or other.negated != event.negated:
            continue
        shared = len(event.stems & other.stems)
        if shared >= max(2, share * min(len(event.stems), len(other.stems))):
            return True
    return False

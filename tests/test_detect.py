"""Detection on small fixtures from several kinds of topic (conflict, health, economy)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.detect import Detector, read_text
from monitor.detect.clustering import Signature, same_development
from monitor.detect.figures import extract_figures
from monitor.detect.reading import read_sentence
from monitor.detect.statements import extract_events


def values(text: str) -> list[float]:
    return [f.value for f in extract_figures(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("North Korea has about 11,000 troops in Kursk.", [11000]),
    ("North Korea has about eleven thousand troops in Kursk.", [11000]),
    ("The premium rose to around one percent of the hull value.", [1]),
    ("Premiums were seven-tenths of one percent a week earlier.", [0.7]),
    ("The route carries between a tenth and an eighth of world trade.", [10]),
    ("More than a score of countries joined.", [20]),
    ("Output rises to forty-two jets a month.", [42]),
    ("A $243.6 million fine was agreed.", [243.6e6]),
])
def test_figures_in_digits_and_words(text: str, expected: list[float]) -> None:
    assert values(text) == pytest.approx(expected)


def test_ranges_keep_both_ends() -> None:
    (fig,) = extract_figures("The strait carries 10-12% of global trade.")
    assert (fig.value, fig.high, fig.percent) == (10, 12, True)


@pytest.mark.parametrize("text", [
    "Flight 1282 landed safely in Portland.",
    "The council adopted Resolution 2722 on Jan. 10, 2024.",
    "The 737 MAX 9 was grounded in 2024.",
    "He was sent to a third country for talks.",
    "It was the 2nd of March when the ship sank.",
])
def test_identifiers_years_dates_and_ordinals_are_not_figures(text: str) -> None:
    assert values(text) == []


def test_figure_knows_what_it_counts() -> None:
    (fig,) = extract_figures("The agency had sent about 1,500 soldiers to Vladivostok.")
    assert fig.unit[0] == "soldier" and fig.qualifier == "about"


def test_hedged_and_negated_statements() -> None:
    (signed,) = [e for e in extract_events("Putin and Kim signed the pact and agreed to help if attacked.")
                 if e.action == "sign"]
    assert not signed.hedged and not signed.negated
    (maybe,) = [e for e in extract_events("Officials said Seoul could send weapons to Kyiv.")
                if e.action == "deploy"]
    assert maybe.hedged
    (denied,) = [e for e in extract_events("The parliament did not ratify the treaty on Monday.")
                 if e.action == "ratify"]
    assert denied.negated


def test_nouns_and_time_clauses_are_not_statements() -> None:
    assert "end" not in {e.action for e in extract_events("Output was 38 a month at the end of 2023.")}
    assert "launch" not in {e.action for e in
                            extract_events("A week after Washington unveiled the mission, talks went on.")}


# -- whole articles against a baseline ------------------------------------------------------

CONFLICT_SEEDS = [
    """Spy agency: North sends troops to Russia
South Korea's spy agency said the North had decided to send about 12,000 troops to help Russia, and had
already dispatched 1,500 soldiers to Vladivostok for training.
The agency said the North Korean troops were being issued Russian uniforms and weapons.
""",
    """Putin and Kim sign defence pact
Russia and North Korea signed a mutual defence treaty in Pyongyang on June 19, pledging to help each other
if either is attacked.
Putin said Moscow could supply weapons to North Korea if Seoul arms Ukraine.
""",
    """Seoul weighs arms for Ukraine
Seoul said it would review its policy of sending only non-lethal aid to Ukraine after the treaty between
Russia and North Korea.
South Korea has sent humanitarian aid and equipment to Kyiv but no weapons.
""",
]

HEALTH_SEEDS = [
    """Outbreak spreads in Kivu province
The outbreak has infected 1,200 people in Kivu province, and 40 deaths have been confirmed by the ministry.
""",
    """Vaccination begins in Kivu
Health workers began vaccinating contacts of confirmed outbreak cases in Kivu province last week.
""",
    """WHO on the Kivu outbreak
The World Health Organization said the risk of the outbreak spreading to neighbouring countries was moderate.
""",
]

ECONOMY_SEEDS = [
    """Central bank holds rates
The central bank held its key interest rate at 5.25% on Wednesday, the fourth meeting in a row without a move.
""",
    """Inflation slows
Inflation slowed to 3.1% in May from 3.4% in April, the statistics office said.
""",
    """Economists on rates
Economists expect the central bank to start cutting interest rates later in the year as inflation eases.
""",
]


def detector(name: str, description: str, keywords: list[str], seeds: list[str]) -> Detector:
    det = Detector.for_topic(name, description, keywords)
    for i, seed in enumerate(seeds):
        title, body = seed.split("\n", 1)
        det.learn_baseline([read_sentence(title), *read_text(body)], f"baseline seed{i}.txt")
    return det


@pytest.fixture
def conflict() -> Detector:
    return detector("korea", "North Korean troops sent to Russia, the Russia-North Korea treaty and South Korea's "
                    "arms policy toward Ukraine", ["North Korean troops", "North Korea Russia treaty",
                                                   "South Korea weapons Ukraine"], CONFLICT_SEEDS)


def analyze(det: Detector, title: str, body: str):  # type: ignore[no-untyped-def]
    return det.analyze(title, read_text(body, title))


def test_changed_figure_is_new_with_the_value_known_before(conflict: Detector) -> None:
    verdict = analyze(conflict, "North Korean troops now number 11,000 in Kursk, Seoul says",
                      "South Korea's spy agency said on Wednesday that about 11,000 North Korean troops are now "
                      "in Russia's Kursk region. North Korean troops were sent to Russia after the treaty.")
    assert verdict.is_new
    best = verdict.best
    assert best is not None and best.kind == "figure" and "11,000" in best.new_value
    assert "12,000" in best.known_before and "baseline" in best.known_source


def test_known_figure_in_words_is_background(conflict: Detector) -> None:
    verdict = analyze(conflict, "What we know about North Korean troops in Russia",
                      "South Korean intelligence says the North decided to send some twelve thousand troops to "
                      "help Russia. One thousand five hundred soldiers already went to Vladivostok for "
                      "training, the agency said.")
    assert verdict.relevance.on_topic
    assert not verdict.is_new, [f.reasons for f in verdict.findings]


def test_status_change_without_a_number_is_new(conflict: Detector) -> None:
    verdict = analyze(conflict, "Russia ratifies defence treaty with North Korea",
                      "Russia's parliament ratified the mutual defence treaty with North Korea on Thursday, "
                      "lawmakers said. The treaty between Russia and North Korea obliges each side to help the other.")
    assert verdict.is_new
    assert verdict.best is not None and verdict.best.kind == "policy"


def test_off_topic_article_with_a_shared_name_is_ignored(conflict: Detector) -> None:
    verdict = analyze(conflict, "Seoul marathon draws record field",
                      "A record 12,500 runners took part in the Seoul marathon on Sunday, organisers said. "
                      "The winner finished in two hours and six minutes, and the city closed roads for the "
                      "race. Kenyan athletes took the first three places in the men's race.")
    assert not verdict.relevance.on_topic
    assert not verdict.is_new


def test_new_fact_in_the_last_paragraph_is_found(conflict: Detector) -> None:
    background = ("South Korea's spy agency said the North had decided to send about 12,000 troops to help Russia. "
                  "Russia and North Korea signed a mutual defence treaty in Pyongyang on June 19. "
                  "Seoul said it would review its policy of sending only non-lethal aid to Ukraine. ")
    verdict = analyze(conflict, "Explainer: North Korean troops in Russia",
                      background * 2 + "\n\nOn Friday Ukraine said its forces had captured two North Korean "
                      "soldiers in the Kursk region, the first North Korean troops taken prisoner.")
    assert verdict.is_new
    assert verdict.best is not None and "captured" in verdict.best.sentence.text


def test_health_topic_new_case_count() -> None:
    det = detector("outbreak", "The disease outbreak in Kivu province: cases, deaths, vaccination and spread",
                   ["Kivu outbreak", "outbreak cases", "outbreak deaths"], HEALTH_SEEDS)
    new = analyze(det, "Kivu outbreak cases climb to 1,900",
                  "The outbreak has now infected 1,900 people in Kivu province, the health ministry said, "
                  "with 61 deaths confirmed.")
    assert new.is_new and new.best is not None and new.best.kind == "figure"
    old = analyze(det, "Kivu outbreak: what we know",
                  "The outbreak has infected twelve hundred people in Kivu province and forty deaths have been "
                  "confirmed. Health workers began vaccinating contacts of confirmed cases.")
    assert not old.is_new


def test_economy_topic_rate_decision() -> None:
    det = detector("rates", "The central bank's interest rate decisions, inflation and the economy",
                   ["central bank interest rate", "inflation"], ECONOMY_SEEDS)
    verdict = analyze(det, "Central bank cuts interest rate to 5% as inflation eases",
                      "The central bank cut its key interest rate to 5% on Wednesday, its first cut in four years, "
                      "after inflation slowed to 3.1% in May.")
    assert verdict.is_new
    assert verdict.best is not None and "5%" in verdict.best.new_value


def test_rolling_baseline_makes_a_reported_development_known(conflict: Detector) -> None:
    title = "Russia ratifies defence treaty with North Korea"
    body = "Russia's parliament ratified the mutual defence treaty with North Korea on Thursday."
    first = analyze(conflict, title, body)
    assert first.is_new
    conflict.learn(first.sentences, "an earlier alert", title)
    again = analyze(conflict, "Russian lawmakers back North Korea treaty",
                    "Russian lawmakers ratified the mutual defence treaty with North Korea on Thursday, "
                    "officials said.")
    assert not again.is_new


def test_one_development_many_outlets() -> None:
    when = datetime(2024, 3, 2, 12, tzinfo=UTC)
    first = [read_sentence("The Rubymar sank with about 21,000 tonnes of fertiliser aboard, CENTCOM said.")]
    sig = Signature.of("abc", "Rubymar sinks in Red Sea", first, {"rubymar"}, when)
    other = [read_sentence("The bulker Rubymar went down carrying 21,000 tonnes of fertiliser.")]
    assert same_development(sig, "Stricken bulker goes down off Yemen", other, when.replace(hour=20))
    # the same facts a week later are background, not another source of the same story
    assert not same_development(sig, "Stricken bulker goes down off Yemen", other, when.replace(day=9))

"""Deterministic news-like text for the novelty benchmark: sentences with names, figures,
decision verbs and places, drawn from word lists with a seeded random generator."""

from __future__ import annotations

import random

FIRST = ["Maria", "James", "Aisha", "Kenji", "Olga", "Pedro", "Fatima", "Lars", "Chen", "Amara", "Igor",
         "Nadia", "Tomas", "Yuki", "Hassan", "Elena", "Kwame", "Sofia", "Rahul", "Greta", "Omar", "Lucia"]
LAST = ["Okafor", "Lindqvist", "Tanaka", "Petrova", "Alvarez", "Haddad", "Novak", "Mensah", "Kowalski",
        "Moreau", "Schmidt", "Ivanova", "Costa", "Nakamura", "Rahman", "Bauer", "Silva", "Dubois", "Jensen"]
ROLES = ["minister", "spokesperson", "chief executive", "governor", "commander", "envoy", "chair", "director",
         "prosecutor", "senator", "analyst", "mayor"]
ORGS = ["the port authority", "the shipping ministry", "Northwind Freight", "the coastal guard", "Harbor Line",
        "the trade council", "the transport regulator", "Bluewater Logistics", "the customs agency",
        "the maritime union", "Atlas Shipping", "the energy board", "the central bank", "the defence ministry",
        "Meridian Ports", "the fisheries office", "the canal company", "the insurers' association"]
PLACES = ["Valdora", "Port Elsin", "Karsk", "the Narrow Strait", "Tessaly Bay", "Orrin", "Marlow Harbour",
          "the northern corridor", "Cape Veyra", "Dunmere", "the Isla Channel", "Bramholt", "Soren Point"]
VERBS = ["approved", "suspended", "signed", "rejected", "launched", "halted", "resumed", "ratified", "banned",
         "extended", "delayed", "announced", "expanded", "reviewed", "criticised", "welcomed", "postponed",
         "sanctioned", "seized", "released", "cut", "raised"]
OBJECTS = ["a new shipping route", "the port expansion plan", "the fuel subsidy", "a freight agreement",
           "the convoy programme", "the customs reform", "an emergency tariff", "the inspection regime",
           "the dredging contract", "a cargo insurance scheme", "the ferry service", "the export quota",
           "the pilot licence rules", "a joint patrol", "the container terminal lease", "the safety review"]
UNITS = ["ships", "containers", "workers", "vessels", "tonnes of grain", "passengers", "crew members",
         "trucks", "barrels of oil", "inspectors", "berths", "flights"]
MONEY = ["$", "€", "£"]
SCALES = ["million", "billion"]
QUALIFIERS = ["about", "more than", "nearly", "at least", "up to", "some", ""]
DAYS = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "last week", "this month",
        "in March", "in October", "overnight"]
HEDGES = ["may", "could", "is expected to", "plans to"]
CAUSES = ["after talks broke down", "following a safety inspection", "amid rising costs", "after a court ruling",
          "despite protests", "to ease congestion", "under pressure from insurers", "after a storm",
          "as demand fell", "following a cyber attack"]
SYLLABLES = ["zar", "vik", "tol", "mer", "qua", "dren", "os", "ka", "lum", "bex", "tir", "no", "sha", "gor"]
TOPIC_WORDS = ["shipping", "port", "freight", "harbour"]


class NewsWriter:
    """Writes plausible news sentences and articles; the same seed gives the same text."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)

    def person(self) -> str:
        r = self.rng
        return f"{r.choice(FIRST)} {r.choice(LAST)}"

    def figure(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.4:
            q = r.choice(QUALIFIERS)
            n = r.choice([r.randint(12, 990), r.randint(1000, 90000)])
            return f"{q} {n:,} {r.choice(UNITS)}".strip()
        if kind < 0.7:
            return f"{r.choice(MONEY)}{r.randint(1, 900) / 10:g} {r.choice(SCALES)}"
        return f"{r.randint(2, 95)} percent"

    def sentence(self) -> str:
        r = self.rng
        template = r.randrange(6)
        org, place, obj, verb = r.choice(ORGS), r.choice(PLACES), r.choice(OBJECTS), r.choice(VERBS)
        if template == 0:
            s = (f"{self.person()}, the {r.choice(ROLES)} of {org}, said {r.choice(DAYS)} that it had {verb} "
                 f"{obj} in {place} {r.choice(CAUSES)}.")
        elif template == 1:
            s = f"{org.capitalize()} {verb} {obj} {r.choice(DAYS)}, affecting {self.figure()} in {place}."
        elif template == 2:
            s = (f"The {r.choice(TOPIC_WORDS)} sector in {place} handled {self.figure()} {r.choice(DAYS)}, "
                 f"up from {self.figure()} a year earlier, according to {org}.")
        elif template == 3:
            s = (f"{org.capitalize()} {r.choice(HEDGES)} review {obj} {r.choice(CAUSES)}, "
                 f"{self.person()} told reporters in {place}.")
        elif template == 4:
            s = (f"Officials in {place} {verb} {obj} worth {self.figure()}, "
                 f"the largest such move by {org} this year.")
        else:
            s = (f"{self.person()} {verb} the decision {r.choice(CAUSES)}, saying {self.figure()} were at "
                 f"stake along the {r.choice(TOPIC_WORDS)} routes near {place}.")
        return s[0].upper() + s[1:]

    def fresh_sentence(self) -> str:
        """A sentence with facts no word list holds: an invented name and an unusual figure."""
        r = self.rng
        name = "".join(r.choice(SYLLABLES) for _ in range(3)).capitalize()
        figure = f"{r.randint(100_001, 999_999):,} {r.choice(UNITS)}"
        verb, obj, place = r.choice(VERBS), r.choice(OBJECTS), r.choice(PLACES)
        return f"{name} {verb} {obj} in {place} {r.choice(DAYS)}, a move affecting {figure}."

    def sentences(self, n: int) -> list[str]:
        return [self.sentence() for _ in range(n)]

    def article(self, known: list[str], sentences: int = 14, restated_share: float = 0.5,
                fresh_share: float = 0.1) -> tuple[str, str]:
        """A title and a text: some sentences copied from `known` (background), some with new
        facts (`fresh_share`), the rest recombined from the word lists."""
        r = self.rng
        title = f"{r.choice(ORGS).capitalize()} {r.choice(VERBS)} {r.choice(OBJECTS)} in {r.choice(PLACES)}"
        lines = []
        for _ in range(sentences):
            draw = r.random()
            if known and draw < restated_share:
                lines.append(r.choice(known))
            elif draw < restated_share + fresh_share:
                lines.append(self.fresh_sentence())
            else:
                lines.append(self.sentence())
        paragraphs = [" ".join(lines[i:i + 3]) for i in range(0, len(lines), 3)]
        return title, "\n".join(paragraphs)

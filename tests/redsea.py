"""A small Red Sea topic for the operations tests: a baseline and pages whose verdicts are
clear (three new facts, one background article)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import LocalServer, Route, article_html, rss

SEEDS = {
    "01.txt": "Houthi attacks disrupt Red Sea shipping\n\nYemen's Houthi rebels have attacked commercial ships "
              "in the Red Sea since November 2023, saying they target vessels linked to Israel. Shipping "
              "companies such as Maersk diverted their ships around Africa, adding ten days to voyages between "
              "Asia and Europe. About 20 ships were attacked by the end of January.\n",
    "02.txt": "US and Britain strike Houthi targets in Yemen\n\nThe United States and Britain launched air "
              "strikes on Houthi targets in Yemen in January 2024 to protect Red Sea shipping. The Houthis said "
              "they would continue attacking ships in the Red Sea and the Gulf of Aden.\n",
    "03.txt": "Red Sea crisis raises shipping costs\n\nContainer shipping rates between Asia and Europe doubled "
              "as ships avoided the Red Sea and the Suez Canal. Insurers raised war risk premiums for Red Sea "
              "voyages.\n",
}

# slug -> (title, paragraphs, a new development against the baseline?)
ARTICLES: dict[str, tuple[str, list[str], bool]] = {
    "deadly-strike": ("Houthi missile kills three sailors on ship in Gulf of Aden",
                      ["A Houthi missile hit the bulk carrier True Confidence in the Gulf of Aden on Wednesday, "
                       "killing three sailors, the US military said.",
                       "It was the first deadly Houthi attack on Red Sea shipping since the attacks on ships "
                       "began in November."], True),
    "rubymar": ("Houthi-hit ship Rubymar sinks in the Red Sea",
                ["The cargo ship Rubymar sank in the Red Sea on Saturday, two weeks after a Houthi missile "
                 "attack, the first ship lost since the Houthi attacks on shipping began.",
                 "The ship was carrying 21,000 tonnes of fertiliser, Yemen's government said."], True),
    "airstrikes": ("US and Britain strike 36 Houthi targets in Yemen",
                   ["The United States and Britain struck 36 Houthi targets in Yemen on Saturday in a new "
                    "round of air strikes to protect Red Sea shipping, the Pentagon said.",
                    "The Houthis said they would keep attacking ships in the Red Sea."], True),
    "costs": ("Red Sea attacks keep shipping costs high",
              ["Shipping companies continue to divert ships around Africa because of Houthi attacks in the "
               "Red Sea.", "Insurers raised war risk premiums for Red Sea voyages, and container rates "
               "between Asia and Europe remain high."], False),
}


def write_seeds(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SEEDS.items():
        (folder / name).write_text(text)
    return folder


def topic(server: LocalServer, seeds: Path) -> dict[str, Any]:
    """The topic's config entry, alerting to the server's /alerts."""
    return {"name": "redsea", "description": "Houthi attacks on Red Sea shipping",
            "keywords": ["Houthi", "Red Sea"], "baseline": str(seeds), "feeds": [server.url("/feed.xml")],
            "notify": [f"json://127.0.0.1:{server.port}/alerts"]}


def page_url(server: LocalServer, slug: str) -> str:
    return server.url(f"/articles/{slug}.html")


def publish(server: LocalServer, slugs: list[str], page: Any = None) -> None:
    """Serve the feed with these articles (day N of March 2024 for the Nth) and their pages;
    `page(body) -> handler` can replace the plain route (e.g. to add a delay)."""
    items = []
    for day, slug in enumerate(slugs, 1):
        title, paragraphs, _new = ARTICLES[slug]
        body = article_html(title, paragraphs, date=f"2024-03-{day:02d}")
        server.routes[f"/articles/{slug}.html"] = page(body) if page else Route(
            200, body, {"Content-Type": "text/html; charset=utf-8"})
        items.append({"link": page_url(server, slug), "title": title,
                      "pubDate": f"{day:02d} Mar 2024 10:00:00 GMT"})
    server.routes["/feed.xml"] = Route(200, rss(items), {"Content-Type": "application/rss+xml",
                                                         "ETag": f'"{"-".join(slugs)}"'})
    server.routes["/alerts"] = Route(200, b"{}", {"Content-Type": "application/json"})

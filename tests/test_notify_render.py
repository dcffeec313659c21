"""Message formats: what every alert must contain, what it must not, and the docs examples."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime

from monitor.notify import render, render_digest
from monitor.notify.render import origin
from monitor.store import DevelopmentRecord

from .conftest import ROOT


def _dev(i: int, topic: str = "army", **kw: object) -> DevelopmentRecord:
    base = {"id": f"id{i:010d}", "topic": topic, "kind": "figure", "summary": f"The army has {i} tanks.",
            "title": f"Tanks {i}", "evidence": f"The army has {i} tanks.", "new_value": f"{i} tanks",
            "known_before": "", "known_source": "", "sources": [f"https://news.example/{topic}/{i}"],
            "confidence": 0.5, "first_seen": datetime(2024, 1, 1 + i, tzinfo=UTC)}
    return DevelopmentRecord(**{**base, **kw})


def test_every_format_names_the_development_and_its_sources() -> None:
    dev = _dev(1, sources=["https://a.example/1", "https://b.example/2"])
    msg = render(dev)
    for part in (msg.title + msg.text, msg.html):
        assert dev.id in part and "https://a.example/1" in part and "https://b.example/2" in part
    assert "2 sources" in msg.text


def test_known_before_never_names_another_development() -> None:
    other_url = "https://news.example/army/7"
    dev = _dev(2, known_before="7 tanks", known_source=f"article {other_url}")
    assert other_url not in render(dev).text and "news.example" in render(dev).text
    dev = _dev(3, known_before="7 tanks", known_source="development abcdef123456")
    assert "abcdef123456" not in render(dev).text + render(dev).html
    assert origin("baseline seeds/army.txt") == "baseline seeds/army.txt"


def test_html_escapes_article_text() -> None:
    dev = _dev(4, summary="<script>alert(1)</script>", evidence="<img src=x onerror=y>")
    body = render(dev).html
    assert "<script>" not in body and "&lt;script&gt;" in body and "<img" not in body


def test_digest_groups_by_topic_newest_first_with_counts() -> None:
    devs = [_dev(1, "army"), _dev(2, "navy"), _dev(3, "army")]
    msg = render_digest(devs)
    assert msg.title == "Digest: 3 new developments in 2 topics"
    text = msg.text
    assert "== army (2 new developments) ==" in text and "== navy (1 new development) ==" in text
    assert text.index("army (2") < text.index("navy (1")  # the topic with the newest development first
    assert text.index(devs[2].id) < text.index(devs[0].id)  # newest first within a topic
    assert all(d.id in text and d.sources[0] in text for d in devs)
    assert all(d.id in msg.html for d in devs)


def test_docs_examples_are_what_the_code_renders() -> None:
    spec = importlib.util.spec_from_file_location("alert_examples", ROOT / "docs" / "alert_examples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    docs = (ROOT / "docs" / "alerts.md").read_text()
    dev, other = module.examples()
    msg = render(dev)
    assert msg.title + "\n\n" + msg.text in docs
    assert msg.html in docs
    assert render_digest([dev, other]).text in docs
    script = str(ROOT / "docs" / "alert_examples.py")
    generated = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60, cwd=ROOT,
                               check=True).stdout
    assert generated.strip() in docs  # the whole generated section, Slack and JSON payloads included


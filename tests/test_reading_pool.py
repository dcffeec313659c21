"""Pages read in worker processes are decided exactly as pages read in the pass's own process."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.pipeline import run_pass
from monitor.workers import MIN_ARTICLES, worker_count

from .conftest import ROOT, LocalServer, Route, article_html, rss, write_config

SENTENCES = [
    "North Korea sent {n},000 troops to Russia's Kursk region, officials in Seoul said.",
    "Russia and North Korea signed {n} new agreements on military cooperation this week.",
    "South Korea summoned the Russian ambassador over the deployment of {n},100 soldiers.",
    "Ukraine said its forces had captured {n} North Korean soldiers near Kursk.",
]


def _decisions(tmp_path: Path, server: LocalServer, workers: str, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", workers)
    monkeypatch.setenv("MONITOR_CACHE", "off")
    topic = {"name": "korea", "description": "North Korean troops in Russia", "keywords": ["North Korea", "troops"],
             "baseline": str(ROOT / "seeds"), "feeds": [server.url("/feed.xml")]}
    report = run_pass(load_config(write_config(tmp_path, [topic])))
    return [(d.url, d.verdict, d.detail) for d in report.topics[0].decisions]


def test_pool_and_in_process_reading_agree(tmp_path: Path, http_server: LocalServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    items = []
    for i in range(MIN_ARTICLES + 2):
        path = f"/p{i}.html"
        paragraphs = [s.format(n=i + 2) for s in SENTENCES]
        page = article_html(f"Korea update {i}", paragraphs)
        http_server.routes[path] = Route(200, page, {"Content-Type": "text/html"})
        items.append({"link": http_server.url(path), "title": f"Korea update {i}",
                      "pubDate": f"Fri, {i + 1:02d} Nov 2024 10:00:00 GMT"})
    http_server.routes["/feed.xml"] = Route(200, rss(items), {"Content-Type": "application/rss+xml"})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    in_process = _decisions(tmp_path / "a", http_server, "0", monkeypatch)
    pooled = _decisions(tmp_path / "b", http_server, "2", monkeypatch)
    assert len(in_process) == MIN_ARTICLES + 2
    assert pooled == in_process
    assert any(v == "development" for _, v, _ in in_process)


def test_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_EXTRACT_WORKERS", raising=False)
    assert worker_count(100) == 0  # off by default: it does not pay on two cores
    monkeypatch.setenv("MONITOR_EXTRACT_WORKERS", "3")
    assert worker_count(100) == 3
    assert worker_count(MIN_ARTICLES - 1) == 0  # a few pages: no start-up cost

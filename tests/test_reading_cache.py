"""The reading cache changes how fast a pass is, never what it decides."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import monitor.pipeline as pipeline
from monitor.cache import ReadingCache, cache_path
from monitor.config import load_config
from monitor.store import Store

from .conftest import ROOT, LocalServer, Route, article_html, rss, write_config

PARAGRAPHS = [
    ["North Korea sent 12,000 troops to Russia's Kursk region, South Korean intelligence said on Friday.",
     "The deployment follows the mutual defence treaty signed by Kim Jong Un and Vladimir Putin in June."],
    ["Seoul said it would consider supplying weapons directly to Ukraine after the North Korean deployment.",
     "President Yoon Suk Yeol told reporters that 3,000 more North Korean soldiers had arrived in Russia."],
    ["Russia ratified the mutual defence treaty with North Korea, the Kremlin said on Saturday.",
     "The treaty commits both countries to provide military assistance if either is attacked."],
]


@pytest.fixture(autouse=True)
def _default_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MONITOR_CACHE", "MONITOR_CACHE_DIR", "MONITOR_EXTRACT_WORKERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def setup(tmp_path: Path, http_server: LocalServer) -> tuple[Path, Path, LocalServer]:
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    items = []
    for i, paragraphs in enumerate(PARAGRAPHS):
        path = f"/a{i}.html"
        http_server.routes[path] = Route(200, article_html(f"Korea report {i}", paragraphs, date=f"2024-11-0{i + 1}"),
                                         {"Content-Type": "text/html"})
        items.append({"link": http_server.url(path), "title": f"Korea report {i}",
                      "pubDate": f"Fri, 0{i + 1} Nov 2024 10:00:00 GMT"})
    http_server.routes["/feed.xml"] = Route(200, rss(items), {"Content-Type": "application/rss+xml",
                                                               "ETag": '"feed-1"'})
    topic = {"name": "korea", "description": "North Korea, Russia and the war in Ukraine",
             "keywords": ["North Korea", "Russia", "troops"], "baseline": str(seeds),
             "feeds": [http_server.url("/feed.xml")]}
    return write_config(tmp_path, [topic]), seeds, http_server


def _built(config_path: Path, cache: ReadingCache | None):  # type: ignore[no-untyped-def]
    config = load_config(config_path)
    store = Store(config.state)
    try:
        return pipeline.build_detector(config.topics[0], store, cache)
    finally:
        store.close()


def test_cached_detector_equals_the_rebuilt_one(setup: tuple[Path, Path, LocalServer]) -> None:
    config_path, _seeds, _server = setup
    report = pipeline.run_pass(load_config(config_path))
    assert len(report.topics[0].decisions) == 3
    cache = ReadingCache.for_state(load_config(config_path).state)
    assert cache.path is not None and cache.path.exists()  # written beside the state database
    fresh = _built(config_path, None)
    first = _built(config_path, cache)  # from cached sentences, or the snapshot the pass left
    cache.flush()
    second = _built(config_path, cache)  # from the snapshot
    cache.close()
    assert first == fresh and second == fresh
    assert len(fresh[0].known) > 0


def test_idle_pass_reads_nothing_and_a_new_seed_is_learned(setup: tuple[Path, Path, LocalServer],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config_path, seeds, server = setup
    pipeline.run_pass(load_config(config_path))
    pipeline.run_pass(load_config(config_path))  # leaves the snapshot of the stored articles
    reads: list[str] = []
    real = pipeline.read_text

    def counting(text: str, title: str = ""):  # type: ignore[no-untyped-def]
        reads.append(title)
        return real(text, title)

    monkeypatch.setattr(pipeline, "read_text", counting)
    report = pipeline.run_pass(load_config(config_path))
    assert report.topics[0].feeds[0].status == "not modified"
    assert reads == []  # nothing re-read: the baseline and the stored articles came from the cache
    assert sum(server.gets(f"/a{i}.html") for i in range(3)) == 3  # every page fetched once in all

    new_fact = "Pyongyang confirmed that 7,777 engineers were sent to the Zaporizhzhia region of Ukraine."
    (seeds / "zz_new.txt").write_text(f"Engineers sent\n\n{new_fact}\n")
    detector, _ = _built(config_path, ReadingCache.for_state(load_config(config_path).state))
    assert any("7,777 engineers" in k.sentence for k in detector.known.origins)


def test_a_broken_cache_file_is_ignored(setup: tuple[Path, Path, LocalServer]) -> None:
    config_path, _seeds, _server = setup
    path = cache_path(load_config(config_path).state)
    assert path is not None
    path.write_bytes(b"this is not a database" * 100)
    report = pipeline.run_pass(load_config(config_path))
    assert [d.verdict for d in report.topics[0].decisions].count("error") == 0
    assert len(report.topics[0].decisions) == 3


def test_cache_can_be_turned_off_and_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert cache_path(url) == tmp_path / "state.db.cache.sqlite"
    monkeypatch.setenv("MONITOR_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_path(url).parent == tmp_path / "elsewhere"  # type: ignore[union-attr]
    assert cache_path("postgresql+psycopg://u@127.0.0.1/db").parent == tmp_path / "elsewhere"  # type: ignore[union-attr]
    monkeypatch.setenv("MONITOR_CACHE", "off")
    assert cache_path(url) is None
    cache = ReadingCache(None)
    cache.put("k", [1])
    assert cache.get("k") is None  # off: nothing kept
    assert not os.path.exists(tmp_path / "state.db.cache.sqlite")


def test_a_dry_run_reads_the_cache_and_writes_nothing(setup: tuple[Path, Path, LocalServer]) -> None:
    config_path, _seeds, _server = setup
    path = cache_path(load_config(config_path).state)
    assert path is not None
    pipeline.run_pass(load_config(config_path), dry_run=True)  # no state yet: nothing is created
    assert not path.exists()
    pipeline.run_pass(load_config(config_path))
    before = path.read_bytes()
    report = pipeline.run_pass(load_config(config_path), dry_run=True)
    assert report.dry_run and path.read_bytes() == before

"""The benchmark's own tools: the corpus server answers as a news site does and counts what
it serves; the measurer reports a child's time and memory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_corpus_server_feed_pages_and_304(tmp_path: Path) -> None:
    for name in ("b.html", "a b.html"):
        (tmp_path / name).write_text(f"<html><body><p>{name}</p></body></html>")
    server_module = _load("corpus_server")
    with server_module.CorpusServer(tmp_path, latency=0.0) as server, httpx.Client(timeout=10) as client:
        feed = client.get(server.feed_url)
        assert feed.status_code == 200 and b"/pages/a%20b.html" in feed.content
        page = client.get(f"{server.base}/pages/a%20b.html")
        assert page.text.count("a b.html") == 1
        again = client.get(server.feed_url, headers={"If-None-Match": feed.headers["ETag"]})
        assert again.status_code == 304
        assert client.get(f"{server.base}/pages/missing.html").status_code == 404
    assert server.hits["/pages/a%20b.html"] == 1 and server.hits["/feed.xml"] == 2
    assert server.not_modified == 1


def test_measure_reports_time_cpu_and_memory() -> None:
    measure = _load("measure").measure
    code = ("import time\nx = bytearray(60 * 2**20)\nt = time.process_time()\n"
            "while time.process_time() - t < 0.2: pass\nprint('ok')")
    run = measure("child", [sys.executable, "-c", code], timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok"
    assert run.cpu >= 0.2 and run.wall >= run.cpu * 0.5
    assert run.rss_mb >= 60  # the bytearray was resident

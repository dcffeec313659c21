"""End to end through the real CLI: a local feed and pages, a json:// alert endpoint, SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, LocalServer, Route, article_html, rss, write_config

SEEDS = {
    "01.txt": "Spy agency: North sends troops to Russia\n\nSouth Korea's spy agency said the North had decided "
              "to send about 12,000 troops to help Russia, and had already dispatched 1,500 soldiers to "
              "Vladivostok for training. The agency said the North Korean troops wore Russian uniforms.\n",
    "02.txt": "Putin and Kim sign defence pact\n\nRussia and North Korea signed a mutual defence treaty in "
              "Pyongyang on June 19, pledging to help each other if either is attacked. Putin said Moscow "
              "could supply weapons to North Korea if Seoul arms Ukraine.\n",
    "03.txt": "Seoul weighs arms for Ukraine\n\nSeoul said it would review its policy of sending only "
              "non-lethal aid to Ukraine after the treaty between Russia and North Korea. South Korea has "
              "sent humanitarian aid and equipment to Kyiv but no weapons.\n",
}

NEW = ("North Korean troops in Kursk now number 11,000, Seoul says",
       ["South Korea's spy agency said on Wednesday that about 11,000 North Korean troops are now deployed "
        "in Russia's Kursk region, where Ukrainian forces hold territory.",
        "The North Korean troops were sent to Russia after the treaty signed in Pyongyang."])
OTHER_OUTLET = ("Seoul: 11,000 North Korean soldiers now in Kursk",
                ["About 11,000 North Korean troops are now in the Kursk region of Russia, South Korea's "
                 "intelligence agency said on Wednesday.",
                 "Kursk is where Ukraine launched a cross-border offensive in August."])
BACKGROUND = ("What we know about North Korean troops in Russia",
              ["South Korean intelligence says the North decided to send some twelve thousand troops to help "
               "Russia.", "One thousand five hundred soldiers already went to Vladivostok for training.",
               "Russia and North Korea signed a mutual defence treaty on June 19."])
OFFTOPIC = ("Seoul marathon draws record field",
            ["A record 12,500 runners took part in the Seoul marathon on Sunday, organisers said.",
             "The winner finished in two hours and six minutes, and the city closed roads for the race.",
             "Kenyan athletes took the first three places in the men's race."])


def serve_topic(server: LocalServer) -> None:
    pages = [("bg", BACKGROUND, "Mon, 04 Nov 2024 09:00:00 GMT"), ("run", OFFTOPIC, "Mon, 04 Nov 2024 10:00:00 GMT"),
             ("kursk", NEW, "Tue, 05 Nov 2024 09:00:00 GMT"),
             ("kursk2", OTHER_OUTLET, "Tue, 05 Nov 2024 15:00:00 GMT")]
    items = []
    for slug, (title, paras), date in pages:
        server.routes[f"/a/{slug}.html"] = Route(200, article_html(title, paras), {"Content-Type": "text/html"})
        items.append({"link": server.url(f"/a/{slug}.html"), "title": title, "pubDate": date})
    server.routes["/feed.xml"] = Route(200, rss(items), {"Content-Type": "application/rss+xml", "ETag": '"v1"'})
    server.routes["/alerts"] = Route(200, b"{}", {"Content-Type": "application/json"})


def make_config(tmp_path: Path, server: LocalServer, feeds: list[str] | None = None) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name, text in SEEDS.items():
        (seeds / name).write_text(text)
    return write_config(tmp_path, [{
        "name": "korea", "description": "North Korean troops sent to Russia, the Russia-North Korea treaty and "
        "South Korea's arms policy toward Ukraine", "keywords": ["North Korean troops", "North Korea Russia treaty"],
        "baseline": str(seeds), "feeds": feeds or [server.url("/feed.xml")],
        "notify": [f"json://127.0.0.1:{server.port}/alerts"]}])


def monitor(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from monitor.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def developments(config: Path) -> list[dict]:
    proc = monitor("developments", "--config", str(config), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_pass_alerts_once_and_rerun_is_quiet(tmp_path: Path, http_server: LocalServer) -> None:
    serve_topic(http_server)
    config = make_config(tmp_path, http_server)
    first = monitor("run", "--plain", "--config", str(config))
    assert first.returncode == 0, first.stderr
    devs = developments(config)
    assert len(devs) == 1, devs
    dev = devs[0]
    assert {"id", "topic", "kind", "summary", "sources", "first_seen"} <= dev.keys()
    assert dev["kind"] == "figure" and "11,000" in dev["new_value"] and "12,000" in dev["known_before"]
    assert dev["sources"][0].endswith("/a/kursk.html")
    assert dev["sources"][1].endswith("/a/kursk2.html"), "the second outlet is another source, not an alert"
    alerts = http_server.posts("/alerts")
    assert len(alerts) == 1
    body = json.loads(alerts[0])
    assert dev["id"] in body["message"] and "/a/kursk.html" in body["message"]

    second = monitor("run", "--plain", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert len(developments(config)) == 1
    assert len(http_server.posts("/alerts")) == 1
    assert http_server.gets("/a/kursk.html") == 1, "a stored article is not fetched again"
    assert "background" in first.stdout and "off-topic" in first.stdout


def test_failing_feeds_are_reported_and_the_pass_goes_on(tmp_path: Path, http_server: LocalServer) -> None:
    serve_topic(http_server)
    http_server.routes["/broken.xml"] = Route(200, b"<html><body>not a feed</body></html>")
    feeds = [http_server.url("/missing.xml"), http_server.url("/broken.xml"), "http://127.0.0.1:9/feed.xml",
             http_server.url("/feed.xml")]
    config = make_config(tmp_path, http_server, feeds)
    proc = monitor("run", "--plain", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "missing.xml: HTTP 404" in proc.stdout and "broken.xml: not a feed" in proc.stdout
    assert "Connection refused" in proc.stdout and "feed warning" not in proc.stdout
    assert len(developments(config)) == 1


def test_dry_run_stores_and_sends_nothing(tmp_path: Path, http_server: LocalServer) -> None:
    serve_topic(http_server)
    config = make_config(tmp_path, http_server)
    proc = monitor("run", "--plain", "--dry-run", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "11,000" in proc.stdout  # what would have been alerted
    assert http_server.posts("/alerts") == []
    assert developments(config) == []


def test_dismissed_development_stays_known(tmp_path: Path, http_server: LocalServer) -> None:
    serve_topic(http_server)
    config = make_config(tmp_path, http_server)
    assert monitor("run", "--plain", "--config", str(config)).returncode == 0
    (dev,) = developments(config)
    proc = monitor("dismiss", dev["id"], "--config", str(config))
    assert proc.returncode == 0 and "dismissed" in proc.stdout
    (again,) = developments(config)
    assert again["dismissed"] is True


def test_baseline_command_lists_known_figures(tmp_path: Path, http_server: LocalServer) -> None:
    config = make_config(tmp_path, http_server)
    proc = monitor("baseline", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "about 12,000 troops" in proc.stdout and "1,500 soldiers" in proc.stdout


@pytest.mark.prefect
def test_run_as_prefect_flow(tmp_path: Path, http_server: LocalServer) -> None:
    """The default `monitor run` goes through the Prefect flow (ephemeral API)."""
    serve_topic(http_server)
    config = make_config(tmp_path, http_server)
    env = {"PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    proc = monitor("run", "--config", str(config), env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(developments(config)) == 1
    assert len(http_server.posts("/alerts")) == 1


def test_demo_replay_alerts_twice_then_stays_quiet() -> None:
    proc = monitor("demo", "--plain", timeout=180)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.split("Pass 2", 1)
    assert "about 12,000 troops (baseline document" in first and "About 11,000 North Korean troops" in first
    assert "ratif" in first and "alerts: 2 sent" in first
    assert "alerts: 0 sent" in second and "New:" not in second

"""Config: the scorer's contract, env interpolation, relative paths, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, redact

from .conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "seeds").mkdir(exist_ok=True)
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    return path


MINIMAL = """
state: sqlite:///state/x.db
topics:
  - name: t
    keywords: [a]
    baseline: seeds
    feeds: [http://127.0.0.1:1/feed.xml]
    notify: ["json://127.0.0.1:2/alerts"]
"""


def test_contract_keys_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.state == f"sqlite:///{(tmp_path / 'state' / 'x.db').resolve()}"
    assert cfg.topics[0].baseline == (tmp_path / "seeds").resolve()
    assert cfg.fetch.allow_private_addresses is False
    assert cfg.topics[0].notify[0].mode == "instant"


def test_env_interpolation_and_empty_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "json://127.0.0.1:9/hook")
    monkeypatch.delenv("UNSET_ROUTE", raising=False)
    text = MINIMAL.replace('notify: ["json://127.0.0.1:2/alerts"]', 'notify: ["${HOOK}", "${UNSET_ROUTE:-}"]')
    cfg = load_config(write(tmp_path, text))
    assert [r.url for r in cfg.topics[0].notify] == ["json://127.0.0.1:9/hook"]


@pytest.mark.parametrize(("change", "message"), [
    (("keywords: [a]", "keywords: [a]\n    colour: red"), "topics.0.colour: unknown key"),
    (("baseline: seeds", "baseline: nowhere"), "topics[0].baseline: folder not found"),
    (('notify: ["json://127.0.0.1:2/alerts"]', 'notify: ["nonsense-url"]'), "not a valid apprise URL"),
    (("http://127.0.0.1:1/feed.xml", "ftp://x/feed"), "feed must be an http(s) URL"),
    (("state: sqlite:///state/x.db", "state: ${NO_SUCH_VARIABLE_HERE}"), "NO_SUCH_VARIABLE_HERE is not set"),
])
def test_bad_config_is_one_clear_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert message in text and str(path) in text and "\n" not in text


def test_cli_prints_config_errors_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("baseline: seeds", "baseline: nowhere"))
    proc = subprocess.run([sys.executable, "-c", "from monitor.cli import main; main()", "run", "--plain",
                           "--config", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("monitor: error:") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_redact_hides_secrets_but_keeps_feed_urls() -> None:
    assert redact("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ") == "slack://T1JJ***"
    assert "secret" not in redact("mailto://user:secret@smtp.example.com?to=a@b.example")
    assert redact("https://news.example/feed.xml?q=korea") == "https://news.example/feed.xml?q=korea"
    assert "abc123" not in redact("https://api.example/x?api_key=abc123&q=1")


def test_default_config_is_valid() -> None:
    cfg = load_config(ROOT / "config" / "monitor.yaml")
    assert cfg.topics[0].baseline == (ROOT / "seeds").resolve()
    assert len(list((ROOT / "seeds").glob("*.txt"))) == 5

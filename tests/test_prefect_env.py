"""Prefect defaults set by `monitor run` and `monitor serve`: quiet, offline, patient with a
first ephemeral server; a value the user set wins."""

from __future__ import annotations

import os

import pytest

from monitor.prefect_env import QUIET, quiet_prefect


def test_defaults_fill_in_and_the_users_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in QUIET:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")
    quiet_prefect()
    assert os.environ["PREFECT_LOGGING_LEVEL"] == "DEBUG"
    assert os.environ["DO_NOT_TRACK"] == "1"
    # Prefect's own 20 s failed the first pass in a new PREFECT_HOME on a busy machine
    assert int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]) >= 60

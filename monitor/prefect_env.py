"""Settings that keep Prefect quiet and offline-friendly; call before importing prefect.

Each is a default: a value set in the environment wins."""

from __future__ import annotations

import os

QUIET = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
    # With no server configured, each `monitor run` starts an ephemeral one; the very first in
    # a new PREFECT_HOME also creates Prefect's database, which took 20 s on a busy 2-core
    # machine: Prefect's 20 s default then failed the pass.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def quiet_prefect() -> None:
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)

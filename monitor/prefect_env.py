"""Settings that keep Prefect quiet and offline-friendly; call before importing prefect."""

from __future__ import annotations

import os

QUIET = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_SERVER_LEVEL": "WARNING",
}


def quiet_prefect() -> None:
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)

"""`monitor serve`: the deployments on one machine with Prefect's `serve`, no other set-up.

Scheduled runs need a Prefect server (its scheduler creates them; the ephemeral API that
Prefect falls back to has none). When no server is configured (PREFECT_API_URL unset), one is
started here on 127.0.0.1 as a child process (UI and API at http://127.0.0.1:PORT) and
stopped with `serve`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from monitor.prefect_env import quiet_prefect

SERVER_START_TIMEOUT = 120.0


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def local_server(port: int) -> Iterator[str]:
    """A Prefect server on 127.0.0.1:port for the duration (reused if one already answers)."""
    api_url = f"http://127.0.0.1:{port}/api"
    if healthy(api_url):
        yield api_url
        return
    from prefect.settings import get_current_settings

    home = Path(get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "monitor-server.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PREFECT_API_URL": ""})  # same group: Ctrl-C stops both
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not healthy(api_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server did not start; see {home / 'monitor-server.log'}")
            time.sleep(0.5)
        print(f"Prefect server (UI and API) at http://127.0.0.1:{port}", flush=True)
        yield api_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def serve_monitor(config_path: Path, cron: str, digest_cron: str, maintenance_cron: str, timezone: str,
                  port: int = 4200) -> None:
    """Serve the monitor, digest and maintenance deployments until interrupted."""
    quiet_prefect()
    from prefect import serve
    from prefect.schedules import Cron
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.maintenance_flow import maintenance
    from flows.monitor_flow import digest, monitor

    params = {"config_path": str(config_path.resolve())}
    deployments = [
        monitor.to_deployment(name="hourly", schedule=Cron(cron, timezone=timezone), parameters=params),
        digest.to_deployment(name="daily-digest", schedule=Cron(digest_cron, timezone=timezone),
                             parameters=params),
        maintenance.to_deployment(name="weekly", schedule=Cron(maintenance_cron, timezone=timezone),
                                  parameters=params),
    ]
    if get_current_settings().api.url:
        serve(*deployments)
        return
    with local_server(port) as api_url, temporary_settings(updates={PREFECT_API_URL: api_url}):
        serve(*deployments)

"""Prefect for real: a `prefect server start` on a free loopback port, the project's
prefect.yaml deployed with `prefect --no-prompt deploy --all` to a process work pool, a
manual dry run with parameters picked up by `prefect worker start --run-once`; and
`monitor serve` starting its own server and running a manually triggered pass."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.tasks import artifact_key

from . import redsea
from .conftest import ROOT, LocalServer, write_config

pytestmark = pytest.mark.prefect

PREFECT = [sys.executable, "-m", "prefect"]
MONITOR = [sys.executable, "-c", "from monitor.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """A background process in its own group; interrupted, then killed, at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            for sig, grace in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
                if proc.poll() is not None:
                    break
                os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    continue
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def run(cmd: list[str], env: dict[str, str], timeout: float = 60) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def prefect_env(home: Path, api: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_RUNNER_POLL_FREQUENCY="2", PREFECT_WORKER_QUERY_SECONDS="2")
    if api:
        env["PREFECT_API_URL"] = api
    return env


def topic_config(server: LocalServer, tmp_path: Path) -> Path:
    redsea.publish(server, ["deadly-strike"])
    return write_config(tmp_path, [redsea.topic(server, redsea.write_seeds(tmp_path / "seeds"))])


def flow_run(api: str, run_id: str) -> dict[str, Any]:
    return httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()


def finished(api: str, run_id: str) -> dict[str, Any] | None:
    fr = flow_run(api, run_id)
    return fr if fr["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None


def heartbeats(api: str) -> set[str]:
    """The flow runs (as event resource ids) that sent a heartbeat."""
    body = {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                       "occurred": {"since": "2000-01-01T00:00:00Z"}}, "limit": 50}
    events = httpx.post(f"{api}/events/filter", json=body, timeout=10).json()["events"]
    return {e["resource"]["prefect.resource.id"] for e in events}


def trigger(env: dict[str, str], *params: str) -> str:
    args = [a for p in params for a in ("-p", p)]
    out = run([*PREFECT, "deployment", "run", "monitor/hourly", *args], env)
    return re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)  # type: ignore[union-attr]


def test_prefect_yaml_is_consistent() -> None:
    """Every deployment names a flow that exists, with parameters it accepts."""
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = {d["name"] for d in spec["deployments"]}
    assert names == {"hourly", "daily-digest", "weekly"}
    for d in spec["deployments"]:
        flow = load_flow_from_entrypoint(str(ROOT / d["entrypoint"]))
        accepted = set(flow.parameters.properties)
        assert set(d["parameters"]) <= accepted, (d["name"], accepted)
        assert d["work_pool"]["name"] == "monitor"
        assert all(s["timezone"] for s in d["schedules"])
    pull = spec["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert pull["directory"] == "{{ project-dir.stdout }}"


def test_artifact_keys_are_valid() -> None:
    from prefect.types.names import raise_on_name_alphanumeric_dashes_only

    for parts in [("monitor",), ("monitor", "Red Sea / Houthis"),
                  ("monitor", "Nordkorea–Russland", "developments"), ("monitor", "北朝鮮")]:
        key = artifact_key(*parts)
        assert raise_on_name_alphanumeric_dashes_only(key) == key and key


def test_deploy_all_then_manual_dry_run_with_a_worker(http_server: LocalServer, tmp_path: Path) -> None:
    config = topic_config(http_server, tmp_path)
    api = f"http://127.0.0.1:{free_port()}/api"
    port = api.rsplit(":", 1)[1].split("/")[0]
    env = prefect_env(tmp_path / "prefect-home", api)
    server_cmd = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", port]
    with process(server_cmd, env, tmp_path / "server.log") as server:
        wait_for(lambda: healthy(api) or server.poll() is not None, 75, "the Prefect server")
        assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
        run([*PREFECT, "work-pool", "create", "monitor", "--type", "process"], env)
        out = run([*PREFECT, "--no-prompt", "deploy", "--all"], env, timeout=90)
        assert "monitor/hourly" in out and "monitor-digest/daily-digest" in out

        dep = httpx.get(f"{api}/deployments/name/monitor/hourly", timeout=10).json()
        assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in dep["schedules"]] == \
            [("0 * * * *", "Asia/Seoul")]
        pull = dep["pull_steps"][0]["prefect.deployments.steps.set_working_directory"]
        assert pull["directory"] == str(ROOT)

        # a pass run by hand first: recorded as a flow run, without heartbeats
        run([*MONITOR, "run", "--dry-run", "--config", str(config)], env, timeout=120)
        runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=10).json()
        (by_hand,) = [r["id"] for r in runs if r["deployment_id"] is None]  # not a scheduled run

        run_id = trigger(env, "dry_run=true", f"config_path={config}", "topic=redsea", "explain=true")
        run([*PREFECT, "worker", "start", "--pool", "monitor", "--run-once"], env, timeout=90)
        fr = wait_for(lambda: finished(api, run_id), 30, "the flow run to finish")
        assert fr["state"]["type"] == "COMPLETED", fr["state"]
        # the deployment run keeps Prefect's heartbeats (zombie detection); events are stored in
        # order, so once its heartbeat is there, one from the earlier hand run would be too
        wait_for(lambda: f"prefect.flow-run.{run_id}" in heartbeats(api), 30, "the deployment run's heartbeat")
        assert finished(api, by_hand)["state"]["type"] == "COMPLETED"  # type: ignore[index]
        assert f"prefect.flow-run.{by_hand}" not in heartbeats(api)
        assert fr["name"].startswith("monitor redsea ") and fr["name"].endswith("(dry run)")

        this_run = {"flow_run_id": {"any_": [run_id]}}
        arts = httpx.post(f"{api}/artifacts/filter", json={"artifacts": this_run}, timeout=10).json()
        by_key = {a["key"]: a for a in arts}
        assert set(by_key) == {"monitor-redsea", "monitor-redsea-developments"}
        markdown = by_key["monitor-redsea"]["data"]
        assert "(dry run)" in markdown and redsea.page_url(http_server, "deadly-strike") in markdown
        assert "new figure 3 sailors" in markdown  # explain=true: per-article reasons
        table = by_key["monitor-redsea-developments"]["data"]
        rows = json.loads(table) if isinstance(table, str) else table
        assert [r["source"] for r in rows] == [redsea.page_url(http_server, "deadly-strike")]
        logs = httpx.post(f"{api}/logs/filter", json={"logs": this_run}, timeout=10).json()
        assert any(entry["message"].startswith("would alert: [redsea]") for entry in logs)

    # each dry run fetched and detected, but stored and sent nothing
    assert http_server.gets("/articles/deadly-strike.html") == 2 and http_server.posts("/alerts") == []
    assert not (tmp_path / "state.db").exists()


def test_monitor_serve_starts_a_server_and_runs_a_manual_trigger(http_server: LocalServer,
                                                                   tmp_path: Path) -> None:
    config = topic_config(http_server, tmp_path)
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = prefect_env(tmp_path / "prefect-home", None)  # no server configured: serve starts one
    serve_cmd = [*MONITOR, "serve", "--config", str(config), "--port", str(port)]
    with process(serve_cmd, env, tmp_path / "serve.log") as serve:
        def deployed() -> bool:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            if not healthy(api):
                return False
            deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
            return {d["name"] for d in deployments} == {"hourly", "daily-digest", "weekly"}

        wait_for(deployed, 90, "monitor serve to start a server and register its three deployments")
        run_id = trigger({**env, "PREFECT_API_URL": api}, "dry_run=true")
        fr = wait_for(lambda: finished(api, run_id), 60, "the served flow run to finish")
        assert fr["state"]["type"] == "COMPLETED", fr["state"]
        assert fr["parameters"]["config_path"] == str(config.resolve())
    assert http_server.gets("/articles/deadly-strike.html") == 1 and http_server.posts("/alerts") == []
    assert not healthy(api)  # the server stopped with serve

"""The deployment flows: thin wrappers over the library (monitor/ never imports prefect).

- `monitor`: one monitoring pass (the tasks and the pass body are in flows/tasks.py).
- `digest`: sends the pending digest deliveries.
- `maintenance` (flows/maintenance_flow.py): prunes old data, VACUUM/ANALYZE.
"""

from __future__ import annotations

import os
from datetime import datetime

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.tasks import alerts_task, run_monitor, stamp
from monitor.config import load_config

DEFAULT_CONFIG = os.environ.get("MONITOR_CONFIG", "config/monitor.yaml")


def monitor_run_name() -> str:
    """Flow run names say the topic and the time, e.g. `monitor redsea 2025-01-02 08:00 UTC`."""
    params = flow_run.parameters or {}
    name = f"monitor {params.get('topic') or 'all topics'} {stamp()}"
    return name + (" (dry run)" if params.get("dry_run") else "")


@flow(name="monitor", flow_run_name=monitor_run_name, log_prints=True)
def monitor(config_path: str = DEFAULT_CONFIG, topic: str | None = None, dry_run: bool = False,
            since: datetime | None = None, explain: bool = False) -> dict:
    """One monitoring pass: fetch feeds, read new articles, detect developments, alert.

    topic: only this topic; dry_run: store and send nothing, log what would be alerted;
    since: leave feed entries published before this time for later; explain: put each
    article's verdict and reasons in the markdown artifact."""
    report = run_monitor(load_config(config_path), topic, dry_run, since=since, explain=explain)
    return report.summary()


@flow(name="monitor-digest", flow_run_name=lambda: f"digest {stamp()}")
def digest(config_path: str = DEFAULT_CONFIG) -> dict:
    """Send the pending digest deliveries: one message per route with every development
    since the last digest."""
    config = load_config(config_path)
    sent = alerts_task(config, "digest")
    lines = [f"# Digest {stamp()}", "", f"Sent {sent.sent}, failed {sent.failed}, dead {sent.dead}."]
    lines += [f"- failed: {e}" for e in sent.errors]
    create_markdown_artifact("\n".join(lines), key="monitor-digest", description="Digest deliveries")
    return {"sent": sent.sent, "failed": sent.failed}



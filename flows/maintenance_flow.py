"""Maintenance: prune what no pass reads again, then VACUUM (SQLite) / ANALYZE (PostgreSQL).
The logic is `Store.prune` and `Store.optimize`; this flow schedules it and reports."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.monitor_flow import DEFAULT_CONFIG
from flows.tasks import stamp
from monitor.config import load_config
from monitor.store import Store


@flow(name="monitor-maintenance", flow_run_name=lambda: f"maintenance {stamp()}")
def maintenance(config_path: str = DEFAULT_CONFIG, keep_days: int = 90) -> dict:
    """Drop off-topic article text, explanations and run records older than `keep_days`
    (on-topic text, developments, links and the outbox are kept: detection and at-most-once
    alerting need them), then reclaim space and refresh statistics."""
    store = Store(load_config(config_path).state)
    try:
        pruned = store.prune(keep_days)
        ran = store.optimize()
        counts = store.counts()
    finally:
        store.close()
    summary = {"texts_pruned": pruned.texts_pruned, "chars_freed": pruned.chars_freed,
               "explanations_cleared": pruned.explanations_cleared, "runs_deleted": pruned.runs_deleted,
               "optimized": ran, "rows": counts}
    get_run_logger().info("maintenance: %s", summary)
    lines = [f"# Maintenance {stamp()}", "", f"Older than {keep_days} days:", "",
             f"- off-topic texts pruned: {pruned.texts_pruned} ({pruned.chars_freed} characters)",
             f"- explanations cleared: {pruned.explanations_cleared}",
             f"- run records deleted: {pruned.runs_deleted}", f"- ran: {ran}", "",
             "| table | rows |", "|---|---|", *(f"| {k} | {v} |" for k, v in counts.items())]
    create_markdown_artifact("\n".join(lines), key="monitor-maintenance",
                             description="Pruning and VACUUM/ANALYZE")
    return summary

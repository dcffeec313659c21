"""The monitoring flow: one pass over the configured topics, as a Prefect flow.

Each topic runs as a task (retried on a crash of the task itself, never on a failing feed:
feed errors are results, reported in the summary). A markdown artifact summarises the pass.
"""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from monitor.config import Config, load_config
from monitor.fetch import Fetcher
from monitor.notify import Printer, SendReport, send_pending
from monitor.pipeline import PassReport, TopicReport, run_topic
from monitor.report import markdown_report
from monitor.store import Store

DEFAULT_CONFIG = os.environ.get("MONITOR_CONFIG", "config/monitor.yaml")


@task(name="monitor-topic", task_run_name="topic {topic_name}", cache_policy=NO_CACHE)
def topic_task(config: Config, topic_name: str, dry_run: bool) -> TopicReport:
    logger = get_run_logger()
    store = None if dry_run else Store(config.state)
    try:
        with Fetcher(config.fetch) as fetcher:
            topic = config.topic(topic_name)[0]
            return run_topic(config, topic, fetcher, store, logger.info)
    finally:
        if store:
            store.close()


@task(name="send-alerts", cache_policy=NO_CACHE)
def alerts_task(config: Config, mode: str = "instant", printer: Printer | None = None) -> SendReport:
    store = Store(config.state)
    try:
        return send_pending(store, config, mode, printer)
    finally:
        store.close()


def run_monitor(config: Config, topic: str | None = None, dry_run: bool = False,
                printer: Printer | None = None) -> PassReport:
    """The flow body, callable with an already loaded config (the CLI does this)."""
    report = PassReport(dry_run=dry_run)
    for t in config.topic(topic):
        report.topics.append(topic_task(config, t.name, dry_run))
    if not dry_run:
        report.alerts = alerts_task(config, "instant", printer)
        store = Store(config.state)
        try:
            store.record_run(report.started, report.summary())
        finally:
            store.close()
    create_markdown_artifact(markdown_report(report), key="monitor-pass",
                             description="Feeds, articles, developments and alerts of this pass")
    rows = [{"topic": d.topic, "kind": d.kind, "summary": d.summary[:200], "source": d.sources[0], "id": d.id}
            for d in report.developments]
    if rows:
        create_table_artifact(rows, key="monitor-developments", description="New developments")
    return report


@flow(name="monitor", flow_run_name="monitor {topic}", log_prints=True)
def monitor(config_path: str = DEFAULT_CONFIG, topic: str | None = None, dry_run: bool = False) -> dict:
    """One monitoring pass: fetch feeds, read new articles, detect developments, alert."""
    report = run_monitor(load_config(config_path), topic, dry_run)
    return report.summary()


@flow(name="monitor-digest", flow_run_name="digest")
def digest(config_path: str = DEFAULT_CONFIG) -> dict:
    """Send the pending digest deliveries: one message per route with every development
    since the last digest."""
    config = load_config(config_path)
    sent = alerts_task(config, "digest")
    return {"sent": sent.sent, "failed": sent.failed}


def pass_with_config(config: Config, topic: str | None, dry_run: bool,
                     printer: Printer | None = None) -> PassReport:
    """Run the pass as a flow with a config object already validated by the CLI; alerts for
    console routes are printed by `printer` in this process."""

    @flow(name="monitor", flow_run_name=f"monitor {topic or 'all topics'}", log_prints=True)
    def monitor_cli() -> PassReport:
        return run_monitor(config, topic, dry_run, printer)

    return monitor_cli()

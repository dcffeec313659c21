"""The Prefect tasks of a monitoring pass and the pass body, shared by the deployment flows
(flows/monitor_flow.py) and `monitor run`.

Kept apart from the deployment flows so that `monitor run` does not pay for decorating them:
Prefect builds a flow's parameter schema when it is defined (0.12 s here).

Each topic runs as a task (retried on a crash of the task itself, never on a failing feed:
feed errors are results, reported in the summary). Every pass publishes a markdown artifact
(feeds, articles, developments with links, deliveries) and a table artifact of the new
developments. Artifact keys may only hold lowercase letters, digits and dashes (`artifact_key`).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from monitor.config import Config
from monitor.fetch import Fetcher
from monitor.notify import Printer, SendReport, render, send_pending
from monitor.pipeline import PassReport, TopicReport, run_topic
from monitor.report import markdown_report
from monitor.store import ReadOnlyStore, Store


def artifact_key(*parts: str) -> str:
    """A valid Prefect artifact key: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")[:100] or "monitor"


def stamp() -> str:
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


@task(name="monitor-topic", task_run_name="topic {topic_name}", cache_policy=NO_CACHE)
def topic_task(config: Config, topic_name: str, dry_run: bool, since: datetime | None = None) -> TopicReport:
    logger = get_run_logger()
    # a dry run reads the state (what is known, handled, cached) and writes nothing
    store = ReadOnlyStore.open(config.state) if dry_run else Store(config.state)
    try:
        with Fetcher(config.fetch) as fetcher:
            topic = config.topic(topic_name)[0]
            return run_topic(config, topic, fetcher, store, logger.info, since)
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


def publish(report: PassReport, explain: bool = False) -> None:
    """The run's history: a markdown artifact and, when there are any, a table of developments."""
    topics = sorted({t.topic for t in report.topics})
    key = artifact_key("monitor", *(topics if len(topics) == 1 else []))
    create_markdown_artifact(markdown_report(report, explain), key=key,
                             description="Feeds, articles, developments and deliveries of this pass")
    rows = [{"topic": d.topic, "kind": d.kind, "summary": d.summary[:200], "source": d.sources[0], "id": d.id}
            for d in report.developments]
    if rows:
        create_table_artifact(rows, key=artifact_key(key, "developments"), description="New developments")


def run_monitor(config: Config, topic: str | None = None, dry_run: bool = False,
                printer: Printer | None = None, since: datetime | None = None,
                explain: bool = False) -> PassReport:
    """The flow body, callable with an already loaded config (the CLI does this). A dry run
    fetches and detects but stores and sends nothing: it logs what it would have sent."""
    report = PassReport(dry_run=dry_run)
    for t in config.topic(topic):
        report.topics.append(topic_task(config, t.name, dry_run, since))
    if dry_run:
        logger = get_run_logger()
        for dev in report.developments:
            message = render(dev)
            logger.info("would alert: %s\n%s", message.title, message.text)
    else:
        report.alerts = alerts_task(config, "instant", printer)
        store = Store(config.state)
        try:
            store.record_run(report.started, report.summary())
        finally:
            store.close()
    publish(report, explain)
    return report


def pass_with_config(config: Config, topic: str | None, dry_run: bool,
                     printer: Printer | None = None) -> PassReport:
    """Run the pass as a flow with a config object already validated by the CLI; alerts for
    console routes are printed by `printer` in this process.

    A pass run by hand sends no flow-run heartbeats unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY
    is set: they serve zombie detection of deployment runs, and Prefect's heartbeat thread
    holds the end of every flow for up to one second (measured: an empty flow 1.2 s -> 0.25 s)."""

    name = f"monitor {topic or 'all topics'} {stamp()}" + (" (dry run)" if dry_run else "")

    @flow(name="monitor", flow_run_name=name, log_prints=True)
    def monitor_cli() -> PassReport:
        return run_monitor(config, topic, dry_run, printer)

    if "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in os.environ:
        return monitor_cli()
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return monitor_cli()

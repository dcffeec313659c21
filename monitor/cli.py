"""The `monitor` command: run passes, list what was found, test alert routes.

Errors print as one line (`monitor: error: ...`); `--debug` shows the traceback.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from monitor.config import Config, ConfigError, load_config, redact

DEFAULT_CONFIG = Path(os.environ.get("MONITOR_CONFIG", "config/monitor.yaml"))
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="News monitoring: new developments on your topics, alerted once.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
STATE = {"debug": False}

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="config file (YAML); default "
                                         "$MONITOR_CONFIG or config/monitor.yaml")]
TopicOpt = Annotated[str | None, typer.Option("--topic", "-t", help="only this topic (name or slug)")]


@app.callback()
def _global(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False) -> None:
    STATE["debug"] = debug


def _config(path: Path) -> Config:
    return load_config(path)


def _print_alert(message) -> None:  # type: ignore[no-untyped-def]
    out.rule(f"[bold]{escape(message.title)}", style="cyan")  # titles start with "[topic]"
    out.print(message.text, markup=False, highlight=False)


@app.command()
def run(
    config: ConfigOpt = DEFAULT_CONFIG,
    topic: TopicOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="fetch and detect, store nothing, send "
                                          "nothing; print what would be alerted")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="print why each article was judged as it "
                                          "was (relevance score, matched keywords, new facts)")] = False,
    plain: Annotated[bool, typer.Option("--plain", envvar="MONITOR_PLAIN", help="run without Prefect "
                                        "(same library code; no flow run, no artifacts)")] = False,
) -> None:
    """One monitoring pass over every topic (or one): fetch, detect, store, alert."""
    cfg = _config(config)
    progress = (lambda msg: err.print(f"[dim]{msg}", highlight=False)) if sys.stderr.isatty() or explain else None
    if plain:
        from monitor.pipeline import run_pass

        report = run_pass(cfg, topic, dry_run, printer=_print_alert, progress=progress)
    else:
        from monitor.prefect_env import quiet_prefect

        quiet_prefect()
        from flows.tasks import pass_with_config

        report = pass_with_config(cfg, topic, dry_run, _print_alert)
        if dry_run:
            from monitor.notify import render

            for dev in report.developments:
                _print_alert(render(dev))
    _summary(report, explain)


def _summary(report, explain: bool) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Monitoring pass" + (" (dry run)" if report.dry_run else ""), title_justify="left",
                  caption="feeds: ok/failed · read: new articles · new: developments · sources: more "
                          "sources of known developments", caption_justify="left", padding=(0, 1))
    table.add_column("topic", overflow="fold", min_width=8)
    for col in ("feeds", "failed", "read", "new", "sources", "background", "off-topic", "errors"):
        table.add_column(col, justify="right", no_wrap=True)
    for t in report.topics:
        ok = sum(f.status in ("ok", "not modified") for f in t.feeds)
        failed = sum(f.status in ("error", "backing off") for f in t.feeds)
        table.add_row(t.topic, str(ok), str(failed), str(len(t.decisions)), str(t.count("development")),
                      str(t.count("source")), str(t.count("background")), str(t.count("offtopic")),
                      str(t.count("error")))
    out.print(table)
    for t in report.topics:
        for f in t.feeds:
            if f.status in ("error", "backing off"):
                out.print(f"[red]feed failed[/red] {redact(f.url)}: {f.error}", highlight=False)
            elif f.error:
                out.print(f"[yellow]feed warning[/yellow] {redact(f.url)}: {f.error}", highlight=False)
        for d in t.decisions:
            if d.verdict == "error":
                out.print(f"[yellow]article skipped[/yellow] {d.url}: {d.detail}", highlight=False)
            elif explain:
                out.print(f"[bold]{d.verdict}[/bold] {d.title[:90]} <{d.url}>\n  "
                          + d.detail.replace("\n", "\n  "), highlight=False)
    if not report.dry_run:
        a = report.alerts
        out.print(f"alerts: {a.sent} sent, {a.failed} failed" + (f", {a.dead} dead" if a.dead else "")
                  + (f", {a.deferred} left for the next pass" if a.deferred else ""), highlight=False)
        for e in a.errors:
            out.print(f"[red]alert failed[/red] {escape(redact(e))}", highlight=False, soft_wrap=True)


@app.command()
def developments(
    config: ConfigOpt = DEFAULT_CONFIG,
    topic: TopicOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array (for scripts)")] = False,
) -> None:
    """List stored developments, oldest first."""
    from monitor.store import Store

    cfg = _config(config)
    names = [t.name for t in cfg.topic(topic)]
    store = Store(cfg.state)
    try:
        devs = [d for d in store.developments() if d.topic in names]
    finally:
        store.close()
    if as_json:
        rows = [{"id": d.id, "topic": d.topic, "kind": d.kind, "summary": d.summary, "sources": d.sources,
                 "first_seen": d.first_seen.isoformat(), "published": d.published.isoformat() if d.published
                 else None, "title": d.title, "evidence": d.evidence, "new_value": d.new_value,
                 "known_before": d.known_before, "known_source": d.known_source,
                 "corroboration": d.corroboration, "confidence": d.confidence, "dismissed": d.dismissed,
                 "reasons": d.reasons} for d in devs]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(devs)} development(s)", title_justify="left")
    for col in ("id", "topic", "kind", "first seen", "summary", "known before", "sources"):
        table.add_column(col, overflow="fold")
    for d in devs:
        table.add_row(d.id + (" (dismissed)" if d.dismissed else ""), d.topic, d.kind,
                      f"{d.first_seen:%Y-%m-%d %H:%M}", d.summary[:160], d.known_before or "-",
                      str(d.corroboration))
    out.print(table)


@app.command()
def dismiss(dev_id: Annotated[str, typer.Argument(help="development id (from `monitor developments`)")],
            config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Mark a development as not new / not relevant: it stays known, pending alerts are dropped."""
    from monitor.store import Store

    store = Store(_config(config).state)
    try:
        dev = store.dismiss(dev_id)
    finally:
        store.close()
    if dev is None:
        raise ConfigError(f"no development with id {dev_id}")
    out.print(f"dismissed {dev_id}: {dev.summary[:100]}")


@app.command()
def deliveries(config: ConfigOpt = DEFAULT_CONFIG,
               status: Annotated[str | None, typer.Option(help="only this status: pending, failed, sending, "
                                                          "sent or dead")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False) -> None:
    """The alert outbox: every delivery with its status, attempts, last error or answer."""
    from monitor.store import DELIVERY_STATUSES, Store

    if status is not None and status not in DELIVERY_STATUSES:
        raise ConfigError(f"--status must be one of {', '.join(DELIVERY_STATUSES)}, not {status!r}")
    store = Store(_config(config).state)
    try:
        rows = store.deliveries(status)
    finally:
        store.close()
    records = [{"id": d.id, "development": d.development_id, "route": redact(d.route), "mode": d.mode,
                "status": d.status, "attempts": d.attempts, "key": d.key,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "claimed_by": d.claim_token, "last_error": redact(d.last_error) if d.last_error else None,
                "response": redact(d.response) if d.response else None} for d in rows]
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
        return
    counts = {s: sum(r["status"] == s for r in records) for s in DELIVERY_STATUSES}
    out.print(f"{len(rows)} deliveries: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
              highlight=False)
    if not sys.stdout.isatty():  # scripts and pipes: one line each, nothing cut
        for r in records:
            note = r["last_error"] or r["response"] or ""
            out.print(f"{r['id']}\t{r['development']}\t{r['route']}\t{r['mode']}\t{r['status']}\t"
                      f"attempts {r['attempts']}\t{r['sent_at'] or '-'}\t{note}",
                      highlight=False, markup=False, soft_wrap=True)
        return
    table = Table(title_justify="left")
    for col in ("id", "development", "route", "mode", "status", "attempts", "sent at", "last error / answer"):
        table.add_column(col, overflow="fold")
    for r, d in zip(records, rows, strict=True):
        style = {"dead": "red", "failed": "yellow", "sending": "cyan"}.get(d.status, "")
        shown = f"[{style}]{d.status}" if style else d.status
        sent_at = f"{d.sent_at:%Y-%m-%d %H:%M}" if d.sent_at else "-"
        note = escape(r["last_error"] or r["response"] or "")  # stored text is not rich markup
        table.add_row(str(d.id), d.development_id, escape(r["route"]), d.mode, shown, str(d.attempts),
                      sent_at, note)
    out.print(table)


def _send_report(rep) -> None:  # type: ignore[no-untyped-def]
    out.print(f"sent {rep.sent}, failed {rep.failed}, dead {rep.dead}, deferred {rep.deferred}",
              highlight=False)
    for e in rep.errors:
        out.print(f"[red]alert failed[/red] {escape(redact(e))}", highlight=False, soft_wrap=True)


@app.command()
def retry(config: ConfigOpt = DEFAULT_CONFIG,
          mode: Annotated[str, typer.Option(help="instant or digest")] = "instant",
          dead: Annotated[bool, typer.Option("--dead", help="also put dead deliveries back in the queue "
                                             "first (after fixing a route)")] = False) -> None:
    """Send pending and failed deliveries now (dead ones only with --dead)."""
    from monitor.notify import send_pending
    from monitor.store import Store

    if mode not in ("instant", "digest"):
        raise ConfigError(f"--mode must be instant or digest, not {mode!r}")
    cfg = _config(config)
    store = Store(cfg.state)
    try:
        if dead:
            out.print(f"{store.revive_dead()} dead deliveries back in the queue")
        rep = send_pending(store, cfg, mode, _print_alert)
    finally:
        store.close()
    _send_report(rep)


@app.command()
def digest(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Send the digest: one message per digest route with every development since the last one."""
    retry(config, "digest", False)


@app.command("notify-test")
def notify_test(config: ConfigOpt = DEFAULT_CONFIG, topic: TopicOpt = None) -> None:
    """Send a test alert to every configured route and say, per route, whether it worked."""
    from monitor.notify import Message, deliver_message

    cfg = _config(config)
    failures = 0
    for t in cfg.topic(topic):
        if not t.notify:
            out.print(f"{t.name}: no routes configured")
        for route in t.notify:
            msg = Message(title=f"[{t.name}] Test alert from news-monitor",
                          text=f"This is a test of the route {redact(route.url)} ({route.mode}).",
                          html=f"<p>This is a test of the route {redact(route.url)} ({route.mode}).</p>")
            outcome = deliver_message(route.url, msg, _print_alert)
            failures += not outcome.ok
            mark = "[green]ok[/green]" if outcome.ok else "[red]failed[/red]"
            out.print(f"{escape(t.name)}: {escape(redact(route.url))} ({route.mode}) {mark}: "
                      f"{escape(redact(outcome.detail))}", highlight=False, soft_wrap=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def baseline(config: ConfigOpt = DEFAULT_CONFIG, topic: TopicOpt = None,
             sentences: Annotated[bool, typer.Option("--sentences", help="also list every known "
                                                     "sentence")] = False) -> None:
    """Show what the baseline was read as: documents, known figures and statements."""
    from monitor.baseline import load_baseline

    cfg = _config(config)
    for t in cfg.topic(topic):
        docs = load_baseline(t.baseline)
        out.rule(f"{t.name}: {len(docs)} document(s) in {t.baseline}")
        for doc in docs:
            out.print(f"[bold]{doc.name}[/bold]: {doc.title[:100]} ({len(doc.sentences)} sentences)",
                      highlight=False)
            for s in doc.sentences:
                if s.figures:
                    figs = "; ".join(f.text for f in s.figures)
                    out.print(f"  [cyan]figures[/cyan] {figs}  [dim]<- {s.text[:110]}", highlight=False)
                events = [e.action for e in s.events]
                if events and not s.figures:
                    hedge = " (hedged: not counted as done)" if all(e.hedged or e.future for e in s.events) else ""
                    out.print(f"  [magenta]{'/'.join(events[:3])}{hedge}[/magenta] [dim]{s.text[:130]}",
                              highlight=False)
                if sentences and not s.figures and not events:
                    out.print(f"  [dim]{s.text[:150]}", highlight=False)


@app.command()
def feeds(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Feed health: status, last success, last error, next try."""
    from monitor.store import Store

    store = Store(_config(config).state)
    try:
        rows = store.feeds()
    finally:
        store.close()
    table = Table(title="feeds", title_justify="left")
    for col in ("topic", "feed", "status", "failures", "last success", "next try", "last error"):
        table.add_column(col, overflow="fold")
    for f in rows:
        table.add_row(f.topic, redact(f.url), f.last_status, str(f.failures),
                      f"{f.last_success_at:%Y-%m-%d %H:%M}" if f.last_success_at else "-",
                      f"{f.next_try_at:%Y-%m-%d %H:%M}" if f.next_try_at else "-", f.last_error or "")
    out.print(table)


@app.command()
def demo(plain: Annotated[bool, typer.Option("--plain", help="without Prefect")] = False) -> None:
    """The whole pipeline offline on a bundled replay: a local server, a feed, a few articles."""
    from monitor.demo import run_demo

    run_demo(lambda cfg: run(cfg, None, False, False, plain), out)


@app.command()
def serve(config: ConfigOpt = DEFAULT_CONFIG,
          cron: Annotated[str, typer.Option(help="schedule of the monitoring pass")] = "0 * * * *",
          digest_cron: Annotated[str, typer.Option(help="schedule of the digest")] = "0 8 * * *",
          maintenance_cron: Annotated[str, typer.Option(help="schedule of pruning + VACUUM/ANALYZE")]
          = "30 3 * * 0",
          timezone: Annotated[str | None, typer.Option(help="timezone of the schedules; default: the "
                                                       "config's `timezone` (UTC)")] = None,
          port: Annotated[int, typer.Option(help="port of the local Prefect server started when "
                                            "PREFECT_API_URL is not set")] = 4200) -> None:
    """Serve the monitoring, digest and maintenance flows on a schedule on this machine
    (Ctrl-C stops). Starts a local Prefect server unless PREFECT_API_URL points at one."""
    from flows.serve import serve_monitor

    cfg = _config(config)
    serve_monitor(config, cron, digest_cron, maintenance_cron, timezone or cfg.timezone, port)


db_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                     help="The state database: schema migrations and maintenance.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Create or upgrade the state database schema to the newest revision (Alembic). The store
    also does this on first use; run it explicitly when upgrading many workers at once."""
    from monitor.store import Store

    store = Store(_config(config).state)
    store.close()
    before, after = store.revisions
    if before == after:
        out.print(f"schema already at {after}", highlight=False)
    else:
        out.print(f"schema upgraded from {before or 'none'} to {after}", highlight=False)


@db_app.command("prune")
def db_prune(config: ConfigOpt = DEFAULT_CONFIG,
             days: Annotated[int, typer.Option(min=1, help="keep everything younger (days)")] = 90) -> None:
    """Drop old off-topic article text, explanations and run records (what detection never reads
    again), then VACUUM/ANALYZE. On-topic text, developments and the outbox are kept."""
    from monitor.store import Store

    store = Store(_config(config).state)
    try:
        rep = store.prune(days)
        ran = store.optimize()
    finally:
        store.close()
    out.print(f"pruned {rep.texts_pruned} off-topic text(s) ({rep.chars_freed} characters), "
              f"{rep.explanations_cleared} explanation(s), {rep.runs_deleted} run record(s); ran {ran}",
              highlight=False)


def main() -> None:
    """Entry point: one clear line per error unless --debug."""
    from monitor.baseline import BaselineError
    from monitor.store import StoreError

    try:
        code = app(standalone_mode=False)  # click returns the code of typer.Exit here
        if isinstance(code, int) and code:
            sys.exit(code)
    except (ConfigError, BaselineError, StoreError) as exc:
        if STATE["debug"]:
            raise
        err.print(f"monitor: error: {exc}", highlight=False, markup=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("monitor: interrupted")
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, not a traceback
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if STATE["debug"]:
            raise
        err.print(f"monitor: error: {type(exc).__name__}: {redact(str(exc))} (run with --debug for the "
                  "traceback)", highlight=False, markup=False)
        sys.exit(1)
    finally:
        # At exit the interpreter's garbage collector walks every object that Prefect, pydantic
        # and SQLAlchemy made: 0.3-0.6 s of a short run, for memory that is freed anyway.
        # Frozen objects are skipped; atexit handlers and stream flushing still run.
        gc.freeze()


if __name__ == "__main__":  # `python -m monitor.cli` (the tests start it like this)
    main()

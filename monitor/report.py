"""The pass summary as markdown (Prefect artifact) — plain text, no Prefect here."""

from __future__ import annotations

from monitor.config import redact
from monitor.pipeline import ArticleDecision, PassReport


def _cell(text: str, limit: int = 120) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(text.split())[:limit].replace("|", "\\|")


def _link(title: str, url: str) -> str:
    label = _cell(title or url, 90).replace("[", "(").replace("]", ")")
    return f"[{label}]({url.replace(' ', '%20').replace(')', '%29')})"


def _articles(decisions: list[ArticleDecision], explain: bool) -> list[str]:
    lines = []
    for d in decisions:
        lines.append(f"- **{d.verdict}** {_link(d.title, d.url)}")
        if (explain or d.verdict == "error") and d.detail:
            lines += [f"  - {_cell(line, 300)}" for line in d.detail.splitlines() if line.strip()]
    return lines


def markdown_report(report: PassReport, explain: bool = False) -> str:
    """Feeds, articles (with the reasons when `explain`), developments with links, deliveries."""
    lines = [f"# Monitoring pass{' (dry run)' if report.dry_run else ''}",
             "", f"Started {report.started:%Y-%m-%d %H:%M:%S} UTC.", ""]
    for t in report.topics:
        lines += [f"## {t.topic}", "", "| feed | status | entries | new | error |", "|---|---|---|---|---|"]
        lines += [f"| {_cell(redact(f.url))} | {f.status} | {f.entries} | {f.new_links} | {_cell(f.error)} |"
                  for f in t.feeds]
        lines += ["", f"Articles read: {len(t.decisions)} — developments {t.count('development')}, "
                      f"more sources {t.count('source')}, background {t.count('background')}, "
                      f"off topic {t.count('offtopic')}, errors {t.count('error')}", ""]
        lines += _articles(t.decisions, explain)
        lines += ["", f"### New developments ({len(t.developments)})", ""]
        for d in t.developments:
            source = _link("source", d.sources[0])
            lines.append(f"- **{d.kind}** `{d.id}`: {_cell(d.summary, 300)} ({source})")
        lines.append("")
    lines.append("## Deliveries")
    lines.append("")
    if report.dry_run:
        lines.append(f"Dry run: nothing stored, nothing sent; {len(report.developments)} "
                     "development(s) would be alerted.")
    else:
        a = report.alerts
        lines.append(f"Alerts sent {a.sent}, failed {a.failed}, dead {a.dead}.")
        lines += [f"- failed: {_cell(e, 300)}" for e in a.errors]
    return "\n".join(lines) + "\n"

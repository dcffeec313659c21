"""The pass summary as markdown (Prefect artifact) — plain text, no Prefect here."""

from __future__ import annotations

from monitor.config import redact
from monitor.pipeline import PassReport


def markdown_report(report: PassReport) -> str:
    lines = [f"# Monitoring pass{' (dry run)' if report.dry_run else ''}", ""]
    for t in report.topics:
        lines += [f"## {t.topic}", "", "| feed | status | entries | new | error |", "|---|---|---|---|---|"]
        lines += [f"| {redact(f.url)} | {f.status} | {f.entries} | {f.new_links} | {f.error[:120]} |"
                  for f in t.feeds]
        lines += ["", f"Articles read: {len(t.decisions)} — developments {t.count('development')}, "
                      f"more sources {t.count('source')}, background {t.count('background')}, "
                      f"off topic {t.count('offtopic')}, errors {t.count('error')}", ""]
        for d in t.developments:
            lines.append(f"- **{d.kind}**: {d.summary} ([source]({d.sources[0]}))")
        lines.append("")
    lines.append(f"Alerts sent {report.alerts.sent}, failed {report.alerts.failed}.")
    return "\n".join(lines)

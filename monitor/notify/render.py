"""Alert text: one development as a message a person reads in Slack, email or a terminal.

Article text is untrusted: for Slack, `<`, `>` and `&` are escaped so that a headline
cannot ping `<!channel>`, mention a user or hide a link; for HTML email it is escaped too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from monitor.store import DevelopmentRecord

KIND_LABEL = {"figure": "New figure", "policy": "Policy decision", "status": "Status change",
              "event": "New event"}


@dataclass
class Message:
    title: str
    text: str  # plain text (also markdown-safe)
    html: str


def slack_escape(text: str) -> str:
    """Slack control sequences: &, <, > must be escaped in user text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def render(dev: DevelopmentRecord, escape: str = "") -> Message:
    """`escape`: '' for plain text, 'slack' for Slack mrkdwn safety."""
    esc = slack_escape if escape == "slack" else (lambda s: s)
    label = KIND_LABEL.get(dev.kind, "New development")
    title = f"[{dev.topic}] {label}: {_short(dev.summary, 120)}"
    lines = [f"New: {esc(dev.new_value or _short(dev.summary, 200))}"]
    if dev.known_before:
        src = f" ({esc(dev.known_source)})" if dev.known_source else ""
        lines.append(f"Known before: {esc(dev.known_before)}{src}")
    else:
        lines.append("Known before: nothing on this")
    lines.append(f'Evidence: "{esc(_short(dev.evidence, 400))}"')
    lines.append(f"Headline: {esc(dev.title)}")
    lines.append(f"Sources ({len(dev.sources)}):")
    lines += [f"- {esc(u)}" for u in dev.sources]
    lines.append(f"Confidence {dev.confidence:.0%} · id {dev.id}")
    text = "\n".join(lines)
    h = html.escape
    body = (f"<h3>{h(label)}: {h(dev.summary)}</h3>"
            f"<p><b>New:</b> {h(dev.new_value or dev.summary)}</p>"
            f"<p><b>Known before:</b> {h(dev.known_before or 'nothing on this')}"
            f"{' (' + h(dev.known_source) + ')' if dev.known_source else ''}</p>"
            f"<blockquote>{h(dev.evidence)}</blockquote>"
            f"<p><b>Sources ({len(dev.sources)}):</b></p><ul>"
            + "".join(f'<li><a href="{h(u, quote=True)}">{h(u)}</a></li>' for u in dev.sources)
            + f"</ul><p><small>{h(dev.title)} · confidence {dev.confidence:.0%} · id {h(dev.id)}</small></p>")
    return Message(title=esc(title) if escape == "slack" else title, text=text, html=body)


def render_digest(devs: list[DevelopmentRecord], escape: str = "") -> Message:
    """One message for many developments: grouped by topic, newest first."""
    by_topic: dict[str, list[DevelopmentRecord]] = {}
    for d in sorted(devs, key=lambda d: d.first_seen, reverse=True):
        by_topic.setdefault(d.topic, []).append(d)
    title = f"Digest: {len(devs)} new development{'s' * (len(devs) != 1)} in {len(by_topic)} topic" \
            f"{'s' * (len(by_topic) != 1)}"
    parts, html_parts = [], []
    for topic, items in by_topic.items():
        parts.append(f"## {topic} ({len(items)})")
        html_parts.append(f"<h3>{html.escape(topic)} ({len(items)})</h3><ul>")
        for d in items:
            msg = render(d, escape)
            parts.append(msg.text)
            html_parts.append(f"<li>{msg.html}</li>")
        html_parts.append("</ul>")
    return Message(title=title, text="\n\n".join(parts), html="".join(html_parts))

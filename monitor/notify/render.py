"""Alert text: one development (or a digest of many) as a message a person reads in Slack,
email, a JSON webhook or a terminal.

Every message names its development id and its source URLs, and no other development's
(a "known before" that came from an earlier development or article is shown by its site,
not its URL or id), so a message maps to exactly one development.

Article text is untrusted. Plain text goes to apprise as TEXT: its Slack plugin then escapes
`&`, `<` and `>`, so a headline cannot ping `<!channel>`, mention `<@U123>` or hide a link
(tests/test_notify_slack.py checks the payload). The HTML part escapes it here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from monitor.store import DevelopmentRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KIND_LABEL = {"figure": "New figure", "policy": "Policy decision", "status": "Status change",
              "event": "New event"}


@dataclass
class Message:
    title: str  # one line: the Slack title, the email subject, the JSON "title"
    text: str  # plain text
    html: str  # the HTML email body (apprise derives the text/plain part from it)


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def origin(known_source: str) -> str:
    """Where the earlier fact came from, without naming another development."""
    kind, _, rest = known_source.partition(" ")
    if kind == "baseline":
        return f"baseline {rest}"
    if kind == "article":
        return f"an earlier article on {urlsplit(rest).hostname or 'the web'}"
    if kind == "development":
        return "an earlier alert"
    return known_source


def title_of(dev: DevelopmentRecord) -> str:
    label = KIND_LABEL.get(dev.kind, "New development")
    return f"[{dev.topic}] {label}: {_short(dev.summary, 120)}"


def _known(dev: DevelopmentRecord) -> str:
    if not dev.known_before:
        return "nothing on this"
    return dev.known_before + (f" ({origin(dev.known_source)})" if dev.known_source else "")


def _footer(dev: DevelopmentRecord) -> str:
    n = len(dev.sources)
    return (f"{n} source{'s' * (n != 1)} · confidence {dev.confidence:.0%} · "
            f"topic {dev.topic} · id {dev.id}")


def text_of(dev: DevelopmentRecord) -> str:
    """The plain-text body: new / known before, evidence quote, headline, sources, id."""
    lines = [f"New: {_short(dev.new_value or dev.summary, 200)}",
             f"Known before: {_known(dev)}",
             f'Evidence: "{_short(dev.evidence or dev.summary, 400)}"']
    if dev.title:
        lines.append(f"Headline: {_short(dev.title, 200)}")
    lines.append(f"Sources ({len(dev.sources)}):")
    lines += [f"- {u}" for u in dev.sources]
    lines.append(_footer(dev))
    return "\n".join(lines)


def _link(url: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>'


def html_of(dev: DevelopmentRecord) -> str:
    h = html.escape
    label = KIND_LABEL.get(dev.kind, "New development")
    return (f"<h3>{h(label)}: {h(dev.summary)}</h3>"
            f"<p><b>New:</b> {h(dev.new_value or dev.summary)}<br>"
            f"<b>Known before:</b> {h(_known(dev))}</p>"
            f"<blockquote>{h(dev.evidence or dev.summary)}</blockquote>"
            + (f"<p><b>Headline:</b> {h(dev.title)}</p>" if dev.title else "")
            + f"<p><b>Sources ({len(dev.sources)}):</b></p><ul>"
            + "".join(f"<li>{_link(u)}</li>" for u in dev.sources)
            + f"</ul><p><small>{h(_footer(dev))}</small></p>")


def render(dev: DevelopmentRecord) -> Message:
    """One development as one message."""
    return Message(title=title_of(dev), text=text_of(dev), html=html_of(dev))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _digest_item(dev: DevelopmentRecord) -> str:
    """A digest entry: the development, new / known before, sources, id (no evidence: the
    summary is the evidence sentence, shortened)."""
    label = KIND_LABEL.get(dev.kind, "New development")
    lines = [f"\n* {label}: {_short(dev.summary, 200)}",
             f"  New: {_short(dev.new_value or dev.summary, 120)} · known before: {_known(dev)}"]
    lines += [f"  - {u}" for u in dev.sources]
    seen = f" · first seen {dev.first_seen:%Y-%m-%d %H:%M} UTC" if dev.first_seen else ""
    lines.append(f"  {_footer(dev)}{seen}")
    return "\n".join(lines)


def render_digest(devs: list[DevelopmentRecord]) -> Message:
    """Many developments as one message: grouped by topic (most recent activity first),
    newest first within a topic, counts in the headings."""
    by_topic: dict[str, list[DevelopmentRecord]] = {}
    for d in sorted(devs, key=lambda d: (d.first_seen or _EPOCH, d.id), reverse=True):
        by_topic.setdefault(d.topic, []).append(d)
    title = f"Digest: {_plural(len(devs), 'new development')} in {_plural(len(by_topic), 'topic')}"
    parts, html_parts = [title], [f"<h2>{html.escape(title)}</h2>"]
    for topic, items in by_topic.items():
        heading = f"{topic} ({_plural(len(items), 'new development')})"
        parts.append(f"\n== {heading} ==")
        html_parts.append(f"<h3>{html.escape(heading)}</h3><ol>")
        for d in items:
            parts.append(_digest_item(d))
            html_parts.append(f"<li>{html_of(d)}</li>")
        html_parts.append("</ol>")
    return Message(title=title, text="\n".join(parts), html="".join(html_parts))

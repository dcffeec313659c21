"""Print the example messages of docs/alerts.md, rendered by the code itself.

    .venv/bin/python docs/alert_examples.py

Slack and JSON bodies are what apprise posts, captured by a throwaway server on 127.0.0.1
(the Slack plugin's fixed hooks.slack.com base is pointed at it for the capture); the email
text part is what apprise derives from the HTML part. Volatile fields (`ts`) are fixed.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import apprise
from apprise.conversion.format import convert_between
from apprise.plugins.slack import NotifySlack

from monitor.notify import deliver_message, render, render_digest
from monitor.store import DevelopmentRecord


def examples() -> list[DevelopmentRecord]:
    """Two developments in two topics, shaped like real ones."""
    return [
        DevelopmentRecord(
            id="245301eb070b", topic="red-sea", kind="figure",
            summary="A Houthi spokesman said five people had been killed and six wounded.",
            title="US and UK warplanes strike Houthi targets across Yemen",
            evidence="A Houthi spokesman said five people had been killed and six wounded.",
            new_value="five people killed", known_before="", known_source="",
            sources=["https://tideline.example/news/2024/01/12/us-uk-strike-houthi-targets",
                     "https://northgate.example/world/washington-and-london-hit-yemen-004"],
            confidence=0.97, first_seen=datetime(2024, 1, 12, 6, 0, tzinfo=UTC)),
        DevelopmentRecord(
            id="e68eca5c3279", topic="suez", kind="figure",
            summary="Egypt's Suez Canal earned $428 million in January, 46.7% less than a year earlier.",
            title="Suez Canal revenue almost halves in January",
            evidence="Egypt's Suez Canal earned $428 million in January, 46.7% less than a year earlier.",
            new_value="$428 million", known_before="$804 million",
            known_source="baseline suez-2023.txt",
            sources=["https://lgwire.example/story/20240204-suez-canal-revenue-almost-halves"],
            confidence=0.9, first_seen=datetime(2024, 2, 4, 9, 30, tzinfo=UTC)),
    ]


def _capture(url_for: Any, send: Any) -> bytes:
    """Run `send(url)` against a local server; return the body it received."""
    bodies: list[bytes] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        send(url_for(httpd.server_address[1]))
    finally:
        httpd.shutdown()
        httpd.server_close()
    return bodies[0]


def slack_payload(dev: DevelopmentRecord) -> dict[str, Any]:
    original = NotifySlack.webhook_url
    try:
        def url(port: int) -> str:
            NotifySlack.webhook_url = f"http://127.0.0.1:{port}/services"
            return "slack://T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX?image=no&footer=no"

        body = _capture(url, lambda u: deliver_message(u, render(dev)))
    finally:
        NotifySlack.webhook_url = original
    payload = json.loads(body)
    for attachment in payload.get("attachments", []):
        if "ts" in attachment:
            attachment["ts"] = 1704960000.0
    return payload


def json_payload(dev: DevelopmentRecord) -> dict[str, Any]:
    body = _capture(lambda port: f"json://127.0.0.1:{port}/alerts", lambda u: deliver_message(u, render(dev)))
    return json.loads(body)


def main() -> None:
    dev, other = examples()
    msg = render(dev)
    print("## Slack (payload posted to the webhook)\n\n```json")
    print(json.dumps(slack_payload(dev), indent=2, ensure_ascii=False))
    print("```\n\n## JSON (`json://`)\n\n```json")
    print(json.dumps(json_payload(dev), indent=2, ensure_ascii=False))
    print("```\n\n## Plain text (console, and the body of every text route)\n\n```text")
    print(msg.title + "\n\n" + msg.text)
    print("```\n\n## Email\n\nSubject: `" + msg.title + "`\n\ntext/html part:\n\n```html")
    print(msg.html)
    print("```\n\ntext/plain part (apprise derives it from the HTML):\n\n```text")
    print(convert_between(apprise.NotifyFormat.HTML, apprise.NotifyFormat.TEXT, msg.html).strip())
    digest = render_digest([dev, other])
    print("```\n\n## Digest\n\n```text")
    print(digest.text)
    print("```")


if __name__ == "__main__":
    main()

"""How wide is the outbox's at-least-once window? Sends N alerts to a local json:// endpoint
and measures, per alert, the time from the endpoint holding the body to the `sent` mark
being committed (a crash inside it resends the alert), against the whole time per alert.

    .venv/bin/python bench/outbox_window.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from notify_support import AlertEndpoint, make_config, seed  # noqa: E402

from monitor.config import load_config  # noqa: E402
from monitor.notify import send_pending  # noqa: E402
from monitor.store import Store  # noqa: E402


class TimedEndpoint(AlertEndpoint):
    arrivals: list[float]

    def __call__(self, handler: Any) -> None:
        self.arrivals.append(time.perf_counter())
        super().__call__(handler)


def main(n: int = 100) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="outbox-bench-"))
    endpoint = TimedEndpoint()
    endpoint.arrivals = []
    with endpoint.serving():
        config_path = make_config(tmp, [endpoint.url()], feed="http://127.0.0.1:9/feed.xml")
        seed(config_path, n)
        config = load_config(config_path)
        store = Store(config.state)
        marked: list[float] = []
        mark_sent = store.mark_sent

        def timed_mark(ids: list[int], response: str | None = None) -> None:
            mark_sent(ids, response)
            marked.append(time.perf_counter())

        store.mark_sent = timed_mark  # type: ignore[method-assign]
        start = time.perf_counter()
        report = send_pending(store, config)
        per_alert = (time.perf_counter() - start) / n
        store.close()
    window = [b - a for a, b in zip(endpoint.arrivals, marked, strict=True)]
    print(f"{report.sent} alerts; window median {statistics.median(window) * 1000:.2f} ms, "
          f"max {max(window) * 1000:.2f} ms; per alert {per_alert * 1000:.2f} ms; "
          f"window / send time {statistics.median(window) / per_alert:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)

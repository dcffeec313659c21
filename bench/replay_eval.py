"""Replay an evaluation folder through the detection library (no HTTP, no store) and print,
per article, the label next to what detection decided and why. A development tool: the
black-box score comes from ../shared/eval/score.py.

    .venv/bin/python bench/replay_eval.py ../shared/eval/redsea [--only 010,023]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import yaml

from monitor.config import Topic
from monitor.extract import extract_article
from monitor.pipeline import TopicPass, TopicReport, build_detector


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("eval_dir", type=Path)
    ap.add_argument("--only", default="")
    ap.add_argument("--all", action="store_true", help="explain every article")
    args = ap.parse_args()
    meta = yaml.safe_load((args.eval_dir / "topic.yaml").read_text())
    topic = Topic(name="t", description=" ".join(meta["description"].split()), keywords=meta["keywords"],
                  baseline=args.eval_dir / "seeds")
    detector, sigs = build_detector(topic, None)
    tp = TopicPass(topic, None, detector, sigs, TopicReport("t"), [])
    labels = [json.loads(line) for line in (args.eval_dir / "labels.jsonl").read_text().splitlines()]
    only = set(filter(None, args.only.split(",")))
    hits = {"tp": 0, "fp": 0, "fn": 0, "dup": 0}
    keys_seen: set[str] = set()
    for lab in labels:
        html = (args.eval_dir / lab["file"]).read_bytes()
        art = extract_article(html, f"http://127.0.0.1/{lab['file']}")
        art.published = datetime.fromisoformat(lab["published"]).replace(hour=12, tzinfo=UTC)
        d = tp.decide(art.url, art)
        new = d.verdict == "development"
        key = lab["development"]
        if new and lab["label"] == "new":
            hits["dup" if key in keys_seen else "tp"] += 1
            keys_seen.add(key)
        elif new:
            hits["fp"] += 1
        mark = "OK " if (new == (lab["label"] == "new" and key not in keys_seen - {key})) else "   "
        if not new and lab["label"] == "new" and key not in keys_seen:
            mark = "MISS"
        if not only or lab["id"] in only:
            print(f"{mark:4} {lab['id']} {lab['label']:8} -> {d.verdict:11} {lab['title'][:70]}")
            if only or mark.strip() != "OK" or args.all:
                print("      " + d.detail.replace("\n", "\n      ")[:1500])
    allkeys = {lab["development"] for lab in labels if lab["development"]}
    print(hits, "recall", round(len(keys_seen) / len(allkeys), 2))


if __name__ == "__main__":
    main()

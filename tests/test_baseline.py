"""The seed folder read as known sentences: the same documents whether read here or by
reader processes (large baselines), and a clear error for a seed that cannot be read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from monitor.baseline import BaselineError, load_baseline

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_reader_processes_read_the_same_documents_in_the_same_order() -> None:
    here = load_baseline(SEEDS, workers=1)
    pooled = load_baseline(SEEDS, workers=2)
    assert [d.name for d in pooled] == sorted(p.name for p in SEEDS.iterdir() if p.suffix == ".txt")
    assert pooled == here
    assert sum(len(d.sentences) for d in here) > 50


def test_an_unreadable_seed_is_one_clear_error_from_a_reader_process(tmp_path: Path) -> None:
    for seed in SEEDS.iterdir():
        shutil.copy(seed, tmp_path)
    (tmp_path / "broken.html").write_bytes(b"<html><body>" + b"<div>" * 20_000 + b"</body></html>")
    with pytest.raises(BaselineError, match=r"broken\.html"):
        load_baseline(tmp_path, workers=2)


def test_only_a_large_seed_folder_is_read_by_several_processes(tmp_path: Path) -> None:
    from monitor.baseline import PARALLEL_BYTES, reader_processes, seed_paths

    (tmp_path / "a.txt").write_text("Small seed. " * 10)
    (tmp_path / "b.txt").write_text("Small seed. " * 10)
    assert reader_processes(seed_paths(tmp_path)) == 1
    (tmp_path / "c.html").write_text("x" * PARALLEL_BYTES)  # mostly markup: not that much text
    assert reader_processes(seed_paths(tmp_path)) == 1
    (tmp_path / "d.txt").write_text("x" * PARALLEL_BYTES)
    assert reader_processes(seed_paths(tmp_path)) == min(os.cpu_count() or 1, 4)

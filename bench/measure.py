"""Run a command as a child process and measure it: wall time, CPU time (user + system of the
child and the children it waited for), the largest single process's peak RSS (from wait4)
and the peak RSS of the whole process tree (sampled from /proc, Linux only)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    rss_mb: float  # the largest single process (ru_maxrss)
    tree_mb: float  # the process tree, sampled every 50 ms (0 where /proc is missing)
    returncode: int
    stdout: str
    stderr: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def peak_mb(self) -> float:
        return max(self.rss_mb, self.tree_mb)


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants, in KiB."""
    parents: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        pid = int(entry.name)
        parents.setdefault(ppid, []).append(pid)
        rss[pid] = int(statm[1]) * PAGE_KB
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(parents.get(pid, ()))
    return total


class _Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        if not Path("/proc").is_dir():
            return
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(self.pid))
            self.stop.wait(0.05)


def measure(name: str, cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    """Run `cmd` to completion (killed after `timeout` seconds) and measure it."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            stdin=subprocess.DEVNULL)
    sampler = _Sampler(proc.pid)
    sampler.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    sampler.stop.set()
    sampler.join()
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it: tell Popen
    return Run(name=name, wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024,
               tree_mb=sampler.peak_kb / 1024, returncode=proc.returncode, stdout=out[0] if out else "",
               stderr=err)

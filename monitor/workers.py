"""Extraction and reading in worker processes: both are pure CPU work in Python, which
threads cannot run in parallel. Kept in a module of its own that imports only extraction and
detection, so a worker starts without the store, notifiers or Prefect.

The pool uses the `forkserver` start method: the pipeline calls it from threads (the fetch
pool, Prefect's task runner), and forking a process that has threads can deadlock.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime

from monitor.detect import Sentence, read_text
from monitor.extract import Article, ExtractError, extract_article

READ_TIMEOUT = 120  # seconds for one page in a worker: extraction has size caps, this is a backstop
MIN_ARTICLES = 8  # fewer articles than this are read in the pass's own process: a pool costs a start-up


def extract_and_read(content: bytes, url: str, charset: str | None, title: str, published: datetime | None,
                     limits: tuple[int, int, int]) -> tuple[Article, list[Sentence]] | str:
    """The article and its sentences, or why the page could not be read (feed title and date
    fill in what the page lacks). `limits`: the page's byte, element and depth caps."""
    try:
        article = extract_article(content, url, charset, *limits)
        if published:
            article.published = published
        if not article.title:
            article.title = title
        return article, read_text(article.text, article.title)
    except ExtractError as exc:
        return str(exc)
    except Exception as exc:  # a bug in extraction or reading must cost this page, not the pass
        return f"unexpected {type(exc).__name__}: {exc}"


def worker_count(articles: int) -> int:
    """Processes for reading `articles` pages: MONITOR_EXTRACT_WORKERS (default 0: read in the
    pass's own process, by one reader thread). Measured on 2 cores (docs/performance.md), two
    workers saved a quarter of a full pass in some runs and cost time in others on a busy
    machine, and took the pass to ~560 MB in all (target 500 MB); one worker saved nothing.
    Deciding each article already takes one core; the pool should pay on 4 cores or more."""
    wanted = os.environ.get("MONITOR_EXTRACT_WORKERS", "0").strip()
    workers = int(wanted) if wanted.isdigit() else 0
    return workers if articles >= MIN_ARTICLES else 0


def reading_pool(workers: int) -> Executor:
    """Where pages are read: a pool of `workers` processes or, for 0, one thread of this
    process. One thread, not the fetching threads: pure-Python reading spread over threads
    only fights over the GIL (bench corpus: 25% slower, six times the system time)."""
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="reader")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.workers"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)

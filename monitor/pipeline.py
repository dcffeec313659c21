"""One monitoring pass, composed from the stages; no Prefect here (flows/ wraps these).

    fetch feeds -> new links -> fetch + extract pages -> detect -> store (+ outbox) -> notify

Each article is decided and stored in its own transaction, in publication order, so the
rolling baseline grows article by article and a pass that dies half-way resumes cleanly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.baseline import fingerprint, load_baseline
from monitor.cache import ReadingCache, baseline_key, text_key
from monitor.config import Config, Topic, redact
from monitor.detect import Detector, Sentence, Verdict, read_text
from monitor.detect.clustering import Signature, same_development
from monitor.extract import Article, redirect_target
from monitor.feeds import FeedEntry, FeedError, parse_feed, plausible_feed_type
from monitor.fetch import Fetcher, FetchError, Response
from monitor.notify import Printer, SendReport, send_pending
from monitor.store import ArticleRecord, DevelopmentRecord, ReadOnlyStore, Store
from monitor.store.models import now
from monitor.workers import READ_TIMEOUT, extract_and_read, reading_pool, worker_count

Progress = Callable[[str], None]
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=6)


@dataclass
class FeedReport:
    topic: str
    url: str
    status: str  # ok, not modified, error, backing off
    entries: int = 0
    new_links: int = 0
    error: str = ""
    etag: str | None = None  # validators of this response, saved after its entries are handled
    last_modified: str | None = None


@dataclass
class ArticleDecision:
    url: str
    title: str
    verdict: str  # development, source, background, offtopic, error, duplicate
    detail: str = ""


@dataclass
class TopicReport:
    topic: str
    feeds: list[FeedReport] = field(default_factory=list)
    decisions: list[ArticleDecision] = field(default_factory=list)
    developments: list[DevelopmentRecord] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for d in self.decisions if d.verdict == verdict)


@dataclass
class PassReport:
    topics: list[TopicReport] = field(default_factory=list)
    alerts: SendReport = field(default_factory=SendReport)
    dry_run: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def developments(self) -> list[DevelopmentRecord]:
        return [d for t in self.topics for d in t.developments]

    def summary(self) -> dict[str, object]:
        return {
            "topics": {t.topic: {"feeds_ok": sum(f.status in ("ok", "not modified") for f in t.feeds),
                                 "feeds_failed": sum(f.status == "error" for f in t.feeds),
                                 "feeds_backing_off": sum(f.status == "backing off" for f in t.feeds),
                                 "articles": len(t.decisions), "developments": len(t.developments),
                                 "background": t.count("background"), "offtopic": t.count("offtopic"),
                                 "errors": t.count("error")} for t in self.topics},
            "alerts_sent": self.alerts.sent, "alerts_failed": self.alerts.failed, "dry_run": self.dry_run,
        }


def development_id(topic: str, url: str, evidence: str) -> str:
    return hashlib.sha256(f"{topic}\n{url}\n{evidence}".encode()).hexdigest()[:12]


def known_origin(title: str, published: datetime | None, reported: bool) -> str:
    """Where a known fact came from, as an alert shows it: a headline and date (never a URL or
    id, so that an alert names only its own development)."""
    when = f", {published:%d %b %Y}" if published else ""
    return f"{'an earlier alert' if reported else 'an earlier article'}: \"{title[:90]}\"{when}"


# -- building what is known ---------------------------------------------------------------

def baseline_detector(topic: Topic, cache: ReadingCache | None = None) -> Detector:
    """Detector for a topic that knows its baseline; from the cache while the seed files,
    the topic's description and keywords and the detection code are unchanged."""
    key = _baseline_key(topic) if cache else ""
    cached = cache.get(key) if cache and key else None
    if isinstance(cached, Detector):
        return cached
    detector = Detector.for_topic(topic.name, topic.description, topic.keywords)
    for doc in load_baseline(topic.baseline):
        detector.learn_baseline(doc.sentences, f"baseline document {doc.name}")
    if cache and key:
        cache.put(key, detector)  # pickled now, before the pass teaches it anything more
    return detector


def _baseline_key(topic: Topic) -> str:
    try:
        return baseline_key(fingerprint(topic.baseline), topic.baseline, topic.name, topic.description,
                            topic.keywords)
    except OSError:
        return ""  # no folder: load_baseline says so


def build_detector(topic: Topic, store: Store | None,
                   cache: ReadingCache | None = None) -> tuple[Detector, list[Signature]]:
    """Detector for a topic: baseline first, then every stored on-topic article in order.
    With a cache, only articles never read before are read again."""
    if store is None:
        return baseline_detector(topic, cache), []
    devs = {d.id: d for d in store.developments(topic.name)}
    rows = store.known_articles(topic.name)
    snapshot = _snapshot_key(topic, rows, devs) if cache else ""
    if cache and snapshot:  # nothing stored has changed since the last pass: what it knew, as it was
        found = cache.get(f"snapshot:{topic.name}")
        if isinstance(found, tuple) and len(found) == 3 and found[0] == snapshot:
            return found[1], found[2]
    detector = baseline_detector(topic, cache)
    signatures: list[Signature] = []
    keys = [text_key(row.title, row.text) for row in rows] if cache else []
    known = cache.get_many(keys) if cache else {}
    for i, row in enumerate(rows):
        sentences = known.get(keys[i]) if cache else None
        if sentences is None:
            sentences = read_text(row.text, row.title)
            if cache:
                cache.put(keys[i], sentences)
        origin = known_origin(row.title, row.published, row.development_id is not None)
        if row.verdict == "development" and row.development_id in devs:
            # its distinctive facts are what was new when it was read: read it again against
            # what was known then (the same state, since articles are replayed in order)
            dev = devs[row.development_id]
            new = [f.sentence for f in detector.analyze(row.title, sentences).findings]
            new = new or [s for s in sentences if s.text == dev.evidence]
            signatures.append(Signature.of(dev.id, row.title, new, set(dev.names), dev.published))
        detector.learn(sentences, origin, row.title)
    if cache and snapshot:  # one snapshot per topic, replaced as articles are added
        cache.put(f"snapshot:{topic.name}", (snapshot, detector, signatures))
    return detector, signatures


def _snapshot_key(topic: Topic, rows: list[ArticleRecord], devs: dict[str, DevelopmentRecord]) -> str:
    """Everything the rebuilt detector depends on: the baseline, the stored articles that it
    learns in order, and the developments they reported."""
    base = _baseline_key(topic)
    if not base:
        return ""
    parts = [base] + [f"{r.id}|{r.text_hash}|{r.title}|{r.published}|{r.verdict}|{r.development_id}" for r in rows]
    parts += [f"{d.id}|{d.evidence}|{sorted(d.names)}|{d.published}" for d in devs.values()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# -- fetching ---------------------------------------------------------------------------

def poll_feed(fetcher: Fetcher, store: Store | None, topic: str, url: str) -> tuple[FeedReport, list[FeedEntry]]:
    """Fetch and parse one feed with its stored validators; never raises."""
    state = store.feed_state(topic, url) if store else None
    if state and state.next_try_at and state.next_try_at > now():
        return FeedReport(topic, url, "backing off", error=f"{state.last_error} (next try "
                                                            f"{state.next_try_at:%Y-%m-%d %H:%M} UTC)"), []
    report, entries = FeedReport(topic, url, "ok"), []
    try:
        resp = fetcher.fetch(url, etag=state.etag if state else None,
                             last_modified=state.last_modified if state else None,
                             accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5")
        if resp.not_modified:
            report.status = "not modified"
        elif not plausible_feed_type(resp.content_type):
            raise FeedError(f"not a feed: the server sent {resp.content_type}")
        else:
            ctype = f"{resp.content_type}; charset={resp.charset}" if resp.charset else resp.content_type
            parsed = parse_feed(resp.content, resp.url, ctype)
            entries = parsed.entries
            report.entries = len(entries)
            report.error = parsed.warning or ""
        # The new validators are saved only once the entries are handled (run_topic): saved
        # now, a pass killed before storing the articles would get 304 next time and lose them.
        report.etag, report.last_modified = resp.etag, resp.last_modified
    except (FetchError, FeedError) as exc:
        report.status, report.error = "error", str(exc)
    except Exception as exc:  # a bug in a parser must cost this feed, not the pass
        report.status, report.error = "error", f"unexpected {type(exc).__name__}: {exc}"
    if state:
        state.last_attempt_at = now()
        state.last_status = report.status
        if report.status == "error":
            state.failures += 1
            state.last_error = report.error
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(state.failures - 1, 10))
            state.next_try_at = now() + delay if state.failures >= 3 else None
        else:
            state.failures, state.next_try_at, state.last_success_at = 0, None, now()
            state.last_error = report.error or None
        store.save_feed_state(state)  # type: ignore[union-attr]
    return report, entries


def fetch_page(fetcher: Fetcher, entry: FeedEntry) -> Response | str:
    """The article's page, or the reason it could not be had."""
    try:
        refusal = fetcher.robots_refusal(entry.url) if fetcher.settings.respect_robots else None
        if refusal:
            return refusal
        resp = fetcher.fetch(entry.url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
        target = redirect_target(resp.content, resp.url)
        if target:  # a redirector page (news-search links): one more hop, same limits and guard
            resp = fetcher.fetch(target, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
    except FetchError as exc:
        return str(exc)
    except Exception as exc:  # a bug in fetching must cost this page, not the pass
        return f"unexpected {type(exc).__name__}: {exc}"
    if resp.content_type and "html" not in resp.content_type and "xml" not in resp.content_type:
        return f"not a web page ({resp.content_type})"
    return resp


def read_article(fetcher: Fetcher, entry: FeedEntry, pool: Executor | None = None
                 ) -> tuple[Article, list[Sentence]] | str:
    """The extracted article and its sentences (read in `pool` when given), or the reason it
    could not be had. resp.url is the page after redirects (a news-search link resolves to
    the publisher)."""
    resp = fetch_page(fetcher, entry)
    if isinstance(resp, str):
        return resp
    limits = fetcher.settings
    job = (resp.content, resp.url, resp.charset, entry.title, entry.published,
           (limits.max_page_bytes, limits.max_page_elements, limits.max_page_depth))
    if pool:
        try:
            return pool.submit(extract_and_read, *job).result(timeout=READ_TIMEOUT)
        except TimeoutError:
            return f"reading the page took over {READ_TIMEOUT} s"
        except BrokenExecutor:
            pass  # a reader process died (out of memory, killed): read the page here instead
    return extract_and_read(*job)


def fetch_article(fetcher: Fetcher, entry: FeedEntry) -> Article | str:
    """The extracted article, or the reason it could not be had."""
    result = read_article(fetcher, entry)
    return result if isinstance(result, str) else result[0]


# -- deciding ---------------------------------------------------------------------------

def confidence(verdict: Verdict) -> float:
    best = verdict.best
    score = best.score if best else 0.0
    return round(min(0.99, 0.35 + 0.2 * min(score, 2.5) + 0.15 * min(1.0, verdict.relevance.score)), 2)


def make_development(topic: Topic, article: Article, verdict: Verdict, detector: Detector) -> DevelopmentRecord:
    best = verdict.best
    assert best is not None
    new_names = sorted({n for f in verdict.findings for n in f.sentence.names
                        if n not in detector.known.names and n not in detector.topic_names})
    summary = " ".join(best.sentence.text.split())
    return DevelopmentRecord(
        id=development_id(topic.name, article.url, best.sentence.text), topic=topic.name, kind=best.kind,
        summary=summary if len(summary) <= 300 else summary[:299].rsplit(" ", 1)[0] + "…",
        title=article.title, evidence=best.sentence.text, new_value=best.new_value,
        known_before=best.known_before, known_source=best.known_source, sources=[article.url],
        names=new_names, reasons=best.reasons, confidence=confidence(verdict), first_seen=now(),
        published=article.published,
    )


def explain(verdict: Verdict) -> str:
    lines = [verdict.relevance.reason]
    lines += [f"{f.score:.2f} {f.kind}: {'; '.join(f.reasons)} | {f.sentence.text[:140]}"
              for f in sorted(verdict.findings, key=lambda f: -f.score)[:5]]
    return "\n".join(lines)


@dataclass
class TopicPass:
    """The state of one topic during a pass."""

    topic: Topic
    store: Store | None
    detector: Detector
    signatures: list[Signature]
    report: TopicReport
    routes: list[tuple[str, str, str, float]]
    cache: ReadingCache | None = None

    def decide(self, link: str, article: Article, sentences: list[Sentence] | None = None) -> ArticleDecision:
        """Detect, store and learn one article (its sentences when already read); returns
        what was decided."""
        store, topic = self.store, self.topic
        existing = store.find_article(topic.name, article.url, article.text_hash) if store else None
        if store and existing:
            store.link_to(topic.name, link, existing.id)
            return ArticleDecision(article.url, article.title, "duplicate", "already stored")
        if sentences is None:
            sentences = read_text(article.text, article.title)
        verdict = self.detector.analyze(article.title, sentences)
        detail = explain(verdict)
        record = ArticleRecord(topic=topic.name, url=article.url, fetched_url=article.fetched_url,
                               title=article.title, text=article.text, text_hash=article.text_hash,
                               published=article.published, relevance=verdict.relevance.score,
                               explanation=detail, verdict="offtopic")
        development, source_for = None, None
        if verdict.relevance.on_topic:
            record.verdict = "background"
            # Another outlet on a development of this news cycle adds a source, never an alert.
            recent = next(((sig, shared) for sig in reversed(self.signatures)
                           if (shared := same_development(sig, article.title, sentences, article.published))),
                          None)
            if recent:
                sig, shared = recent
                source_for, record.verdict, record.development_id = sig.id, "source", sig.id
                detail = f"another source for {sig.id}: shares {', '.join(shared[:4])}\n{detail}"
            elif verdict.is_new:
                development = make_development(topic, article, verdict, self.detector)
                record.verdict, record.development_id = "development", development.id
                self.signatures.append(Signature.of(development.id, article.title,
                                                    [f.sentence for f in verdict.findings],
                                                    set(development.names), article.published))
        if store:
            routes = [(u, shown, mode) for u, shown, mode, minimum in self.routes
                      if development is None or development.confidence >= minimum]
            # None: another worker stored it first (unique topic+URL, development id)
            lost = store.save_article(record, link, development, routes, source_for) is None
        else:
            lost = False
        if record.verdict != "offtopic":
            origin = known_origin(article.title, article.published, development is not None)
            self.detector.learn(sentences, origin, article.title)
            if self.cache:  # the next pass rebuilds what is known without reading it again
                self.cache.put(text_key(article.title, article.text), sentences)
        if lost:
            return ArticleDecision(article.url, article.title, "duplicate",
                                   "stored meanwhile by another worker")
        if development:
            self.report.developments.append(development)
        return ArticleDecision(article.url, article.title, record.verdict, detail)


def run_topic(config: Config, topic: Topic, fetcher: Fetcher, store: Store | None,
              progress: Progress, since: datetime | None = None) -> TopicReport:
    """One topic's pass; workers sharing a PostgreSQL state take turns per topic. `since`:
    leave feed entries published before it for a later pass. What reading costs is cached
    beside the state database (monitor/cache.py); a dry run only reads that cache."""
    if store is None:
        return _run_topic(config, topic, fetcher, store, progress, since, None)
    cache = ReadingCache.for_state(config.state, read_only=isinstance(store, ReadOnlyStore))
    try:
        with store.topic_lock(topic.name):
            return _run_topic(config, topic, fetcher, store, progress, since, cache)
    finally:
        cache.close()


def _run_topic(config: Config, topic: Topic, fetcher: Fetcher, store: Store | None,
               progress: Progress, since: datetime | None, cache: ReadingCache | None) -> TopicReport:
    report = TopicReport(topic=topic.name)
    progress(f"{topic.name}: polling {len(topic.feeds)} feed(s)")
    ordered = poll_feeds(config, topic, fetcher, store, since, report)
    progress(f"{topic.name}: {len(ordered)} new link(s) to read")
    if ordered:  # what is known is rebuilt only when there is something to compare with it
        progress(f"{topic.name}: reading baseline and {'' if store else 'no '}stored articles")
        detector, signatures = build_detector(topic, store, cache)
        if cache:
            cache.flush()
        routes = [(r.url, redact(r.url), r.mode, r.min_confidence) for r in topic.notify]
        read_and_decide(config, fetcher, ordered, TopicPass(topic, store, detector, signatures, report,
                                                            routes, cache), progress)
    if store and since is None:  # entries a `since` left for later must not hide behind a 304
        for feed in report.feeds:
            if feed.etag or feed.last_modified:
                store.save_feed_validators(topic.name, feed.url, feed.etag, feed.last_modified)
    return report


def poll_feeds(config: Config, topic: Topic, fetcher: Fetcher, store: Store | None,
               since: datetime | None, report: TopicReport) -> list[FeedEntry]:
    """Every feed of the topic, concurrently; the entries not handled before, oldest first."""
    entries: dict[str, FeedEntry] = {}
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(topic.feeds)))) as pool:
        for feed_report, feed_entries in pool.map(lambda u: poll_feed(fetcher, store, topic.name, u), topic.feeds):
            handled = store.handled_links(topic.name) if store else set()
            fresh = [e for e in feed_entries if e.url not in handled and e.url not in entries
                     and not (since and e.published and e.published < since)]
            fresh = fresh[-config.fetch.max_articles_per_feed:]
            feed_report.new_links = len(fresh)
            entries.update((e.url, e) for e in fresh)
            report.feeds.append(feed_report)
    return sorted(entries.values(), key=lambda e: (e.published or datetime.max.replace(tzinfo=UTC)))


def read_and_decide(config: Config, fetcher: Fetcher, ordered: list[FeedEntry], tp: TopicPass,
                    progress: Progress) -> None:
    """Pages are fetched by threads and read by one reader thread (or by reader processes,
    MONITOR_EXTRACT_WORKERS), while this thread decides each article in publication order
    as soon as it is ready."""
    name, store, report = tp.topic.name, tp.store, tp.report
    with ThreadPoolExecutor(max_workers=config.fetch.concurrency) as pool, \
            reading_pool(worker_count(len(ordered))) as readers:
        results = pool.map(lambda e: read_article(fetcher, e, readers), ordered)
        for i, (entry, result) in enumerate(zip(ordered, results, strict=True), 1):
            if isinstance(result, str):
                if store:
                    store.link_failed(name, entry.url, result)
                report.decisions.append(ArticleDecision(entry.url, entry.title, "error", result))
                continue
            article, sentences = result
            decision = tp.decide(entry.url, article, sentences)
            report.decisions.append(decision)
            progress(f"{name}: [{i}/{len(ordered)}] {decision.verdict}: {article.title[:70]}")


def run_pass(config: Config, topic_name: str | None = None, dry_run: bool = False,
             printer: Printer | None = None, progress: Progress | None = None) -> PassReport:
    """One monitoring pass over the chosen topics; a failing feed or page never stops it."""
    progress = progress or (lambda _msg: None)
    report = PassReport(dry_run=dry_run)
    # a dry run reads the state (what is known, handled, cached) and writes nothing
    store = ReadOnlyStore.open(config.state) if dry_run else Store(config.state)
    try:
        with Fetcher(config.fetch) as fetcher:
            for topic in config.topic(topic_name):
                report.topics.append(run_topic(config, topic, fetcher, store, progress))
        if store and not dry_run:
            progress("sending alerts")
            report.alerts = send_pending(store, config, "instant", printer)
            store.record_run(report.started, report.summary())
        elif printer:
            from monitor.notify import render

            for dev in report.developments:
                printer(render(dev))
    finally:
        if store:
            store.close()
    return report

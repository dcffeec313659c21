"""The store on SQLite and on the real PostgreSQL: schema migrations, portable types, unique
constraints under concurrent writers, pruning and maintenance."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from monitor.store import ArticleRecord, DevelopmentRecord, Store
from monitor.store.migrate import head_revision
from monitor.store.models import Base

from .conftest import LocalServer
from .pgdb import reset_schema, temp_database, unreachable

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    reason = unreachable()
    if reason:
        pytest.skip(reason)
    with temp_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty state database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    pg = request.getfixturevalue("pg_database")
    reset_schema(pg)
    return pg


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url)
    try:
        yield s
    finally:
        s.close()


def article(url: str, topic: str = "t", verdict: str = "background", text_: str = "Some text.",
            fetched_at: datetime | None = None, development_id: str | None = None) -> ArticleRecord:
    return ArticleRecord(topic=topic, url=url, fetched_url=url, title="A title", text=text_,
                         text_hash=str(hash((url, text_))), verdict=verdict, relevance=0.5,
                         explanation="why", fetched_at=fetched_at or datetime.now(UTC),
                         development_id=development_id)


def development(dev_id: str, url: str, topic: str = "t") -> DevelopmentRecord:
    return DevelopmentRecord(id=dev_id, topic=topic, kind="figure", summary="Ten ships were hit.",
                             sources=[url], names=["Ärzte ohne Grenzen", "北朝鮮"], reasons=["new figure"],
                             first_seen=datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=3))),
                             published=datetime(2024, 5, 1, 8, 30))  # naive: taken as UTC


ROUTES = [("json://127.0.0.1:1/alerts", "json://127.0.0.1:1/alerts", "instant")]


def test_fresh_database_is_created_at_the_newest_revision(url: str) -> None:
    first = Store(url)
    second = Store(url)  # already current: nothing to do
    try:
        assert first.revisions == (None, head_revision())
        assert second.revisions == (head_revision(), head_revision())
        tables = set(inspect(first.engine).get_table_names())
        assert {"articles", "developments", "deliveries", "links", "feeds", "runs",
                "alembic_version"} <= tables
    finally:
        first.close()
        second.close()


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    """The store checks a database against a constant (no Alembic import on every open): a new
    migration script must move that constant too."""
    from monitor.store.migrate import script_head

    assert head_revision() == script_head()


def test_revision_is_read_as_alembic_reads_it(url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    from monitor.store.migrate import current_revision

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) is None  # no schema yet
        Store(url).close()
        with engine.connect() as conn:
            assert current_revision(conn) == MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        engine.dispose()


def test_a_database_newer_than_the_code_is_a_clear_error(url: str) -> None:
    """A state written by a newer release (unknown revision) is refused in one line, untouched."""
    from monitor.store import StoreError

    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(StoreError, match=r"cannot open state database: .*9999"):
            Store(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
    finally:
        engine.dispose()


def test_a_database_made_before_migrations_is_stamped_and_upgraded(url: str) -> None:
    """The first version made its tables with create_all (= revision 0001 without Alembic's
    version table); its data survives the upgrade."""
    from alembic import command

    from monitor.store.migrate import alembic_config

    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(Base.metadata.tables["runs"].insert().values(started_at=datetime.now(UTC), summary={}))
    engine.dispose()
    store = Store(url)
    try:
        assert store.revisions == (None, head_revision())
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("runs")}
        assert "ix_runs_started_at" in indexes
        assert store.counts()["runs"] == 1
    finally:
        store.close()


def test_a_database_made_by_create_all_of_any_version_is_upgraded(url: str) -> None:
    """Between releases the tables were made by create_all (all of today's columns and indexes,
    no version table): stamping it and running every migration must not trip on what exists."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    store = Store(url)
    try:
        assert store.revisions == (None, head_revision())
        assert {"claim_token", "claimed_at", "response"} <= {
            c["name"] for c in inspect(store.engine).get_columns("deliveries")}
    finally:
        store.close()


def test_cli_db_upgrade(url: str, tmp_path: Path) -> None:
    config = tmp_path / "monitor.yaml"
    config.write_text(f"state: {url}\ntopics: [{{name: t, baseline: {tmp_path}}}]\n")
    cmd = [sys.executable, "-c", "from monitor.cli import main; main()", "db", "upgrade",
           "--config", str(config)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert f"schema upgraded from none to {head_revision()}" in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert f"already at {head_revision()}" in again.stdout


def test_values_round_trip_with_portable_types(store: Store) -> None:
    topic = "t" * 80  # the longest topic name the config accepts
    url = "https://example.org/news/" + "x" * 2000  # URLs are Text, not a short String
    dev = development("d" * 32, url, topic)
    stored = store.save_article(article(url, topic, "development", "Null\x00byte and ünïcode",
                                        development_id=dev.id), url, dev, ROUTES)
    assert stored is not None
    got = store.development(dev.id)
    assert got is not None
    assert got.names == ["Ärzte ohne Grenzen", "北朝鮮"] and got.sources == [url]
    assert got.first_seen == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert got.first_seen.tzinfo is not None and got.first_seen.utcoffset() == timedelta(0)
    assert got.published == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    [row] = store.known_articles(topic)
    assert row.text == "Nullbyte and ünïcode"  # PostgreSQL text cannot hold NUL
    assert [d.status for d in store.deliveries()] == ["pending"]
    store.record_run(datetime.now(UTC), {"topics": {topic: {"articles": 1}}, "dry_run": False})
    assert store.counts()["runs"] == 1


def test_the_loser_of_a_duplicate_article_rolls_back_and_skips(url: str) -> None:
    """Two workers store the same article and development: one wins, the other gets None and
    nothing of its transaction (development, delivery, link) remains."""
    a, b = Store(url), Store(url)
    try:
        link = "https://example.org/a"
        dev_a = development("dev1", link)
        assert a.save_article(article(link, verdict="development", development_id="dev1"), link, dev_a,
                              ROUTES) is not None
        dev_b = development("dev1", link)
        assert b.save_article(article(link, verdict="development", development_id="dev1"), link, dev_b,
                              ROUTES) is None
        # same development id reported from another URL: the development row conflicts
        other = "https://example.org/b"
        assert b.save_article(article(other, verdict="development", development_id="dev1"), other,
                              development("dev1", other), ROUTES) is None
        # the loser's store still works
        assert b.save_article(article("https://example.org/c"), "https://example.org/c") is not None
        counts = a.counts()
        got = (counts["articles"], counts["developments"], counts["deliveries"], counts["links"])
        assert got == (2, 1, 1, 2)
        assert b.handled_links("t") == {link, "https://example.org/c"}
    finally:
        a.close()
        b.close()


def _race(workers: int, work: object) -> list[object]:
    """Run `work(i)` in threads released together; returns results (or the exception raised)."""
    barrier = threading.Barrier(workers, timeout=30)
    results: list[object] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)  # type: ignore[operator]
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_writers_store_each_row_once(url: str) -> None:
    Store(url).close()
    stores = [Store(url) for _ in range(4)]
    try:
        def work(i: int) -> tuple[int, int]:
            s = stores[i]
            for n in range(15):
                s.feed_state("t", f"https://example.org/feed{n}.xml")
                s.link_failed("t", f"https://example.org/broken{n}", "HTTP 500")
            saved = sum(s.save_article(article(f"https://example.org/{n}", verdict="development",
                                               development_id=f"dev{n}"),
                                       f"https://example.org/{n}", development(f"dev{n}", f"https://x/{n}"),
                                       ROUTES) is not None for n in range(15))
            return saved, i

        results = _race(4, work)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert sum(r[0] for r in results) == 15  # type: ignore[index]
        counts = stores[0].counts()
        assert counts["feeds"] == 15 and counts["articles"] == 15
        assert counts["developments"] == 15 and counts["deliveries"] == 15
        assert counts["links"] == 30
    finally:
        for s in stores:
            s.close()


def test_concurrent_first_use_creates_the_schema_once(url: str) -> None:
    results = _race(4, lambda _i: Store(url))
    errors = [r for r in results if isinstance(r, Exception)]
    for r in results:
        if isinstance(r, Store):
            r.close()
    assert not errors, errors
    store = Store(url)
    try:
        assert store.revisions == (head_revision(), head_revision())
    finally:
        store.close()


@pytest.mark.postgres
def test_topic_lock_is_held_across_workers(pg_database: str) -> None:
    """Advisory locks are a PostgreSQL feature (SQLite runs without a topic lock)."""
    from monitor.store import _topic_key

    reset_schema(pg_database)
    url = pg_database

    a, b = Store(url), Store(url)
    try:
        def try_lock() -> bool:
            with b.engine.connect() as conn:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _topic_key("t")}).scalar()
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _topic_key("t")})
                return bool(got)

        with a.topic_lock("t"):
            assert try_lock() is False
            with b.topic_lock("other topic"):
                pass  # other topics are not blocked
        assert try_lock() is True
    finally:
        a.close()
        b.close()


def test_prune_keeps_what_detection_needs(store: Store) -> None:
    at = datetime(2025, 6, 1, tzinfo=UTC)
    old, recent = at - timedelta(days=40), at - timedelta(days=5)
    rows = [("https://e.org/old-off", "offtopic", old), ("https://e.org/old-on", "background", old),
            ("https://e.org/new-off", "offtopic", recent)]
    for link, verdict, when in rows:
        store.save_article(article(link, verdict=verdict, text_="x" * 100, fetched_at=when), link)
    store.record_run(old, {"old": True})
    store.record_run(recent, {"old": False})

    report = store.prune(30, at=at)

    assert (report.texts_pruned, report.chars_freed, report.explanations_cleared, report.runs_deleted) == \
        (1, 100, 2, 1)
    [on_topic] = store.known_articles("t")  # the rolling baseline keeps its old text
    assert on_topic.url == "https://e.org/old-on" and on_topic.text == "x" * 100
    assert store.find_article("t", "https://e.org/old-off").text == ""  # type: ignore[union-attr]
    assert store.find_article("t", "https://e.org/new-off").text == "x" * 100  # type: ignore[union-attr]
    assert store.handled_links("t") == {link for link, _v, _w in rows}  # nothing is fetched again
    assert store.counts()["runs"] == 1
    assert store.prune(30, at=at).texts_pruned == 0
    expected = "VACUUM + ANALYZE" if store.engine.dialect.name == "sqlite" else "ANALYZE"
    assert store.optimize() == expected


def test_a_dry_run_reads_the_state_and_writes_nothing(url: str, http_server: LocalServer,
                                                      tmp_path: Path) -> None:
    """After a real pass, a dry run reports only what the next real pass would: the new article;
    it stores, caches and sends nothing."""
    from monitor.config import load_config
    from monitor.pipeline import run_pass

    from . import redsea
    from .conftest import write_config

    config = load_config(write_config(tmp_path, [redsea.topic(http_server, redsea.write_seeds(tmp_path / "s"))],
                                      state=url))
    strike, rubymar = redsea.page_url(http_server, "deadly-strike"), redsea.page_url(http_server, "rubymar")
    redsea.publish(http_server, ["deadly-strike"])
    first = run_pass(config)
    assert [d.sources[0] for d in first.developments] == [strike]
    assert len(http_server.posts("/alerts")) == 1
    store = Store(url)
    try:
        before = store.counts()
    finally:
        store.close()

    redsea.publish(http_server, ["deadly-strike", "rubymar"])
    printed: list[str] = []
    dry = run_pass(config, dry_run=True, printer=lambda m: printed.append(m.title))
    assert [d.url for t in dry.topics for d in t.decisions] == [rubymar]
    assert [d.sources[0] for d in dry.developments] == [rubymar]
    assert len(printed) == 1 and "21,000 tonnes" in printed[0]
    assert len(http_server.posts("/alerts")) == 1  # nothing sent
    store = Store(url)
    try:
        assert store.counts() == before  # nothing stored
    finally:
        store.close()

    real = run_pass(config)
    assert [d.sources[0] for d in real.developments] == [rubymar]
    assert len(http_server.posts("/alerts")) == 2


def test_since_leaves_older_entries_for_a_later_pass(http_server: LocalServer, tmp_path: Path) -> None:
    """`since` skips older feed entries without marking them handled, and without saving the
    feed's ETag: the next pass gets the whole feed again and reads them."""
    from monitor.config import load_config
    from monitor.fetch import Fetcher
    from monitor.pipeline import run_pass, run_topic

    from . import redsea
    from .conftest import write_config

    config = load_config(write_config(tmp_path, [redsea.topic(http_server, redsea.write_seeds(tmp_path / "s"))]))
    redsea.publish(http_server, ["deadly-strike", "rubymar"])  # published on March 1 and 2
    store = Store(config.state)
    try:
        with Fetcher(config.fetch) as fetcher:
            report = run_topic(config, config.topics[0], fetcher, store, lambda _m: None,
                               since=datetime(2024, 3, 2, tzinfo=UTC))
    finally:
        store.close()
    assert [d.url for d in report.decisions] == [redsea.page_url(http_server, "rubymar")]
    later = run_pass(config)
    assert [d.url for t in later.topics for d in t.decisions] == [redsea.page_url(http_server, "deadly-strike")]

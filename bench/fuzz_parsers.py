"""Random-mutation fuzzing of the parsers, and the cost of the classic hostile inputs.

    python bench/fuzz_parsers.py [--iterations N] [--seed S]

Part 1 mutates real feeds and pages (shared/corpus, else built-in samples) byte by byte and
feeds them to parse_feed / extract_article. Anything but a result or the documented
FeedError / ExtractError is a crash and is printed with the seed to replay it.
Part 2 prints time and peak memory (tracemalloc) for an entity-bomb feed, a 100,000-deep page,
a 10,000-element page and the pathological inputs of the declaration stripper, with and
without our guards where that can be run safely.
No network: everything is in memory.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.extract import ExtractError, check_page, extract_article  # noqa: E402
from monitor.feeds import FeedError, defuse, parse_feed  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLE_FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Sample</title>'
               + b"".join(b"<item><title>Item %d &amp; more</title><link>http://127.0.0.1/a%d</link>"
                          b"<pubDate>Tue, 05 Mar 2024 10:00:00 +0000</pubDate><description><![CDATA[<p>Text "
                          b"%d</p>]]></description></item>" % (i, i, i) for i in range(5))
               + b"</channel></rss>")
SAMPLE_PAGE = (b"<html><head><title>Sample</title><meta charset='utf-8'></head><body><article><h1>Sample</h1>"
               + b"<p>The council approved the tram line on Monday with 31 votes to 12, officials said.</p>" * 8
               + b"</article></body></html>")
TOKENS = [b"<", b">", b"</", b"&", b";", b"&amp;", b"<!DOCTYPE x [", b"<!ENTITY a 'b'>", b"]>", b"<![CDATA[",
          b"]]>", b"\x00", b"\xff\xfe", b"\xc3", b"<div>" * 50, b"<item>", b"</item>", b"<entry>", b"&#x110000;",
          b"&#0;", b"encoding='utf-7'", b"<?xml version='1.0' encoding='x-bogus'?>", b"\"", b"'", b"\n"]


def samples() -> tuple[list[bytes], list[bytes]]:
    feeds = [p.read_bytes() for p in sorted((CORPUS / "feeds").glob("*")) if p.suffix in (".atom", ".rss")]
    pages = [p.read_bytes() for p in sorted((CORPUS / "html").glob("*.html"))[:20]]
    return feeds or [SAMPLE_FEED], pages or [SAMPLE_PAGE]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits: flip, delete, duplicate, insert a hostile token, truncate."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not buf:
            buf.extend(rng.choice(TOKENS))
            continue
        i = rng.randrange(len(buf))
        op = rng.randrange(5)
        if op == 0:
            buf[i] = rng.randrange(256)
        elif op == 1:
            del buf[i:i + rng.randint(1, 64)]
        elif op == 2:
            buf[i:i] = buf[i:i + rng.randint(1, 256)]
        elif op == 3:
            buf[i:i] = rng.choice(TOKENS)
        else:
            del buf[i:]
    return bytes(buf)


def fuzz(iterations: int, seed: int) -> int:
    feeds, pages = samples()
    crashes = 0
    slowest = (0.0, "")
    started = time.perf_counter()
    for n in range(iterations):
        rng = random.Random(seed * 1_000_003 + n)
        is_feed = n % 2 == 0
        data = mutate(rng.choice(feeds if is_feed else pages), rng)
        t = time.perf_counter()
        try:
            if is_feed:
                parse_feed(data, "http://127.0.0.1/feed.xml", rng.choice(["", "text/xml; charset=koi8-r"]))
            else:
                extract_article(data, "http://127.0.0.1/page", rng.choice([None, "utf-8", "bogus", "utf-7"]))
        except (FeedError, ExtractError):
            pass
        except Exception as exc:  # a crash: anything the pipeline would not expect
            crashes += 1
            print(f"CRASH {'parse_feed' if is_feed else 'extract_article'} seed={seed} iteration={n}: "
                  f"{type(exc).__name__}: {exc}")
        took = time.perf_counter() - t
        if took > slowest[0]:
            slowest = (took, f"{'feed' if is_feed else 'page'} iteration {n}, {len(data)} bytes")
    total = time.perf_counter() - started
    print(f"fuzz: {iterations} inputs in {total:.1f} s, {crashes} crash(es); slowest {slowest[0] * 1000:.0f} ms "
          f"({slowest[1]})")
    return crashes


def measure(name: str, fn: Callable[[], object]) -> None:
    tracemalloc.start()
    t = time.perf_counter()
    try:
        fn()
        outcome = "ok"
    except (FeedError, ExtractError) as exc:
        outcome = f"refused: {exc}"
    took = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  {name:<46} {took * 1000:9.1f} ms  peak {peak / 2**20:7.1f} MiB  {outcome[:70]}")


def hostile() -> None:
    import feedparser

    decls = b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
    bomb = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">' + decls + b']><rss version="2.0">'
            b"<channel><title>&lol9;</title><item><title>&lol9;</title><link>http://127.0.0.1/a</link></item>"
            b"</channel></rss>")
    deep = b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>"
    wide = b"<html><body><article><p>" + b"<span>a</span>" * 10_000 + b"</p></article></body></html>"
    print("hostile inputs (time, peak traced memory):")
    measure("entity bomb feed: parse_feed (defused)", lambda: parse_feed(bomb))
    measure("entity bomb feed: bare feedparser.parse", lambda: feedparser.parse(bomb))
    measure("100,000-deep page: extract_article (refused)", lambda: extract_article(deep, "http://x/"))
    measure("100,000-deep page: check only", lambda: check_page(deep))
    measure("10,000-span page: extract_article (refused)", lambda: extract_article(wide, "http://x/"))
    measure("10,000-span page: extract, limit raised", lambda: extract_article(wide, "http://x/", max_elements=10**6))
    for unit in (b"<!DOCTYPE [", b"<!DOCTYPE x '", b"<!DOCTYPE ]"):
        body = unit * (2_000_000 // len(unit))
        measure(f"defuse 2 MB of {unit.decode()!r}", lambda body=body: defuse(body))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    crashes = fuzz(args.iterations, args.seed)
    hostile()
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()

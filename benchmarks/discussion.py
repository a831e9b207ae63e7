"""
The discussion's costs: rendering a comment (Markdown with math, then nh3) when it
is written, what sanitising its HTML again on every read would cost (why the
sanitised HTML is kept and served as it is), and serving a paper page whose
discussion is long (its first page of 25 threads with 20 replies each, its last
page, a thread with 1,000 replies) and a daily list whose papers all have comments
(the visible-comment counts on every card).

Builds a fresh SQLite database in a temporary directory: one daily list of
`--papers` papers, the first of them with `--threads` threads of `--replies`
replies, every other with a few comments; then times requests through the real
app in-process (FastAPI's TestClient, no network), median of `--repeat`.

Example: python benchmarks/discussion.py --threads 1000 --replies 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMENT = """Nice result. The bound $a_1 * b_2 + c_3 * d_4 \\le \\epsilon$ is tight when

$$
\\sum_{i=1}^n x_i^2 = 1,
$$

see [the appendix](https://arxiv.org/abs/2406.09415) and *Lemma 3*:

- the first case is `trivial`;
- the second needs **care** ($n > 3$).

> Does it hold for $d > 3$?
"""


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--replies", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    os.environ["PAPERFEED_DATA_DIR"] = tempfile.mkdtemp(prefix="discussion-bench-")
    os.environ["PAPERFEED_PAGE_CACHE_SECONDS"] = "0"

    from fastapi.testclient import TestClient
    from sqlalchemy import insert

    from paperfeed import db
    from paperfeed.discussion.render import sanitise, to_html
    from paperfeed.models import Comment, User
    from paperfeed.web.app import create_app
    from tests.webdata import TODAY, add_paper

    n = 2000
    start = time.perf_counter()
    rendered = [to_html(COMMENT) for _ in range(n)]
    render_us = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for html in rendered:
        sanitise(html)
    sanitise_us = (time.perf_counter() - start) / n * 1e6

    engine = db.connect()  # the configured database: SQLite in the fresh data directory
    ids = [f"2610.{i:05d}" for i in range(1, args.papers + 1)]
    for arxiv_id in ids:
        add_paper(engine, arxiv_id, f"Paper {arxiv_id}", day=TODAY, upvotes=1)
    html = rendered[0]
    t0 = datetime.now(UTC) - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(insert(User), [{"username": f"u{i}", "role": "reader", "created_at": t0} for i in range(20)])
        rows, next_id = [], 1
        for t in range(args.threads):
            top = next_id
            rows.append({"id": top, "arxiv_id": ids[0], "parent_id": None, "user_id": 1 + t % 20,
                         "client_key": f"k{top:020d}", "body": COMMENT, "html": html, "created_at": t0})
            next_id += 1
            for _ in range(args.replies if t else 1000):  # the first thread is the long one
                rows.append({"id": next_id, "arxiv_id": ids[0], "parent_id": top, "user_id": 1 + next_id % 20,
                             "client_key": f"k{next_id:020d}", "body": COMMENT, "html": html, "created_at": t0})
                next_id += 1
        for arxiv_id in ids[1:]:
            for _ in range(3):
                rows.append({"id": next_id, "arxiv_id": arxiv_id, "parent_id": None, "user_id": 1,
                             "client_key": f"k{next_id:020d}", "body": COMMENT, "html": html, "created_at": t0})
                next_id += 1
    client = TestClient(create_app(engine))
    client.get("/")
    before = median_ms(lambda: client.get("/"), args.repeat)  # the same list before any comment
    with engine.begin() as conn:
        conn.execute(insert(Comment), rows)
    paper = f"/papers/{ids[0]}"
    last = min(-(-args.threads // 25), 40)
    for path in (paper, f"{paper}?cp={last}", "/comments/1", "/"):  # warm up
        assert client.get(path).status_code == 200, path
    results = {
        "comment_render_us": render_us,
        "comment_sanitise_again_us": sanitise_us,
        "paper_page_first_ms": median_ms(lambda: client.get(paper), args.repeat),
        "paper_page_last_ms": median_ms(lambda: client.get(f"{paper}?cp={last}"), args.repeat),
        "thread_page_1000_replies_ms": median_ms(lambda: client.get("/comments/1"), args.repeat),
        "daily_list_no_comments_ms": before,
        "daily_list_with_counts_ms": median_ms(lambda: client.get("/"), args.repeat),
        "paper_page_3_comments_ms": median_ms(lambda: client.get(f"/papers/{ids[1]}"), args.repeat),
        "discussion_feed_ms": median_ms(lambda: client.get(f"/feeds/discussion/{ids[0]}.atom"), args.repeat),
    }
    print(f"comments: {len(rows)} ({args.threads} threads on one paper, 3 on each of {args.papers - 1} others)")
    for name, value in results.items():
        print(f"{name}: {value:.1f}")


if __name__ == "__main__":
    main()

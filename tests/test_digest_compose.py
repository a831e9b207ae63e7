"""
What goes in a digest: trending first, then new matches per saved search; each
paper once with all its reasons; nothing sent before; the subscriber's
categories and paper count; empty digests not sent; and the work shared across
subscribers (one trending list per frequency, one search per distinct query
and window, one sent-papers query per batch).

Saved-search results come from a recording stand-in for `paperfeed.search`
so these tests are about composition; the real hybrid search runs in
`test_digest_flow.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from paperfeed.digest import outbox
from paperfeed.digest.compose import Composer
from paperfeed.digest.schedule import due
from paperfeed.models import DailyEntry, DigestSentPaper, Subscriber
from tests.webdata import add_paper

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


class Recorder:
    """Trending and search stand-ins that record how often they are called."""

    def __init__(self, trending: list[str], results: dict[str, list[str]]):
        self.trending, self.results = trending, results
        self.trending_calls, self.search_calls = 0, []

    def trend(self, engine, since, until, limit):
        self.trending_calls += 1
        return [(a, 1.0) for a in self.trending[:limit]]

    def search(self, engine, text, mode, limit, after, before):
        self.search_calls.append((text, after, before))
        return self.results.get(text, [])[:limit]


def subscriber(engine, email, **values):
    row = {"email": email, "status": "active", "frequency": "daily", "hour": 8, "weekday": 0, "timezone": "UTC",
           "categories": [], "searches": [], "max_papers": 10, "created_at": NOW - timedelta(days=3),
           "confirmed_at": NOW - timedelta(days=3), "failures": 0} | values
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(**row))
        return conn.execute(select(Subscriber.__table__).where(Subscriber.__table__.c.email == email)).first()


def papers(engine, *ids, category="cs.LG"):
    for a in ids:
        add_paper(engine, a, f"Paper {a}", categories=[category], published=NOW - timedelta(days=1))


def compose(engine, rec, rows, now=NOW):
    composer = Composer(engine, now, trending_fn=rec.trend, search_fn=rec.search)
    dues = [due(r, now) for r in rows]
    return composer, composer.compose(rows, dues)


def test_trending_then_searches_each_paper_once_with_every_reason(engine):
    papers(engine, "2611.00001", "2611.00002", "2611.00003", "2611.00004")
    rec = Recorder(["2611.00001", "2611.00002"], {"ssm": ["2611.00002", "2611.00003"], "rl": ["2611.00004", "2611.00003"]})
    row = subscriber(engine, "a@example.org", searches=["ssm", "rl"])
    _, [d] = compose(engine, rec, [row])
    assert [(s.kind, s.title) for s in d.sections] == [("trending", "Trending"), ("search", "ssm"), ("search", "rl")]
    assert sorted(d.arxiv_ids) == ["2611.00001", "2611.00002", "2611.00003", "2611.00004"]
    reasons = dict(e for s in d.sections for e in s.entries)
    assert reasons["2611.00002"] == ["trending", "matches: ssm"]
    assert reasons["2611.00003"] == ["matches: ssm", "matches: rl"]


def test_nothing_sent_before_and_empty_digests_are_not_sent(engine):
    papers(engine, "2611.00001", "2611.00002")
    rec = Recorder(["2611.00001"], {"ssm": ["2611.00002"]})
    row = subscriber(engine, "a@example.org", searches=["ssm"])
    with engine.begin() as conn:
        conn.execute(insert(DigestSentPaper.__table__).values(subscriber_id=row.id, arxiv_id="2611.00001", period="D2026-11-19"))
    _, [d] = compose(engine, rec, [row])
    assert d.arxiv_ids == ["2611.00002"]
    report = outbox.Report()
    outbox.enqueue(engine, [d], "https://x.example", NOW, report)
    row = subscriber_row(engine, row.id)
    _, [d2] = compose(engine, rec, [row], now=NOW + timedelta(days=1))
    assert d2.empty  # both papers already sent
    outbox.enqueue(engine, [d2], "https://x.example", NOW, report)
    assert (report.queued, report.empty) == (1, 1)
    row = subscriber_row(engine, row.id)
    assert row.last_period == "D2026-11-21" and row.last_window_end == d.window_end  # window kept
    assert due(row, NOW + timedelta(days=1)) is None  # the empty period counts as done


def subscriber_row(engine, sid):
    with engine.connect() as conn:
        return conn.execute(select(Subscriber.__table__).where(Subscriber.__table__.c.id == sid)).first()


def test_categories_and_paper_count(engine):
    papers(engine, "2611.00001", "2611.00002", "2611.00003")
    papers(engine, "m2611.0001", category="math.OC")
    rec = Recorder(["m2611.0001", "2611.00001", "2611.00002", "2611.00003"], {"q": ["m2611.0001", "2611.00003"]})
    row = subscriber(engine, "a@example.org", categories=["cs"], searches=["q"], max_papers=2)
    _, [d] = compose(engine, rec, [row])
    assert d.arxiv_ids == ["2611.00001", "2611.00003"]  # half trending, half search; no math
    row2 = subscriber(engine, "b@example.org", categories=["math.OC"], max_papers=5)
    _, [d2] = compose(engine, rec, [row2])
    assert d2.arxiv_ids == ["m2611.0001"]


def test_an_archive_prefix_selects_its_dash_children_as_everywhere_else(engine):
    """`hep` selects hep-th and hep-ph, `math` selects math-ph (paperfeed.categories), not only `hep.*`."""
    papers(engine, "2611.00011", category="hep-th")
    papers(engine, "2611.00012", category="hep-ph")
    papers(engine, "2611.00013", category="math-ph")
    papers(engine, "2611.00014", category="cs.LG")
    rec = Recorder(["2611.00011", "2611.00012", "2611.00013", "2611.00014"], {})
    _, [d] = compose(engine, rec, [subscriber(engine, "hep@example.org", categories=["hep"])])
    assert d.arxiv_ids == ["2611.00011", "2611.00012"]
    _, [d2] = compose(engine, rec, [subscriber(engine, "m@example.org", categories=["MATH", "cs.lg"])])
    assert d2.arxiv_ids == ["2611.00013", "2611.00014"]  # names compare without regard to case


def test_work_is_shared_across_subscribers(engine):
    papers(engine, "2611.00001", "2611.00002", "2611.00003")
    rec = Recorder(["2611.00001"], {"a": ["2611.00002"], "b": ["2611.00003"]})
    rows = [subscriber(engine, f"s{i}@example.org", searches=["a", "b"] if i % 2 else ["b"]) for i in range(40)]
    rows.append(subscriber(engine, "weekly@example.org", frequency="weekly", searches=["a"],
                           confirmed_at=NOW - timedelta(days=10)))
    composer, digests = compose(engine, rec, rows)
    assert len(digests) == 41 and all(not d.empty for d in digests)
    assert rec.trending_calls == 2  # daily and weekly
    # one search per distinct query and kind of window (daily, weekly), whatever the subscribers' hours
    assert len(rec.search_calls) == len(set(rec.search_calls)) == 3
    late = subscriber(engine, "late@example.org", searches=["a"], hour=23, timezone="Pacific/Auckland",
                      last_window_end=NOW - timedelta(days=1, hours=7))
    composer.compose([late], [due(late, NOW)])
    assert len(rec.search_calls) == 3


def test_saved_queries_are_embedded_once_per_batch_before_searching(engine):
    papers(engine, "2611.00001", "2611.00002")
    rec = Recorder([], {"a": ["2611.00001"], "b": ["2611.00002"]})
    batches: list[list[str]] = []

    def encode(texts):
        assert not rec.search_calls or set(texts).isdisjoint(t for t, *_ in rec.search_calls)
        batches.append(list(texts))

    composer = Composer(engine, NOW, trending_fn=rec.trend, search_fn=rec.search, encode_fn=encode)
    first = [subscriber(engine, f"s{i}@example.org", searches=["a", "b"]) for i in range(3)]
    composer.compose(first, [due(r, NOW) for r in first])
    second = [subscriber(engine, "t@example.org", searches=["b", "c"])]
    composer.compose(second, [due(r, NOW) for r in second])
    assert batches == [["a", "b"], ["c"]]  # each query once, before its first search
    keyword_only = Composer(engine, NOW, search_mode="keyword", trending_fn=rec.trend, search_fn=rec.search,
                            encode_fn=encode)
    keyword_only.compose(first, [due(r, NOW) for r in first])
    assert len(batches) == 2  # keyword search embeds nothing


def test_a_large_batch_embeds_its_queries_in_slices_the_query_cache_holds(engine, monkeypatch):
    import paperfeed.digest.compose as compose_module

    monkeypatch.setattr(compose_module, "ENCODE_ROWS", 2)
    papers(engine, "2611.00001")
    rec = Recorder([], {})
    batches: list[list[str]] = []
    composer = Composer(engine, NOW, trending_fn=rec.trend, search_fn=rec.search, encode_fn=batches.append)
    rows = [subscriber(engine, f"s{i}@example.org", searches=[f"q{i}"]) for i in range(5)]
    composer.compose(rows, [due(r, NOW) for r in rows])
    assert batches == [["q0", "q1"], ["q2", "q3"], ["q4"]]


def listed(engine, day, *ids, category="cs.LG"):
    for a in ids:
        add_paper(engine, a, f"Paper {a}", categories=[category], published=NOW - timedelta(days=1), day=day)


def set_entry(engine, arxiv_id, **values):
    t = DailyEntry.__table__
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.arxiv_id == arxiv_id).values(**values))


def test_a_short_trending_list_is_filled_from_the_daily_list(engine):
    """Quiet days (issue 12, item 8): pinned first, then list order; hidden, sent and
    off-category papers left out; the section titled for what it holds."""
    today, yesterday = NOW.date(), NOW.date() - timedelta(days=1)
    listed(engine, today, "2611.00011", "2611.00012", "2611.00013", "2611.00014", "2611.00015")
    listed(engine, today, "m2611.0001", category="math.OC")
    listed(engine, yesterday, "2611.00021")
    set_entry(engine, "2611.00014", pinned=True)
    set_entry(engine, "2611.00012", hidden=True)
    papers(engine, "2611.00001")
    rec = Recorder(["2611.00001"], {})
    row = subscriber(engine, "a@example.org", categories=["cs"], max_papers=5)
    with engine.begin() as conn:
        conn.execute(insert(DigestSentPaper.__table__).values(subscriber_id=row.id, arxiv_id="2611.00013", period="D2026-11-19"))
    _, [d] = compose(engine, rec, [row])
    [section] = d.sections
    assert (section.kind, section.title) == ("trending", "Trending, then today's and yesterday's papers")
    assert d.arxiv_ids == ["2611.00001", "2611.00014", "2611.00011", "2611.00015", "2611.00021"]
    reasons = dict(section.entries)
    assert reasons["2611.00001"] == ["trending"] and reasons["2611.00011"] == ["listed today"]
    assert reasons["2611.00021"] == [f"listed {yesterday.isoformat()}"]

    only_list = subscriber(engine, "b@example.org", max_papers=2)
    _, [d2] = compose(engine, Recorder([], {}), [only_list])
    assert d2.sections[0].title == "Today's papers" and d2.arxiv_ids == ["2611.00014", "2611.00011"]
    weekly = subscriber(engine, "w@example.org", frequency="weekly", confirmed_at=NOW - timedelta(days=10))
    _, [d3] = compose(engine, Recorder([], {}), [weekly])
    assert d3.sections[0].title == "This week's papers" and "2611.00021" in d3.arxiv_ids


def test_a_full_trending_list_is_not_filled(engine):
    listed(engine, NOW.date(), "2611.00011")
    papers(engine, "2611.00001", "2611.00002")
    row = subscriber(engine, "a@example.org", max_papers=2)
    _, [d] = compose(engine, Recorder(["2611.00001", "2611.00002"], {}), [row])
    assert d.sections[0].title == "Trending" and d.arxiv_ids == ["2611.00001", "2611.00002"]


def test_workers_share_saved_searches_through_the_runs_file(engine, tmp_path):
    """Two composers (two workers of a run) with one `digest.shared` file: what one searched, the
    other adopts without searching; a search claimed elsewhere but never published (a worker that
    stopped) is run here, and a failed one is never passed on.  The digests are those of a
    composer alone."""
    from paperfeed.digest.shared import Shared

    papers(engine, "2611.00001", "2611.00002", "2611.00003", "2611.00004")
    results = {"a": ["2611.00002"], "b": ["2611.00003", "2611.00002"], "c": ["2611.00004"], "bad": ["2611.00001"]}
    rows = [subscriber(engine, f"s{i}@example.org", searches=[["a", "b"], ["b", "c"], ["bad", "a"]][i % 3])
            for i in range(6)]
    dues = [due(r, NOW) for r in rows]
    alone = Composer(engine, NOW, trending_fn=Recorder([], {}).trend, search_fn=Recorder([], results).search)
    want = [d.entries_json() for d in alone.compose(rows, dues)]

    class Failing(Recorder):
        def search(self, engine, text, mode, limit, after, before):
            if text == "bad":
                raise RuntimeError("index gone")
            return super().search(engine, text, mode, limit, after, before)

    path = tmp_path / "searches.sqlite"
    stopped = Shared(path, owner=1)  # claims "c" and dies before searching it
    first, second = Failing([], results), Recorder([], results)
    one = Composer(engine, NOW, trending_fn=first.trend, search_fn=first.search, shared=Shared(path, owner=2))
    [c_key] = [one.search_key("c", *k[1:]) for k in alone._searches if k[0] == "c"]
    assert stopped.claim([c_key]) == {c_key} and stopped.claim([c_key]) == set()
    one.compose(rows[:3], dues[:3])
    # "c" was claimed but is still unpublished: run here rather than waited for ("bad" failed)
    assert sorted(t for t, *_ in first.search_calls) == ["a", "b", "c"] and one.search_calls == 4
    two = Composer(engine, NOW, trending_fn=second.trend, search_fn=second.search, shared=Shared(path, owner=3))
    got = [d.entries_json() for d in two.compose(rows, dues)]
    assert [t for t, *_ in second.search_calls] == ["bad"]  # a failure is not passed on
    assert two.searches_adopted == 3
    assert got == want


def test_the_shared_searches_file_keeps_the_first_claim_and_the_first_results(tmp_path):
    from datetime import date

    from paperfeed.digest.shared import Shared

    k1, k2 = ("ssm", date(2026, 11, 17), date(2026, 11, 21)), ("ssm", date(2026, 11, 5), date(2026, 11, 21))
    a, b = Shared(tmp_path / "s.sqlite", owner=1), Shared(tmp_path / "s.sqlite", owner=2)
    assert a.claim([k1]) == {k1}
    assert b.claim([k1, k2]) == {k2}  # the same query over another window is another search
    assert a.published([k1, k2]) == {}
    b.publish({k1: ["2611.00002", "2611.00001"], k2: []})  # b ran a's search meanwhile
    a.publish({k1: ["2611.00009"]})
    assert a.published([k1, k2]) == b.published([k1, k2]) == {k1: ["2611.00002", "2611.00001"], k2: []}

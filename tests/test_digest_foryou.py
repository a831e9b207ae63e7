"""
The digest that knows the reader, sent for real over SMTP (aiosmtpd) from a
real (small) search index: a subscriber whose confirmed address is the
verified address of an account with a library gets "For you" (with the page's
why-lines, naming the saved papers) and "New from authors you follow" before
trending, exactly once; without a library, unverified, mistyped, disabled or
turned off, the digest is the one everybody gets, and no reader's why-lines
reach another's inbox.  Without the search extra the digest goes out without
the section.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from paperfeed.digest import outbox, subscriptions
from paperfeed.digest.personal import Personal
from paperfeed.library import follows, saved
from paperfeed.models import Dismissal
from tests.foryou_support import SAVED
from tests.library_support import add_user
from tests.webdata import add_paper, client

search = pytest.importorskip("paperfeed.search")

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
OLD = NOW - timedelta(days=400)
SITE = "https://papers.example.org"
SAVED_TITLES = [t for _, t, _ in SAVED]
ON_TOPIC = [
    ("2611.00001", "Selective State Space Models for Long-Context Language Modeling",
     "A selective state space model scales sequence modeling to million-token contexts with a parallel scan."),
    ("2611.00002", "State Space Sequence Models for Raw Audio",
     "We apply structured state space sequence models to long raw audio waveforms."),
    ("2611.00003", "Linear-Time Sequence Modeling with Diagonal State Spaces",
     "Diagonal state space layers match structured state spaces on long sequence modeling benchmarks."),
]
OFF_TOPIC = [
    ("2611.00004", "Galaxy Cluster Masses from Weak Gravitational Lensing",
     "We measure the masses of galaxy clusters using weak lensing shear profiles from survey imaging."),
    ("2611.00005", "Protein Structure Prediction with Evolutionary Couplings",
     "Coevolution of residues in protein families predicts contacts and the folded three-dimensional structure."),
    ("2611.00006", "Graph Colouring Bounds for Sparse Random Graphs",
     "We prove new upper bounds on the chromatic number of sparse Erdos-Renyi random graphs."),
    ("2611.00007", "Supergravity Solutions with Anti-de Sitter Asymptotics",
     "We construct supergravity solutions in five dimensions that approach anti-de Sitter spacetime."),
    ("2611.00008", "Monetary Policy Shocks and Household Consumption",
     "Household survey data show how interest rate shocks change consumption of durable goods."),
]
TOPIC = {p[0] for p in ON_TOPIC}
TRENDING = {"2611.00004": 30, "2611.00005": 20, "2611.00006": 10}  # upvoted today: the trending section
FOLLOWED = "Vera Rubin"  # an author of the galaxy paper (2611.00004) and of a hidden one (2611.00007)


@pytest.fixture
def corpus(engine, data_dir):
    for arxiv_id, title, abstract in SAVED:
        add_paper(engine, arxiv_id, title, abstract=abstract, published=OLD)
    for n, (arxiv_id, title, abstract) in enumerate(ON_TOPIC + OFF_TOPIC):
        authors = [f"Author {n}", FOLLOWED] if arxiv_id in ("2611.00004", "2611.00007") else [f"Author {n}"]
        votes = TRENDING.get(arxiv_id, 0)
        add_paper(engine, arxiv_id, title, abstract=abstract, published=NOW - timedelta(days=1, hours=n),
                  day=NOW.date() if votes else None, upvotes=votes, authors=authors)
    search.update_index(engine)


def reader(engine, name: str, email: str, *, verified: bool = True, library: bool = True, **values) -> int:
    uid = add_user(engine, name, email, email_verified_at=NOW - timedelta(days=1) if verified else None, **values)
    if library:
        with engine.begin() as conn:
            for arxiv_id, _, _ in SAVED:
                saved.save(conn, uid, arxiv_id)
    return uid


def subscribe(engine, email: str, **prefs) -> int:
    return subscriptions.subscribe(engine, email, confirmed=True, now=NOW - timedelta(days=3), hour=0,
                                   **prefs).subscriber_id


def run(engine, days: int = 0):
    report = outbox.run(engine, now=NOW + timedelta(days=days, minutes=5))
    assert report.failed == 0 and not report.stopped, report.line()
    return report


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def sections(text: str) -> dict[str, str]:
    """Section heading -> its part of the plain-text digest."""
    parts = re.split(r"\n\n([A-Z][A-Z ,'\"’]+[A-Z\"])\n(?=\* )", text.split("\n--\n")[0])
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def ids_in(part: str) -> list[str]:
    return re.findall(r"/papers/(\d{4}\.\d{5})", part)


def test_a_linked_reader_gets_for_you_with_why_lines_exactly_once(engine, smtp, corpus):
    uid = reader(engine, "ada", "Ada@Example.org ")  # trimmed and case-folded, the address matches
    with engine.begin() as conn:
        follows.follow_author(conn, uid, FOLLOWED)
    subscribe(engine, "ada@example.org")
    subscribe(engine, "plain@example.org")  # no account: the digest as before
    assert run(engine).sent == 2

    [mail] = smtp.handler.to("ada@example.org")
    text = text_of(mail)
    parts = sections(text)
    assert list(parts)[:3] == ["FOR YOU", "NEW FROM AUTHORS YOU FOLLOW", "TRENDING"], list(parts)
    foryou = ids_in(parts["FOR YOU"])
    assert set(foryou) == TOPIC, foryou  # the library's topic, and only papers that fit it
    for title in SAVED_TITLES:
        assert title not in parts["TRENDING"]
    assert any(title in parts["FOR YOU"] for title in SAVED_TITLES)
    assert re.search(r"Why: Close to “[^”]+”(, “[^”]+”)* in your library", parts["FOR YOU"])
    assert "2611.00007" in ids_in(parts["NEW FROM AUTHORS YOU FOLLOW"])  # not trending: only the follow brings it
    assert f"By {FOLLOWED}, an author you follow" in parts["NEW FROM AUTHORS YOU FOLLOW"]
    assert "2611.00004" in ids_in(text) and f"By {FOLLOWED}, an author you follow; trending" in text
    every = ids_in(text)
    assert len(every) == len(set(every)), every  # each paper once
    assert not set(every) & {p[0] for p in SAVED}  # the library itself is not news
    html = mail.get_body(("html",)).get_content()
    assert "For you" in html and "in your library" in html and "verified address" in html
    assert mail["List-Unsubscribe"]

    [other] = smtp.handler.to("plain@example.org")
    other_text = text_of(other)
    assert list(sections(other_text)) == ["TRENDING"]
    assert "in your library" not in other_text and "you follow" not in other_text

    # exactly once: running again sends nothing, and the next day repeats no paper
    assert run(engine).sent == 0
    add_paper(engine, "2611.00009", "Hungry Hungry Hippos: State Space Language Models",
              abstract="State space models for language modeling with a selective parallel scan.",
              published=NOW + timedelta(hours=2))
    search.update_index(engine)
    run(engine, days=1)
    mails = smtp.handler.to("ada@example.org")
    assert len(mails) == 2
    second = ids_in(text_of(mails[1]))
    assert "2611.00009" in second and not set(second) & set(every)


def test_unverified_mistyped_or_disabled_accounts_give_nobody_their_why_lines(engine, smtp, corpus):
    reader(engine, "bob", "bob@example.org", verified=False)
    reader(engine, "carol", "carol@example.org")
    reader(engine, "dan", "dan@example.org", disabled_at=NOW)
    reader(engine, "erin", "erin@example.org", library=False)  # verified, nothing saved or followed
    for address in ("bob@example.org", "carol@exampel.org", "dan@example.org", "erin@example.org"):
        subscribe(engine, address)
    assert run(engine).sent == 4
    for address in ("bob@example.org", "carol@exampel.org", "dan@example.org", "erin@example.org"):
        [mail] = smtp.handler.to(address)
        text = text_of(mail)
        assert list(sections(text)) == ["TRENDING"], (address, list(sections(text)))
        assert not any(title in text for title in SAVED_TITLES), address
        assert "in your library" not in text and "verified address" not in text


def test_dismissed_papers_never_come_and_the_preference_turns_it_off(engine, smtp, corpus):
    uid = reader(engine, "ada", "ada@example.org")
    sid = subscribe(engine, "ada@example.org")
    with engine.begin() as conn:
        for arxiv_id in ("2611.00001", "2611.00005"):  # one For you would bring, one trending
            conn.execute(insert(Dismissal.__table__).values(user_id=uid, arxiv_id=arxiv_id, created_at=NOW))
    web = client(engine)
    manage = f"/preferences?token={subscriptions.make_token('manage', sid, 'ada@example.org')}"
    preview = web.get(manage.replace("/preferences", "/digest/preview"))
    assert preview.status_code == 200 and "For you" in preview.text
    run(engine)
    [mail] = smtp.handler.to("ada@example.org")
    text = text_of(mail)
    parts = sections(text)
    assert set(ids_in(parts["FOR YOU"])) == TOPIC - {"2611.00001"}, list(parts)
    assert "2611.00001" not in ids_in(text) and "2611.00005" not in ids_in(text)  # hidden from the whole digest

    # the box unticked: the next digest is the plain one, though a new paper fits the library
    page = web.get(manage)
    assert page.status_code == 200 and 'name="for_you" value="on" checked' in page.text
    form = {"frequency": "daily", "hour": "0", "timezone": "UTC", "weekday": "0", "max_papers": "10",
            "categories": ""}
    assert web.post(manage, data=form | {"for_you": ["off"]}).status_code == 200
    assert subscriptions.find(engine, "ada@example.org").for_you is False
    add_paper(engine, "2611.00009", "Hungry Hungry Hippos: State Space Language Models",
              abstract="State space models for language modeling with a selective parallel scan.",
              published=NOW + timedelta(hours=2))
    add_paper(engine, "2611.00010", "A much discussed survey of recommender systems", published=NOW,
              day=(NOW + timedelta(days=1)).date(), upvotes=40)
    search.update_index(engine)
    run(engine, days=1)
    mails = smtp.handler.to("ada@example.org")
    assert len(mails) == 2
    assert list(sections(text_of(mails[1]))) == ["TRENDING"] and "2611.00009" not in text_of(mails[1])

    # ticked again (a form without the field leaves it as it is): For you is back
    assert web.post(manage, data=form | {"for_you": ["off", "on"]}).status_code == 200
    assert web.post(manage, data=form).status_code == 200
    assert subscriptions.find(engine, "ada@example.org").for_you is True
    run(engine, days=2)
    mails = smtp.handler.to("ada@example.org")
    assert len(mails) == 3
    assert ids_in(sections(text_of(mails[2]))["FOR YOU"]) == ["2611.00009"]


def test_personal_work_is_only_for_linked_subscribers(engine, corpus):
    """A batch with no linked subscriber builds no window; linked ones share one per frequency."""
    reader(engine, "ada", "ada@example.org")
    for address in ("a@example.org", "b@example.org", "ada@example.org"):
        subscribe(engine, address)
    with engine.connect() as conn:
        rows = {r.email: r for r in conn.execute(select(subscriptions.subscribers)).all()}
    personal = Personal(engine, NOW + timedelta(hours=1))
    assert personal.readers([rows["a@example.org"], rows["b@example.org"]], lambda f: NOW - timedelta(days=4)) == {}
    assert personal._windows == {}
    mine = personal.readers(list(rows.values()), lambda f: NOW - timedelta(days=4))
    assert list(mine) == [rows["ada@example.org"].id] and len(personal._windows) == 1
    assert {a for a, _ in mine[rows["ada@example.org"].id].foryou} == TOPIC


def test_why_lines_are_named_only_for_the_papers_a_digest_takes(engine, corpus, monkeypatch):
    """The digest ranks three times what it shows; naming shared terms waits until a paper is taken,
    and the lines then name the saved papers by title, as the page does."""
    from paperfeed.digest.compose import Composer
    from paperfeed.recommend import ranking

    reader(engine, "ada", "ada@example.org")
    sid = subscribe(engine, "ada@example.org", max_papers=2)
    named = []
    explain = ranking.explain
    monkeypatch.setattr(ranking, "explain", lambda rec, about=None: named.append(rec.arxiv_id) or explain(rec, about))
    now = NOW + timedelta(minutes=5)
    composer = Composer(engine, now)
    [(rows, dues)] = list(outbox.due_batches(engine, now, now.date()))
    readers = composer.personal.readers(rows, composer.personal_since)
    assert {a for a, _ in readers[sid].foryou} == TOPIC and named == []  # ranked, nothing named yet
    [digest] = composer.compose(rows, dues)
    [foryou] = [s for s in digest.sections if s.kind == "foryou"]
    assert len(foryou.entries) == 1 and named == [foryou.entries[0][0]]  # 2 papers: 1 For you, 1 trending
    lines = foryou.entries[0][1]
    assert lines[0].startswith("Close to “") and any(f"“{t}”" in lines[0] for t in SAVED_TITLES), lines
    assert any(line.startswith("Shares ") for line in lines), lines


def test_without_the_search_extra_the_digest_goes_out_without_for_you(data_dir, smtp, monkeypatch):
    """A base install (no numpy): `digest send --dry-run` and `digest send` work, no traceback."""
    from paperfeed import db
    from tests.test_search_extra import paperfeed

    monkeypatch.delenv("PAPERFEED_DATABASE_URL", raising=False)
    engine = db.connect()
    add_paper(engine, "2611.00004", "Galaxy Cluster Masses from Weak Gravitational Lensing",
              published=NOW - timedelta(days=1), day=NOW.date(), upvotes=5, authors=[FOLLOWED])
    add_paper(engine, "2611.00007", "Supergravity Solutions with Anti-de Sitter Asymptotics",
              published=NOW - timedelta(days=1), authors=[FOLLOWED])
    add_paper(engine, "2312.00752", SAVED_TITLES[0], published=OLD)
    uid = reader(engine, "ada", "ada@example.org", library=False)
    with engine.begin() as conn:
        saved.save(conn, uid, "2312.00752")
        follows.follow_author(conn, uid, FOLLOWED)
    subscribe(engine, "ada@example.org")
    engine.dispose()

    dry = paperfeed("digest", "send", "--dry-run", "--date", NOW.date().isoformat(), data_dir=data_dir)
    assert dry.returncode == 0 and "Traceback" not in dry.stderr, dry.stderr
    assert "ada@example.org" in dry.stdout and "2611.00004" in dry.stdout, dry.stdout
    sent = paperfeed("digest", "send", "--date", NOW.date().isoformat(), data_dir=data_dir)
    assert sent.returncode == 0 and "Traceback" not in sent.stderr, sent.stderr
    assert "1 sent" in sent.stdout
    [mail] = smtp.handler.to("ada@example.org")
    parts = sections(text_of(mail))
    assert "FOR YOU" not in parts and "NEW FROM AUTHORS YOU FOLLOW" in parts, list(parts)  # follows need no numpy
    assert "in your library" not in text_of(mail)


def test_worker_processes_queue_the_digests_one_process_composes_exactly_once(engine, smtp, corpus, monkeypatch):
    """`digest send` composing on two worker processes (batches of 2 subscribers here) queues and
    sends what one process composes: the same sections, why-lines included, one mail each."""
    from paperfeed.digest import parallel
    from paperfeed.digest.compose import Composer
    from paperfeed.models import DigestOutbox

    uid = reader(engine, "ada", "ada@example.org")
    with engine.begin() as conn:
        follows.follow_author(conn, uid, FOLLOWED)
    reader(engine, "bob", "bob@example.org", library=False)
    addresses = ["ada@example.org", "bob@example.org", *(f"plain{i}@example.org" for i in range(3))]
    for address in addresses:
        subscribe(engine, address, max_papers=3 if address.startswith("plain1") else 10)
    now = NOW + timedelta(minutes=5)
    composer = Composer(engine, now, full=False)
    want = {d.subscriber_id: d.entries_json()
            for rows, dues in outbox.due_batches(engine, now, batch=2) for d in composer.compose(rows, dues)}
    assert len(want) == len(addresses) and any(e["kind"] == "foryou" for es in want.values() for e in es)

    pools, pool = [], parallel.ProcessPoolExecutor
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", lambda n, **kw: pools.append(n) or pool(n, **kw))
    monkeypatch.setenv("PAPERFEED_DIGEST_WORKERS", "2")
    report = outbox.run(engine, now=now, batch=2)
    assert pools == [2]  # 3 batches: composed by two workers
    assert report.queued == len(addresses) and report.sent == len(addresses) and report.failed == 0, report.line()
    with engine.connect() as conn:
        got = {r.subscriber_id: r.entries for r in conn.execute(select(DigestOutbox.__table__))}
    assert got == want
    assert sorted(to for m in smtp.handler.messages for to in m.rcpt_tos) == sorted(addresses)
    assert outbox.run(engine, now=now, batch=2).queued == 0  # nothing composed twice
    assert len(smtp.handler.messages) == len(addresses)


def test_a_run_reads_each_batch_when_it_composes_it(engine):
    """Composing does not read the whole run's subscribers first: a long run composes each batch
    from rows read just before (a subscriber's changed preferences count), whether on workers or not."""
    from paperfeed.digest import parallel

    read = []

    def batches():
        for i in range(5):
            read.append(i)
            yield [], []

    run = parallel.composed(engine, NOW, batches(), processes=1)
    assert next(run) == ([], []) and read == [0, 1]  # the batches that decide whether workers start
    assert next(run) == ([], []) and read == [0, 1]
    assert next(run) == ([], []) and read == [0, 1, 2]
    run.close()
    assert read == [0, 1, 2]

"""
Mojibake repair: the bundled arXiv API sample's double-encoded names are fixed
on ingest, logged and counted; correct text in any script is left alone; and
papers stored before migration 0006 are repaired (and get their links) once,
on upgrade.
"""

from __future__ import annotations

import orjson
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from paperfeed import db
from paperfeed.cli import cli
from paperfeed.ingest import repairs
from paperfeed.ingest.records import PaperRecord
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import Paper
from paperfeed.ops.demo import SAMPLES

ATOM = SAMPLES / "arxiv-api-search-testing.xml"


@pytest.mark.parametrize(
    "correct",
    [
        "C. Lämmerzahl",
        "Anders Ångström",
        "Jürgen Groß, Søren Kierkegaard, Zoë Saldaña, Nguyễn Văn An",
        "张伟, 王芳",
        "基于深度学习的图像分割方法研究",
        "Ёлка и ёжик: Привет",
        "We show that $\\sum_{i=1}^n x_i^2 \\leq \\|x\\|_2^2$ for all $x \\in \\mathbb{R}^n$, "
        "with ε → 0, α ∈ [0, 1], ∀ δ > 0 ∃ N: |a_n − L| < δ, and ⟨ψ|Ĥ|ψ⟩ ≥ E₀ ± 10⁻³ Å.",
        "“Curly quotes” — dashes – and ligatures ﬁ stay, &amp; entities too",
        "Café à la carte: naïve façade, coöperate, résumé",
        "Ã is a letter in Portuguese: São Paulo, Ãgua is not a word but Â is fine",
    ],
)
def test_correct_text_is_unchanged(correct):
    assert repairs.fix(correct) == correct


@pytest.mark.parametrize(
    "broken, fixed",
    [
        ("C. LÃ¤mmerzahl", "C. Lämmerzahl"),
        ("Oliver WeiÃ\x9fl", "Oliver Weißl"),
        ("SÃ³lrÃºn EinarsdÃ³ttir", "Sólrún Einarsdóttir"),
        ("$Ï\x89$Test: WebView-Oriented Testing", "$ω$Test: WebView-Oriented Testing"),
        ("donâ€™t", "don’t"),
    ],
)
def test_mojibake_is_repaired(broken, fixed):
    assert repairs.suspect(broken)
    assert repairs.fix(broken) == fixed


def test_record_repairs_name_each_field():
    rec = PaperRecord("2401.00001", "x", title="ZÃ¼rich", authors=["Ann", "JosÃ© RaÃºl"], abstract="plain")
    done = repairs.repair_record(rec)
    assert (rec.title, rec.authors, rec.abstract) == ("Zürich", ["Ann", "José Raúl"], "plain")
    assert [(r.field, r.before, r.after) for r in done] == [
        ("title", "ZÃ¼rich", "Zürich"), ("authors", "JosÃ© RaÃºl", "José Raúl")
    ]


def test_ingest_repairs_logs_and_counts(engine, data_dir):
    summary = ingest_sources([str(ATOM)], engine=engine)
    assert summary.repaired > 20
    assert summary.line().endswith(f", repaired {summary.repaired}")
    assert summary.line().startswith("read 100, new 100, updated 0, unchanged 0, rejected 0")
    with engine.connect() as conn:
        names = [a for authors in conn.execute(select(Paper.authors)).scalars() for a in authors]
    assert "C. Lämmerzahl" in names and "Oliver Weißl" in names
    assert not [n for n in names if repairs.suspect(n)]
    logged = [orjson.loads(line) for line in (data_dir / "repairs.jsonl").read_bytes().splitlines()]
    assert len(logged) == summary.repaired
    entry = next(e for e in logged if e["after"] == "C. Lämmerzahl")
    assert entry["before"] == "C. LÃ¤mmerzahl" and entry["field"] == "authors" and entry["arxiv_id"]
    again = ingest_sources([str(ATOM)], engine=engine)  # repaired the same way: nothing changes
    assert (again.new, again.updated, again.unchanged) == (0, 0, 100)


def test_cli_summary_counts_repairs(data_dir, db_url):
    result = CliRunner().invoke(cli, ["ingest", str(ATOM)])
    assert result.exit_code == 0, result.output
    assert "read 100, new 100, updated 0, unchanged 0, rejected 0, repaired " in result.output


def test_upgrade_repairs_and_links_stored_papers(data_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = db.alembic_config(url)
    command.upgrade(cfg, "0005")  # a database from before 0006, with papers in it
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(text(
            "INSERT INTO papers (arxiv_id, versions, title, authors, abstract, categories, sources, content_hash,"
            " revision, comments) VALUES ('2401.00001', '[]', 'Ãœber alles', '[\"C. LÃ¤mmerzahl\", \"Bo\"]',"
            " 'Fine text. Code: https://github.com/a/b.', '[]', '{}', 'x', 1,"
            " 'Project page: https://a.github.io/b/'),"
            " ('2401.00002', '[]', 'Plain', '[\"Ann\"]', 'Nothing here.', '[]', '{}', 'y', 1, NULL)"
        ))
        conn.execute(text("INSERT INTO paper_authors (arxiv_id, position, short, key) VALUES ('2401.00001', 0, 'x', 'x')"))
    old.dispose()
    engine = db.connect(url)  # upgrades to head
    with engine.connect() as conn:
        rows = {r.arxiv_id: r for r in conn.execute(select(Paper.__table__))}
        indexed = conn.execute(text("SELECT count(*) FROM paper_authors WHERE arxiv_id = '2401.00001'")).scalar()
    fixed, plain = rows["2401.00001"], rows["2401.00002"]
    assert fixed.title == "Über alles" and fixed.authors == ["C. Lämmerzahl", "Bo"]
    assert fixed.revision == 2 and fixed.content_hash != "x"
    assert fixed.links == [{"kind": "project", "url": "https://a.github.io/b/"},
                           {"kind": "code", "url": "https://github.com/a/b"}]
    assert indexed == 2  # the library's author index was rewritten with the repaired names
    assert (plain.title, plain.revision, plain.content_hash, plain.links) == ("Plain", 1, "y", None)
    logged = [orjson.loads(line) for line in (data_dir / "repairs.jsonl").read_bytes().splitlines()]
    assert {(e["field"], e["after"]) for e in logged} == {("title", "Über alles"), ("authors", "C. Lämmerzahl")}

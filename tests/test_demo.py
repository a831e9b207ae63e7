"""`paperfeed demo`: the README's first command loads the bundled corpus and makes it searchable."""

from __future__ import annotations

from click.testing import CliRunner

from paperfeed import db, search
from paperfeed.cli import cli
from paperfeed.ops.stats import collect


def test_demo_loads_indexes_and_refuses_foreign_directories(tmp_path, monkeypatch):
    target = tmp_path / "demo"
    # run_demo points PAPERFEED_* at the demo directory; monkeypatch undoes it after the test
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PAPERFEED_DATABASE_URL", "")
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(target), "--no-serve"])
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{(target / 'paperfeed.db').resolve()}"
    engine = db.connect(url)
    try:
        stats = collect(engine)
        assert stats.papers == 356 and stats.daily_entries == 50
        hits = search.search(engine, '"graph decompositions"', mode="keyword", limit=3, index_dir=target / "index").hits
        assert [h.arxiv_id for h in hits][:1] == ["0704.0002"]
    finally:
        db.dispose(url)

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    refused = CliRunner().invoke(cli, ["demo", "--data-dir", str(other), "--no-serve"])
    assert refused.exit_code != 0 and "not a paperfeed demo directory" in refused.output
    assert (other / "notes.txt").read_text() == "keep me"

"""Kaggle snapshot ingestion, bad input, and kill-and-rerun convergence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed import db
from paperfeed.cli import cli
from paperfeed.ingest.records import MAX_ABSTRACT
from paperfeed.ingest.run import ingest_sources
from paperfeed.models import Paper
from tests.conftest import shared_data


def sample_lines() -> list[dict]:
    return [json.loads(line) for line in shared_data("arxiv-kaggle-sample.jsonl").open()]


def dump(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(Paper.arxiv_id, Paper.content_hash, Paper.sources).order_by(Paper.arxiv_id))
        return [tuple(r[:2]) + (json.dumps(r[2], sort_keys=True),) for r in rows]


def test_sample_ingests_with_fields(engine):
    summary = ingest_sources([str(shared_data("arxiv-kaggle-sample.jsonl"))], engine=engine)
    assert (summary.read, summary.new, summary.rejected, summary.exit_status) == (200, 200, 0, 0)
    with engine.connect() as conn:
        p = conn.execute(select(Paper).where(Paper.arxiv_id == "0704.0001")).mappings().one()
    assert p["title"] == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert p["authors"] == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert p["version"] == 2
    assert [v["version"] for v in p["versions"]] == [1, 2]
    assert p["versions"][0]["created"].startswith("2007-04-02T19:18:42")
    assert p["published"].isoformat().startswith("2007-04-02T19:18:42")
    assert p["categories"] == ["hep-ph"] and p["primary_category"] == "hep-ph"
    assert p["doi"] == "10.1103/PhysRevD.76.013009"
    assert p["abstract"].startswith("A fully differential calculation")
    assert p["sources"]["title"] == "kaggle"


def test_ingesting_twice_changes_nothing(engine):
    path = str(shared_data("arxiv-kaggle-sample.jsonl"))
    ingest_sources([path], engine=engine)
    before = dump(engine)
    again = ingest_sources([path], engine=engine)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 200)
    assert dump(engine) == before


def test_newer_version_updates_and_older_never_overwrites(engine, tmp_path):
    rec = sample_lines()[0]  # 0704.0001, v1 and v2
    v3 = dict(rec, title="A newer title", versions=rec["versions"] + [{"version": "v3", "created": "Wed, 1 Jan 2020 00:00:00 GMT"}])
    v1 = dict(rec, title="An old title", doi=None, versions=rec["versions"][:1])
    for name, record in (("base", rec), ("v3", v3), ("v1", v1)):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps(record) + "\n")
    ingest_sources([str(tmp_path / "base.jsonl")], engine=engine)
    s = ingest_sources([str(tmp_path / "v3.jsonl")], engine=engine)
    assert s.updated == 1
    s = ingest_sources([str(tmp_path / "v1.jsonl")], engine=engine)
    assert s.updated == 0 and s.unchanged == 1
    with engine.connect() as conn:
        p = conn.execute(select(Paper).where(Paper.arxiv_id == "0704.0001")).mappings().one()
    assert p["title"] == "A newer title" and p["version"] == 3
    assert [v["version"] for v in p["versions"]] == [1, 2, 3]
    assert p["doi"] == "10.1103/PhysRevD.76.013009"


def test_versioned_id_in_record_is_canonicalised(engine, tmp_path):
    rec = dict(sample_lines()[1], id="https://arxiv.org/abs/0704.0002v2")
    (tmp_path / "a.jsonl").write_text(json.dumps(rec) + "\n")
    ingest_sources([str(tmp_path / "a.jsonl")], engine=engine)
    with engine.connect() as conn:
        assert conn.scalar(select(Paper.arxiv_id)) == "0704.0002"


def mixed_file(path, good: list[dict]) -> dict[int, str]:
    """Good records interleaved with every kind of bad line; returns {line: expected reason}."""
    bad = {
        2: b'{"id": "0801.0001", "abstract": "unterminated',
        4: orjson.dumps({"id": "0801.0002", "title": 42, "abstract": "x", "versions": []}),
        6: orjson.dumps({"title": "no id", "abstract": "an abstract", "versions": []}),
        8: orjson.dumps({"id": "0801.0003", "title": "no abstract", "versions": []}),
        10: b'{"id": "0801.0004", "abstract": "bad \xff\xfe bytes", "versions": []}',
        12: orjson.dumps({"id": "0801.0005", "abstract": "y" * (MAX_ABSTRACT + 1), "versions": []}),
        14: orjson.dumps({"id": "not-an-id", "abstract": "z", "versions": []}),
        16: orjson.dumps({"id": "0801.0006", "authors": {"x": 1}, "abstract": "z", "versions": []}),
        18: b"[1, 2, 3]",
        20: orjson.dumps({"id": "0801.0007", "abstract": "v", "versions": [{"version": "vX"}]}),
    }
    reasons = {2: "JSON", 4: "title must be text", 6: "missing id", 8: "missing abstract", 10: "UTF-8",
               12: "abstract longer", 14: "not an arXiv id", 16: "authors must be", 18: "JSON object",
               20: "bad version", 23: "truncated"}
    lines = []
    goods = iter(good)
    for n in range(1, 23):
        lines.append(bad[n] if n in bad else orjson.dumps(next(goods)))
    lines.append(b'{"id": "0801.0008", "abstract": "cut off mid-re')  # line 23, no newline
    path.write_bytes(b"\n".join(lines))
    return reasons


def test_bad_records_are_reported_and_good_ones_land(engine, tmp_path, data_dir):
    good = sample_lines()[:12]
    path = tmp_path / "mixed.jsonl"
    reasons = mixed_file(path, good)
    summary = ingest_sources([str(path)], engine=engine)
    assert summary.read == 12 and summary.new == 12
    assert summary.rejected == len(reasons) and summary.exit_status == 1
    logged = [json.loads(line) for line in (data_dir / "rejects.jsonl").read_text().splitlines()]
    by_line = {int(r["location"].split()[1]): r for r in logged}
    assert set(by_line) == set(reasons)
    for line, why in reasons.items():
        assert why in by_line[line]["reason"], (line, by_line[line])
        assert by_line[line]["source"] == str(path)
    assert len(dump(engine)) == 12


def test_cli_exit_statuses(db_url, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(sample_lines()[0]) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"not json\n{also not\n")
    runner = CliRunner()
    ok = runner.invoke(cli, ["ingest", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "new 1" in ok.output
    mixed = runner.invoke(cli, ["ingest", str(good), str(bad)])
    assert mixed.exit_code == 1
    nothing = runner.invoke(cli, ["ingest", str(bad), str(tmp_path / "missing.jsonl")])
    assert nothing.exit_code == 2
    assert "no such file" in nothing.output


def big_file(path, copies: int) -> int:
    """The real sample, repeated under fresh ids: realistic records, any count."""
    base = sample_lines()
    n = 0
    with path.open("wb") as f:
        for c in range(copies):
            for i, rec in enumerate(base):
                f.write(orjson.dumps(dict(rec, id=f"{1001 + c:04d}.{i:05d}")) + b"\n")
                n += 1
    return n


def run_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "paperfeed.cli", *args], env=env, **kw)


def wait_until_gone(marker: str, seconds: float = 15) -> bool:
    """True once no process has `marker` on its command line (Linux /proc)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker.encode() in cmdline.read_bytes():
                    alive.append(cmdline)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
def test_sigkill_mid_ingest_then_rerun_matches_clean_run(db_url, tmp_path):
    path = tmp_path / "big.jsonl"
    total = big_file(path, 60)  # 12,000 records
    env = dict(os.environ, PAPERFEED_DATABASE_URL=db_url, PAPERFEED_BATCH_SIZE="200")
    engine = db.connect(db_url)
    proc = run_cli(["ingest", str(path)], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stored = len(dump(engine))
        if stored >= 600:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_until_gone(str(path)), "a reader process outlived the killed ingest"
    partial = len(dump(engine))
    assert 0 < partial < total, "the kill should land mid-ingest"
    rerun = run_cli(["ingest", str(path)], env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    ingest_sources([str(path)], engine=db.connect(clean_url))
    assert dump(engine) == dump(db.connect(clean_url))
    assert len(dump(engine)) == total
    db.dispose(clean_url)

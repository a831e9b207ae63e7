"""
The API fuzzed with schemathesis (issue #12): every operation in
`/api/openapi.json`, with `--checks all`, against the real app serving the
corpus the other API tests read.  It fails on any server error and on any
answer the schema does not describe (a status, a content type, a body, an
`Allow` header), or a schema-valid request the code refuses.

It runs the `st run` command a person or CI would run, in a subprocess, against
the app served by uvicorn in this process, so its output (printed when it
fails) is schemathesis's own failure summary, each failure with a `curl` line
to reproduce it.  Bounded: `PAPERFEED_FUZZ_EXAMPLES` examples per operation
(default 30) and `PAPERFEED_FUZZ_SECONDS` for the whole run (default 75); the
seed is fixed (`PAPERFEED_FUZZ_SEED`), so a failure reproduces.  Mail goes to
a local aiosmtpd server, and the test checks that no fuzzed request sent any.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests import corpus
from tests.server import paperfeed_app, serve

pytest.importorskip("schemathesis")

EXAMPLES = int(os.environ.get("PAPERFEED_FUZZ_EXAMPLES", "30"))
SECONDS = int(os.environ.get("PAPERFEED_FUZZ_SECONDS", "75"))
SEED = os.environ.get("PAPERFEED_FUZZ_SEED", "20261003")


def st_run(url: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()",
        "run", f"{url}/api/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES),
        "--max-time", str(SECONDS),
        "--seed", SEED,
        "--request-timeout", "30",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"}
    # the wall-clock bound: --max-time budgets generation, this stops anything else
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=SECONDS + 120)


def test_every_operation_passes_every_check(engine, tmp_path, smtp):
    corpus.load(engine, tmp_path)
    app = paperfeed_app(engine)
    operations = [
        (method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    ]
    assert operations, "the schema lists no operation"
    with serve(app) as url:
        run = st_run(url)
    output = run.stdout + run.stderr
    print(output)  # shown by pytest when the test fails
    # from the first failure (each with a curl line to reproduce it) to the summary's end
    start = output.find("FAILURES") if "FAILURES" in output else output.find("SUMMARY")
    report = output[max(start - 40, 0) :][-20000:]
    assert run.returncode == 0, f"schemathesis found failures (exit {run.returncode}):\n{report}"
    tested = re.search(r"Tested: (\d+)", output)
    assert tested and int(tested[1]) == len(operations), f"not every operation was tested:\n{report}"
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    assert cases and cases[1] == cases[2], report
    assert not smtp.messages, "a fuzzed request sent mail"

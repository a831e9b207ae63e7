"""
Cold start: what a fresh process pays before its first answer, for two checkouts.

- `paperfeed --help`: wall time of the whole command (interpreter start included);
- the first `paperfeed search` in a fresh process, on the demo corpus (the
  bundled samples, indexed by `paperfeed demo --no-serve`): wall time of the
  command, which imports the search engine and loads the query encoder;
- a fresh web worker (`paperfeed serve`, one worker, digest scheduler off): the
  time of its first `/papers?q=...` search once `/healthz` answers, and the
  worker's resident memory (VmRSS) before and after that search.

Each checkout runs with the same interpreter (PYTHONPATH=CHECKOUT), the same
data directory and the same index, one after the other, `--runs` times; the
medians are printed.  The index is built once, by the last checkout given
(it must be able to read it: both here share the index format).

    python benchmarks/cold_start.py --checkout before=/work/main --checkout after=.
    python benchmarks/cold_start.py --checkout after=. --runs 3

Ends with `name: value` headline lines (seconds, MiB).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

QUERY = "neural networks for image recognition"
CLI = "from paperfeed.cli import main; import sys; sys.argv[0] = 'paperfeed'; main()"


def env_for(checkout: Path, data: Path) -> dict[str, str]:
    return dict(
        os.environ, PYTHONPATH=str(checkout), PAPERFEED_DATA_DIR=str(data),
        PAPERFEED_DATABASE_URL=f"sqlite:///{data / 'paperfeed.db'}", PAPERFEED_DIGEST_SCHEDULER="false",
        HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
    )


def paperfeed(checkout: Path, data: Path, *args: str, check: bool = True) -> float:
    """Wall seconds of `paperfeed ARGS` run from `checkout`."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CLI, *args], env=env_for(checkout, data),
                          capture_output=True, text=True, cwd=data)
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"paperfeed {' '.join(args)} failed in {checkout}:\n{done.stderr[-2000:]}")
    return seconds


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 120) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        answer.read()
        return answer.status


def web_first_search(checkout: Path, data: Path) -> tuple[float, float, float]:
    """(seconds of the first search, RSS MiB before it, RSS MiB after it) of a fresh worker."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--port", str(port)],
                              env=env_for(checkout, data), cwd=data,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                get(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"the server from {checkout} did not start")
        before = rss_mib(server.pid)
        started = time.perf_counter()
        status = get(f"{base}/papers?q={urllib.request.quote(QUERY)}")
        seconds = time.perf_counter() - started
        assert status == 200, status
        return seconds, before, rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", action="append", required=True, metavar="NAME=PATH",
                        help="a source tree to measure, e.g. before=/work/main (repeatable)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement")
    parser.add_argument("--data", type=Path, help="a data directory holding the indexed demo corpus (kept)")
    args = parser.parse_args()
    checkouts = {}
    for item in args.checkout:
        name, _, path = item.partition("=")
        checkouts[name] = Path(path).resolve()
    data = args.data or Path(tempfile.mkdtemp(prefix="pf-cold-start-")) / "demo"
    if not (data / "index" / "CURRENT").exists():
        builder = list(checkouts.values())[-1]
        data.parent.mkdir(parents=True, exist_ok=True)
        print(f"building the demo corpus and index in {data} with {builder}", file=sys.stderr)
        subprocess.run([sys.executable, "-c", CLI, "demo", "--no-serve", "--data-dir", str(data)],
                       env=env_for(builder, data), check=True, cwd=data.parent, stdout=subprocess.DEVNULL)
    for checkout in checkouts.values():  # warm the page cache and any one-time files
        paperfeed(checkout, data, "search", "warm up")

    results: dict[str, dict[str, list[float]]] = {n: {} for n in checkouts}
    for _ in range(args.runs):  # interleaved, so load from other users hits both alike
        for name, checkout in checkouts.items():
            r = results[name]
            r.setdefault("help_s", []).append(paperfeed(checkout, data, "--help"))
            r.setdefault("cli_first_search_s", []).append(paperfeed(checkout, data, "search", QUERY))
            seconds, before, after = web_first_search(checkout, data)
            r.setdefault("web_first_search_s", []).append(seconds)
            r.setdefault("web_rss_before_search_mib", []).append(before)
            r.setdefault("web_rss_after_search_mib", []).append(after)

    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"python {platform.python_version()}; {args.runs} runs each, medians")
    for name, checkout in checkouts.items():
        print(f"{name} = {checkout}; each run: " + "; ".join(
            f"{metric} {' '.join(f'{v:.2f}' for v in values)}" for metric, values in results[name].items()))
    for name in checkouts:
        for metric, values in results[name].items():
            print(f"{metric}_{name}: {statistics.median(values):.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Install paperfeed WITHOUT the `search` extra in a fresh virtual environment and
# check that everything but search works there, and that search says what to install:
#   paperfeed --help; ingest of the bundled Kaggle sample (exit 0); export; stats;
#   subscribe + digest send --dry-run; serve answering / and /papers?q=... (the
#   substring fallback) with 200; `paperfeed search x` and `paperfeed index` exiting
#   2 with one line naming `paperfeed[search]`, and `paperfeed mcp` naming `paperfeed[mcp]`.
#   Any traceback anywhere fails it.
# Usage: scripts/check_base_install.sh [WORKDIR]   (default: a temporary directory, removed after)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
python=${PYTHON:-python3}

work=${1:-}
scratch=
[[ -n "$work" ]] || work=$(mktemp -d) scratch=$work
server=
cleanup() {
    if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    server=
    if [[ -n "$scratch" ]]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
mkdir -p "$work"
log=$work/commands.log
: >"$log"

fail() { echo "check_base_install: FAIL: $*" >&2; echo "--- last output:" >&2; tail -n 40 "$log" >&2; exit 1; }

echo "check_base_install: venv and pip install . (no extras) in $work"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --progress-bar off "$repo" >"$work/pip.log" 2>&1 \
    || { tail -n 30 "$work/pip.log" >&2; fail "pip install . failed"; }
bin=$work/venv/bin
for module in numpy torch tantivy usearch onnxruntime; do
    if "$bin/python" -c "import $module" 2>/dev/null; then
        fail "$module is installed without the search extra"
    fi
done

export PAPERFEED_DATA_DIR=$work/data PAPERFEED_DATABASE_URL=
unset PYTHONPATH
cd "$work"  # not the checkout: the installed package, not the source tree, is imported

run() {  # run EXPECTED_STATUS ARGS...: run `paperfeed ARGS`, check its exit status
    local want=$1 rc=0
    shift
    echo "\$ paperfeed $*" >>"$log"
    "$bin/paperfeed" "$@" >"$work/out" 2>"$work/err" || rc=$?
    cat "$work/out" "$work/err" >>"$log"
    [[ $rc == "$want" ]] || fail "paperfeed $* exited $rc, expected $want"
    ! grep -q "Traceback" "$work/out" "$work/err" || fail "paperfeed $* printed a traceback"
    echo "  ok: paperfeed $* (exit $rc)"
}

run 0 --help
run 0 ingest "$repo/paperfeed/data/arxiv-kaggle-sample.jsonl"
run 0 export
[[ $(grep -c '"arxiv_id"' "$work/out") -gt 0 ]] || fail "export wrote no papers"
run 0 stats
run 0 subscribe reader@example.org --confirmed --search "neural networks"
run 0 digest send --dry-run --date "$(date -u +%F)"

for command in "search x" "index"; do
    # shellcheck disable=SC2086
    run 2 $command
    [[ $(grep -c . "$work/err") == 1 ]] || fail "paperfeed $command: expected one line on stderr"
    grep -q "paperfeed\[search\]" "$work/err" || fail "paperfeed $command: no install hint"
done
run 2 mcp  # the `mcp` extra is not installed either
grep -q "paperfeed\[mcp\]" "$work/err" || fail "paperfeed mcp: no install hint"

echo "correct horse battery" | "$bin/paperfeed" user create reader --password-stdin >"$work/out" 2>"$work/err" \
    || { cat "$work/err" >>"$log"; fail "paperfeed user create"; }
echo "  ok: paperfeed user create reader --password-stdin"

port=$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/paperfeed" serve --port "$port" >"$work/serve.log" 2>&1 &
server=$!
"$bin/python" - "$port" <<'PY' || { cat "$work/serve.log" >>"$log"; fail "the server did not answer as expected"; }
import sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(300):  # up to 30 s for the server to start
    try:
        urllib.request.urlopen(base + "/healthz", timeout=2)
        break
    except OSError:
        time.sleep(0.1)
for path in ("/", "/papers?q=neural+networks", "/papers?q=%22unbalanced+-"):
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        body = answer.read().decode()
        assert answer.status == 200, (path, answer.status)
        print(f"  ok: GET {path} -> {answer.status} ({len(body)} bytes)")
# signed in: the reader's pages load nothing from the extra either (For you says what is missing)
import http.cookiejar, re, urllib.parse
browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
form = browser.open(base + "/login", timeout=30).read().decode()
token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
fields = {"username": "reader", "password": "correct horse battery", "csrf_token": token}
browser.open(base + "/login", data=urllib.parse.urlencode(fields).encode(), timeout=30)
for path in ("/library", "/for-you", "/settings/account"):
    with browser.open(base + path, timeout=30) as answer:
        body = answer.read().decode()
        assert answer.status == 200 and answer.url.endswith(path), (path, answer.status, answer.url)
        assert path != "/for-you" or "paperfeed[search]" in body, body[-2000:]
        print(f"  ok: GET {path} signed in -> {answer.status} ({len(body)} bytes)")
PY
kill "$server" && wait "$server" 2>/dev/null || true
server=
cat "$work/serve.log" >>"$log"
! grep -q "Traceback" "$work/serve.log" || fail "paperfeed serve logged a traceback"
echo "check_base_install: ok"

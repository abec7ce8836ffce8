#!/usr/bin/env bash
# Install OpenStack Keystone (the real identity service: tokens, the service catalog, application
# credentials) into its own virtualenv, for tests/test_keystone.py.  Keystone drags in the whole oslo
# stack, so it lives OUTSIDE the repo and outside the project's .venv (its pins would fight ours).
# Idempotent: a venv that already holds the pinned Keystone and the pinned dependency set is left alone.
#
#   KEYSTONE_VENV   where the virtualenv goes (default /work/keystone-venv)
#   KEYSTONE_PYTHON interpreter that creates it (default python3)
#
# Exit 0 when the venv can import the WSGI app and run keystone-manage; non-zero with a message otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${KEYSTONE_VENV:-/work/keystone-venv}"
python="${KEYSTONE_PYTHON:-python3}"
keystone_version="30.0.0"
constraints="$here/constraints.txt"   # pip freeze of a venv that passed the test: CI gets the same set
start=$(date +%s)

fail() { echo "tests/keystone/setup.sh: FAILED: $*" >&2; exit 1; }

# pip on this kind of machine is configured with extra local indexes that may not exist; their
# "Location ... is ignored" warnings (one per package) would bury a real error, so drop just those.
pip_install() {
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# The stamp records what was installed; same Keystone + same constraints file => nothing to do.
want="keystone==$keystone_version"
if [ -f "$constraints" ]; then want="$want constraints:$(sha256sum "$constraints" | cut -c1-16)"; fi
stamp="$venv/.imagelint-keystone-stamp"

check() {
    # Import the WSGI entry module's package and the CLI we need, not just "pip show": a broken
    # dependency shows up here rather than as a confusing server start failure in the test.
    "$venv/bin/python" -W ignore - <<'PY'
import importlib.metadata as md
import keystone.server.wsgi, keystone.cmd.manage  # noqa: F401  (what the WSGI app and bootstrap load)
v = md.version("keystone")
assert v == "30.0.0", f"keystone {v} installed, want 30.0.0"
print(f"keystone {v} importable")
PY
    [ -x "$venv/bin/keystone-manage" ] || { echo "no keystone-manage in $venv/bin" >&2; return 1; }
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check >/dev/null 2>&1; then
    echo "keystone venv $venv already set up ($want); nothing to do"
    exit 0
fi

command -v "$python" >/dev/null || fail "no $python on PATH (set KEYSTONE_PYTHON)"
echo "creating virtualenv $venv with $("$python" --version 2>&1)"
"$python" -m venv "$venv" || fail "python -m venv $venv"
pip_install --upgrade pip setuptools wheel || fail "upgrading pip in $venv"

args=("keystone==$keystone_version")
if [ -f "$constraints" ]; then
    args+=(-c "$constraints")
    echo "installing keystone==$keystone_version with pinned dependencies from tests/keystone/constraints.txt"
else
    echo "installing keystone==$keystone_version (no constraints file: resolving freely)"
fi
pip_install "${args[@]}" || fail "pip install keystone==$keystone_version into $venv (is PyPI reachable?)"

check || fail "keystone is installed in $venv but does not import; see the error above"
echo "$want" > "$stamp"
n=$("$venv/bin/python" -m pip list 2>/dev/null | wc -l)
echo "keystone venv ready: $venv ($n packages) in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# Install OpenStack Glance (the reference GET /v2/images server) into its own virtualenv, for
# tests/test_glance.py.  Glance drags in the whole oslo stack, so it lives OUTSIDE the repo and
# outside the project's .venv (its pins would fight ours).  Idempotent: a venv that already holds
# the pinned Glance and the pinned dependency set is left alone.
#
#   GLANCE_VENV   where the virtualenv goes (default /work/glance-venv)
#   GLANCE_PYTHON interpreter that creates it (default python3)
#
# Exit 0 when the venv can import the WSGI app and run glance-manage; non-zero with a message otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${GLANCE_VENV:-/work/glance-venv}"
python="${GLANCE_PYTHON:-python3}"
glance_version="33.0.0"
constraints="$here/constraints.txt"   # pip freeze of a venv that passed the test: CI gets the same set
start=$(date +%s)

fail() { echo "tests/glance/setup.sh: FAILED: $*" >&2; exit 1; }

# pip on this kind of machine is configured with extra local indexes that may not exist; their
# "Location ... is ignored" warnings (one per package) would bury a real error, so drop just those.
pip_install() {
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# The stamp records what was installed; same Glance + same constraints file => nothing to do.
want="glance==$glance_version"
if [ -f "$constraints" ]; then want="$want constraints:$(sha256sum "$constraints" | cut -c1-16)"; fi
stamp="$venv/.imagelint-glance-stamp"

check() {
    # Import the WSGI entry module's package and the CLI we need, not just "pip show": a broken
    # dependency shows up here rather than as a confusing server start failure in the test.
    "$venv/bin/python" -W ignore - <<'PY'
import importlib.metadata as md
import glance.common.config, glance.db.sqlalchemy.api  # noqa: F401  (what the WSGI app loads first)
v = md.version("glance")
assert v == "33.0.0", f"glance {v} installed, want 33.0.0"
print(f"glance {v} importable")
PY
    [ -x "$venv/bin/glance-manage" ] || { echo "no glance-manage in $venv/bin" >&2; return 1; }
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check >/dev/null 2>&1; then
    echo "glance venv $venv already set up ($want); nothing to do"
    exit 0
fi

command -v "$python" >/dev/null || fail "no $python on PATH (set GLANCE_PYTHON)"
echo "creating virtualenv $venv with $("$python" --version 2>&1)"
"$python" -m venv "$venv" || fail "python -m venv $venv"
pip_install --upgrade pip setuptools wheel || fail "upgrading pip in $venv"

args=("glance==$glance_version")
if [ -f "$constraints" ]; then
    args+=(-c "$constraints")
    echo "installing glance==$glance_version with pinned dependencies from tests/glance/constraints.txt"
else
    echo "installing glance==$glance_version (no constraints file: resolving freely)"
fi
pip_install "${args[@]}" || fail "pip install glance==$glance_version into $venv (is PyPI reachable?)"

check || fail "glance is installed in $venv but does not import; see the error above"
echo "$want" > "$stamp"
n=$("$venv/bin/python" -m pip list 2>/dev/null | wc -l)
echo "glance venv ready: $venv ($n packages) in $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# Install one OpenStack service (Glance, Keystone) at a pinned version into its own virtualenv, for the
# integration tests.  Each drags in the whole oslo stack, so it lives OUTSIDE the repo and outside the
# project's .venv (its pins would fight ours).  Idempotent: a venv that already holds the pinned service and
# the pinned dependency set is left alone.  Called by tests/<service>/setup.sh, which sets the arguments:
#
#   servicevenv.sh SERVICE VERSION VENV PYTHON IMPORTS
#
# SERVICE is the PyPI name (also its SERVICE-manage command), IMPORTS the modules its WSGI app loads first.
# The pins are tests/SERVICE/constraints.txt (pip freeze of a venv that passed the tests: CI gets the same set).
# Exit 0 when the venv imports them and has SERVICE-manage; non-zero with a message otherwise.
set -euo pipefail

service="$1" version="$2" venv="$3" python="$4" imports="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$service"
constraints="$here/constraints.txt"
start=$(date +%s)

fail() { echo "tests/$service/setup.sh: FAILED: $*" >&2; exit 1; }

# pip on this kind of machine is configured with extra local indexes that may not exist; their
# "Location ... is ignored" warnings (one per package) would bury a real error, so drop just those.
pip_install() {
    "$venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# The stamp records what was installed; same version + same constraints file => nothing to do.
want="$service==$version"
if [ -f "$constraints" ]; then want="$want constraints:$(sha256sum "$constraints" | cut -c1-16)"; fi
stamp="$venv/.imagelint-$service-stamp"

check() {
    # Import what the WSGI app loads and check the CLI we need, not just "pip show": a broken dependency
    # shows up here rather than as a confusing server start failure in the test.
    "$venv/bin/python" -W ignore -c "
import importlib.metadata as md
import $imports
v = md.version('$service')
assert v == '$version', f'$service {v} installed, want $version'
print(f'$service {v} importable')
"
    [ -x "$venv/bin/$service-manage" ] || { echo "no $service-manage in $venv/bin" >&2; return 1; }
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && check >/dev/null 2>&1; then
    echo "$service venv $venv already set up ($want); nothing to do"
    exit 0
fi

command -v "$python" >/dev/null || fail "no $python on PATH"
echo "creating virtualenv $venv with $("$python" --version 2>&1)"
"$python" -m venv "$venv" || fail "python -m venv $venv"
pip_install --upgrade pip setuptools wheel || fail "upgrading pip in $venv"

args=("$service==$version")
if [ -f "$constraints" ]; then
    args+=(-c "$constraints")
    echo "installing $service==$version with pinned dependencies from tests/$service/constraints.txt"
else
    echo "installing $service==$version (no constraints file: resolving freely)"
fi
pip_install "${args[@]}" || fail "pip install $service==$version into $venv (is PyPI reachable?)"

check || fail "$service is installed in $venv but does not import; see the error above"
echo "$want" > "$stamp"
n=$("$venv/bin/python" -m pip list 2>/dev/null | wc -l)
echo "$service venv ready: $venv ($n packages) in $(( $(date +%s) - start )) s"

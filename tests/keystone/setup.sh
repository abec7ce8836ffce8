#!/usr/bin/env bash
# Install OpenStack Keystone (the real identity service: tokens, the service catalog, application
# credentials) into its own virtualenv, for tests/test_keystone.py (tests/servicevenv.sh does the work).
#
#   KEYSTONE_VENV   where the virtualenv goes (default /work/keystone-venv)
#   KEYSTONE_PYTHON interpreter that creates it (default python3)
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../servicevenv.sh" keystone 30.0.0 \
    "${KEYSTONE_VENV:-/work/keystone-venv}" "${KEYSTONE_PYTHON:-python3}" \
    "keystone.server.wsgi, keystone.cmd.manage"

#!/usr/bin/env bash
# Install OpenStack Glance (the reference GET /v2/images server) into its own virtualenv, for
# tests/test_glance.py and tests/test_keystone.py (tests/servicevenv.sh does the work).
#
#   GLANCE_VENV   where the virtualenv goes (default /work/glance-venv)
#   GLANCE_PYTHON interpreter that creates it (default python3)
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/../servicevenv.sh" glance 33.0.0 \
    "${GLANCE_VENV:-/work/glance-venv}" "${GLANCE_PYTHON:-python3}" \
    "glance.common.config, glance.db.sqlalchemy.api"

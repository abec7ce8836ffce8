"""The wheel built from the repository carries the bundled policy pack, the report templates and the
sample fleet, and the installed package finds them (not only a source checkout)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from imagelint.cli.init import SCAFFOLD

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_policies_reports_and_sample_fleet(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("imagelint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # every pack's policies and tests, in its own folder (policies/ims/, policies/openstack/)
    policies = {p.relative_to(ROOT / "policies").as_posix() for p in (ROOT / "policies").glob("*/*.yaml")}
    assert {"ims", "openstack"} <= {p.split("/")[0] for p in policies}
    assert policies and {f"imagelint/policies/{p}" for p in policies} <= names
    templates = {p.name for p in (ROOT / "reports").glob("*.j2")}
    assert templates and {f"imagelint/reports/{t}" for t in templates} <= names
    assert "imagelint/data/sample-fleet.json" in names
    assert {f"imagelint/data/scaffold/{name}" for _, name in SCAFFOLD} <= names  # what `imagelint init` writes
    assert any(n.endswith("entry_points.txt") for n in names)
    # nothing from tests/ or the repository's tooling leaks into the wheel
    assert not any(n.startswith(("tests/", ".ci/")) for n in names)

    # installed into a fresh target, the package finds its own data (no source checkout on the path)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import imagelint.policy.loader as l, imagelint.formats.templating as t, "
        "imagelint.sources.snapshot as s; print(l.bundled_policy_dir()); print(t.REPORTS_DIR); "
        "print(s.sample_fleet_path().is_file())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert out == [str(target / "imagelint" / "policies"), str(target / "imagelint" / "reports"), "True"]

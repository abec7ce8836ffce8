"""Tests of the deterministic fleet generator (tests/fleetgen.py) and the bundled sample fleet."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fleetgen

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "imagelint" / "data" / "sample-fleet.json"
INT64 = (-(2**63), 2**63 - 1)


def _walk(value):
    """Yield every scalar nested in value (dict values and keys, list items)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    else:
        yield value


@pytest.mark.parametrize("varied", [False, True])
def test_same_seed_same_fleet(varied):
    assert fleetgen.generate_fleet(200, 5, varied=varied) == fleetgen.generate_fleet(200, 5, varied=varied)


@pytest.mark.parametrize("varied", [False, True])
def test_different_seed_different_fleet(varied):
    assert fleetgen.generate_fleet(50, 1, varied=varied) != fleetgen.generate_fleet(50, 2, varied=varied)


@pytest.mark.parametrize("varied", [False, True])
def test_iter_fleet_matches_generate_fleet(varied):
    assert list(fleetgen.iter_fleet(120, 9, varied=varied)) == fleetgen.generate_fleet(120, 9, varied=varied)


@pytest.mark.parametrize("n", [0, 1, 7, 250])
def test_counts(n):
    assert len(fleetgen.generate_fleet(n, 3)) == n
    assert len(fleetgen.generate_fleet(n, 3, varied=True)) == n


def test_negative_count_rejected():
    with pytest.raises(ValueError):
        fleetgen.generate_fleet(-1)


def test_prefix_stable():
    """A longer fleet starts with the images of a shorter one (streaming consumers rely on it)."""
    assert fleetgen.generate_fleet(300, 4, varied=True)[:100] == fleetgen.generate_fleet(100, 4, varied=True)


def test_realistic_image_shape():
    image = fleetgen.realistic_image(random.Random(1), 0)
    assert 28 <= len(image) <= 45
    assert isinstance(image["id"], str)
    assert isinstance(image["protected"], bool)
    assert isinstance(image["min_disk"], int) and isinstance(image["min_ram"], int)
    for key in ("__isregistered", "__lazyloading", "__os_bit", "__image_size", "created_at", "visibility"):
        assert isinstance(image[key], str), key
    assert isinstance(image["tags"], list)
    assert image["virtual_size"] is None


def test_realistic_fleet_is_mostly_valid():
    fleet = fleetgen.generate_fleet(1000, 11)
    share = sum(img["disk_format"] in ("zvhd2", "vhd", "zvhd", "raw", "qcow2") for img in fleet) / len(fleet)
    assert 0.85 <= share < 1.0  # some invalid values, but not many
    share = sum(1 <= img["min_disk"] <= 1024 for img in fleet) / len(fleet)
    assert 0.85 <= share < 1.0
    visibilities = {img["visibility"] for img in fleet}
    assert {"public", "private", "shared"} <= visibilities
    assert any("__support_kvm_gpu_type" in img and img.get("__support_kvm") == "true" for img in fleet)
    years = {img["created_at"][:4] for img in fleet}
    assert {"2017", "2026"} <= years


@pytest.mark.parametrize("varied", [False, True])
def test_ids_unique_strings(varied):
    fleet = fleetgen.generate_fleet(2000, 0, varied=varied)
    ids = [img["id"] for img in fleet]
    assert all(isinstance(i, str) for i in ids)
    assert len(set(ids)) == len(ids)


def test_varied_fleet_is_adversarial_and_json_safe():
    fleet = fleetgen.generate_fleet(2000, 0, varied=True)
    scalars = [s for img in fleet for s in _walk(img)]
    assert any(s is None for s in scalars)
    assert any(isinstance(s, float) and s == 1.0 for s in scalars)
    assert any(isinstance(s, bool) for s in scalars)
    assert any(isinstance(s, int) and not isinstance(s, bool) and s < 0 for s in scalars)
    assert any(isinstance(s, str) and "\n" in s for s in scalars)
    assert any(s == "2018-09-06 14:03:27" for s in scalars)
    assert any(isinstance(img.get("min_disk"), str) for img in fleet)
    assert any("visibility" not in img for img in fleet)
    assert all(INT64[0] <= s <= INT64[1] for s in scalars if isinstance(s, int))
    assert not any(isinstance(s, str) and "\x00" in s for s in scalars)
    # Round-trips through JSON unchanged (no NaN, no non-string keys).
    assert json.loads(json.dumps(fleet, allow_nan=False)) == fleet


def test_sample_file_is_current():
    """imagelint/data/sample-fleet.json is exactly what `fleetgen.py --sample` writes."""
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(fleetgen.sample_fleet()))
    assert len(data["images"]) == fleetgen.SAMPLE_SIZE
    assert SAMPLE.stat().st_size < 400_000


def test_cli_sample_and_jsonl(tmp_path):
    script = Path(fleetgen.__file__)
    sample = tmp_path / "sample.json"
    subprocess.run([sys.executable, str(script), "--sample", str(sample)], check=True)
    assert sample.read_bytes() == SAMPLE.read_bytes()
    out = tmp_path / "fleet.jsonl"
    subprocess.run(
        [sys.executable, str(script), "--count", "25", "--seed", "3", "--varied", "--jsonl", str(out)], check=True
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == fleetgen.generate_fleet(25, 3, varied=True)

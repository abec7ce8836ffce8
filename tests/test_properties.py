"""Property tests (Hypothesis): every reader of hostile input ends in a value or its own one-line error, and
pagination against the fake IMS server judges every image exactly once or ends incomplete (exit 3).

The readers: the snapshot reader (JSON through the JSON stream, and JSON Lines), the policy, waiver,
baseline and config loaders, and the query validator. Inputs are generated and then mutated (cut short, a
byte inserted, a span deleted), which reaches the error paths that whole random bytes would not. Never a
traceback (an exception other than the reader's own), never exit 4, never a pass of what was not judged.

The ``imagelint`` profile in conftest.py keeps the examples few, so the suite stays quick; run with
``HYPOTHESIS_PROFILE=thorough`` for many more.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagelint.cli import config as cli_config
from imagelint.cli import main
from imagelint.judgement.baseline import BaselineError, load_baseline
from imagelint.judgement.waivers import WaiverError, load_waivers
from imagelint.policy import PolicyError, load_policies
from imagelint.policy.yamlfile import FileProblems
from imagelint.sources.interface import SourceError
from imagelint.sources.query import parse_query
from imagelint.sources.snapshot import SnapshotSource
from imagelint.sources.transport import ConfigError
from tests.apihelp import CLEAN_ENV, seen_policy
from tests.conftest import policy_yaml
from tests.fakeims import FakeIMS, Fault, generate_images

# -- strategies --------------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)
image_ids = st.text(min_size=1, max_size=10)


@st.composite
def images(draw: Any) -> list[dict[str, Any]]:
    ids = draw(st.lists(image_ids, max_size=12, unique=True))
    return [
        {"id": i, **draw(st.dictionaries(st.text(max_size=6).filter(lambda k: k != "id"), json_values, max_size=3))}
        for i in ids
    ]


@st.composite
def mutated(draw: Any, data: bytes) -> bytes:
    """``data`` as given, or cut short, with a byte inserted, or with a span deleted."""
    how = draw(st.sampled_from(["keep", "cut", "insert", "delete"]))
    if how == "keep" or not data:
        return data
    at = draw(st.integers(0, len(data)))
    if how == "cut":
        return data[:at]
    if how == "insert":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
    return data[:at] + data[at + draw(st.integers(1, 8)) :]


def read_all(path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in SnapshotSource(str(path)).pages():
        out.extend(page)
    return out


def written(data: bytes, name: str) -> Any:
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / name
    path.write_bytes(data)
    return folder, path


# -- the snapshot reader and the JSON stream ---------------------------------------------------------------


@given(fleet=images(), shape=st.sampled_from(["object", "array", "jsonl"]))
def test_a_wellformed_snapshot_reads_back_exactly(fleet, shape):
    if shape == "object":
        data = json.dumps({"images": fleet}).encode()
    elif shape == "array":
        data = json.dumps(fleet).encode()
    else:
        data = b"".join(json.dumps(i).encode() + b"\n" for i in fleet)
    folder, path = written(data, "fleet.jsonl" if shape == "jsonl" else "fleet.json")
    with folder:
        if not fleet and shape == "jsonl":
            with pytest.raises(SourceError):  # an empty file says nothing of what it should hold
                read_all(path)
            return
        assert read_all(path) == json.loads(json.dumps(fleet))  # the oracle: json's own reading


@given(st.data())
def test_a_damaged_snapshot_is_read_or_refused_in_one_line(data):
    fleet = data.draw(images())
    shape = data.draw(st.sampled_from(["object", "array", "jsonl", "value"]))
    if shape == "value":
        raw = json.dumps(data.draw(json_values)).encode()
    elif shape == "jsonl":
        raw = b"".join(json.dumps(i).encode() + b"\n" for i in fleet)
    else:
        raw = json.dumps({"images": fleet} if shape == "object" else fleet).encode()
    raw = data.draw(mutated(raw))
    folder, path = written(raw, "fleet.json")
    with folder:
        try:
            got = read_all(path)
        except SourceError as exc:
            assert "\n" not in str(exc) and str(exc)
            return
    ids = [image["id"] for image in got]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)


@given(st.binary(max_size=200))
def test_random_bytes_are_read_or_refused(raw):
    folder, path = written(raw, "fleet.json")
    with folder:
        try:
            read_all(path)
        except SourceError as exc:
            assert "\n" not in str(exc)


# -- the loaders ---------------------------------------------------------------------------------------------

POLICY = policy_yaml(
    "p",
    params={"limit": 10, "names": ["a", "b"]},
    variables=[{"name": "big", "expression": "image.min_disk > params.limit"}],
    validations=[{"expression": "!variables.big", "message": "too big"}, 'image.name.matches("^[a-z]+$")'],
)
WAIVERS = "waivers:\n  - {policy: p, id: a1, reason: known, expires: 2027-01-01}\n  - {policy: 'p*', name: 'web-*', reason: r, expires: 2027-06-30}\n"
BASELINE = json.dumps({"version": 1, "findings": [{"policy": "p", "image_id": "a", "validation": 0}]})
CONFIG = "policies: [p.yaml]\nparams:\n  p: {limit: 5}\nfail-on: high\npage-size: 50\nmin-images: 2\nquery: {visibility: private}\nendpoint: https://ims.example.com\n"


def _mutated_text(data: Any, text: str) -> bytes:
    raw = data.draw(mutated(text.encode()))
    if data.draw(st.booleans()):  # and a YAML-shaped insertion: an alias, a tag, an indent, a flow bracket
        token = data.draw(
            st.sampled_from(["*a", "&a ", "!!python/name:os.system ", "\n  ", "[", "}", ": ", "- ", "'", '"'])
        )
        at = data.draw(st.integers(0, len(raw)))
        raw = raw[:at] + token.encode() + raw[at:]
    return raw


READERS = {
    # each reader of a hand-edited file: its sample text, file name, load function and its error
    "policy": (POLICY, "p.yaml", lambda path: load_policies([path]), PolicyError),
    "waivers": (WAIVERS, "w.yaml", load_waivers, WaiverError),
    "baseline": (BASELINE, "b.json", load_baseline, BaselineError),
    "config": (CONFIG, "imagelint.yaml", cli_config.load, FileProblems),
}


@pytest.mark.parametrize("reader", list(READERS))
@given(data=st.data())
def test_a_damaged_file_loads_or_is_refused_with_positions(reader, data):
    text, name, load, error = READERS[reader]
    folder, path = written(_mutated_text(data, text), name)
    with folder:
        try:
            load(path)
        except error as exc:
            assert exc.problems and all(str(p).startswith(str(path)) for p in exc.problems)


QUERY_KEYS = ["visibility", "limit", "marker", "name", "id", "tag", "created_at", "member_status", "sort_key", "x"]


@given(st.lists(st.tuples(st.sampled_from(QUERY_KEYS) | st.text(max_size=8), st.text(max_size=20)), max_size=5))
def test_the_query_validator_accepts_or_names_the_item(items):
    texts = [f"{k}={v}" for k, v in items]
    try:
        pairs = parse_query(texts)
    except ConfigError as exc:
        assert str(exc).startswith("--query ") and "\n" not in str(exc)
        return
    assert [f"{k}={v}" for k, v in pairs] == [t.partition("=")[0].strip() + "=" + t.partition("=")[2] for t in texts]


# -- pagination against the fake server ---------------------------------------------------------------------

faults = st.lists(
    st.one_of(
        st.builds(
            lambda p, n: Fault("status", status=503, page=p, times=n, retry_after=0),
            st.integers(0, 6),
            st.integers(1, 3),
        ),
        st.builds(
            lambda p, n: Fault("status", status=429, page=p, times=n, retry_after=0),
            st.integers(0, 6),
            st.integers(1, 2),
        ),
        st.builds(lambda p, lim: Fault("clamp", page=p, limit=lim, times=None), st.integers(0, 6), st.integers(1, 9)),
        st.builds(lambda p: Fault("duplicate", page=p), st.integers(0, 6)),
        st.builds(lambda p: Fault("truncate", page=p), st.integers(0, 6)),
        st.builds(lambda p: Fault("invalid_json", page=p, times=None), st.integers(0, 6)),
        st.builds(lambda p: Fault("next_loop", page=p), st.integers(0, 6)),
        st.builds(lambda p: Fault("status", status=400, style="ims", page=p), st.integers(0, 6)),
    ),
    max_size=3,
)


# the environment is set once for every example: the same clean one each time
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(count=st.integers(0, 40), page_size=st.integers(1, 12), faults=faults, allow_empty=st.booleans())
def test_pagination_judges_every_image_once_or_ends_incomplete(monkeypatch, count, page_size, faults, allow_empty):
    for name, value in CLEAN_ENV.items():
        monkeypatch.setenv(name, value)
    fleet = generate_images(count, seed=count)
    with tempfile.TemporaryDirectory() as folder, FakeIMS(fleet, faults=faults, max_limit=10) as srv:
        report = Path(folder) / "r.json"
        argv = ["check", "--endpoint", srv.url, "--page-size", str(page_size), "--retries", "3", "--timeout", "10"]
        argv += ["--policies", str(seen_policy(Path(folder))), "--fail-on", "info", "--report", f"json={report}"]
        argv += [
            "--format",
            "text",
            "--output",
            str(Path(folder) / "r.txt"),
            "--config",
            str(Path(folder) / "none.yaml"),
        ]
        argv += ["--allow-empty"] if allow_empty else []
        (Path(folder) / "none.yaml").write_text("{}\n")
        err = StringIO()
        with redirect_stderr(err), redirect_stdout(StringIO()):
            code = main(argv)
        doc = json.loads(report.read_text())
    assert code in (0, 1, 3), err.getvalue()  # never 2 (the arguments are good) nor 4
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    judged = Counter(f["image"]["id"] for f in doc["findings"])
    assert all(n == 1 for n in judged.values()), "an image judged twice"
    if code == 3:
        assert doc["source"]["complete"] is False and doc["source"]["error"]
        return
    assert doc["source"]["complete"] is True
    assert sorted(judged) == sorted(i["id"] for i in fleet)  # every image, once
    assert code == (1 if fleet else 0) and (fleet or allow_empty)

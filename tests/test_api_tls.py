"""TLS against a real https server on 127.0.0.1: verification on by default, ``--ca-bundle`` trusts a
private CA, ``--insecure`` works only with a loud warning. The certificate is made by ``openssl``."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from tests.apihelp import assert_each_once, check
from tests.fakeims import FakeIMS
from tests.fleetgen import generate_fleet

IMAGES = generate_fleet(30, seed=5)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeIMS(IMAGES, tls=context) as server:
        yield server, cert


def test_ca_bundle_trusts_the_private_ca(tls_server, tmp_path):
    server, cert = tls_server
    assert server.url.startswith("https://")
    proc, report = check(server.url, tmp_path, "--token", "t0k3n", "--ca-bundle", str(cert))
    assert proc.returncode == 0, proc.stderr
    assert_each_once(report, IMAGES)


def test_verification_is_on_by_default(tls_server, tmp_path):
    server, _ = tls_server
    proc, report = check(server.url, tmp_path, "--token", "t0k3n", "--retries", "0")
    assert proc.returncode == 3
    assert "certificate verify failed" in proc.stderr.lower() or "CERTIFICATE_VERIFY_FAILED" in proc.stderr
    assert "Traceback" not in proc.stderr and "t0k3n" not in proc.stderr
    assert report.get("source", {}).get("complete") in (None, False)


def test_insecure_works_with_a_loud_warning(tls_server, tmp_path):
    server, _ = tls_server
    proc, report = check(server.url, tmp_path, "--token", "t0k3n", "--insecure")
    assert proc.returncode == 0, proc.stderr
    assert "--insecure: TLS certificates are NOT verified" in proc.stderr
    assert_each_once(report, IMAGES)


def test_ca_bundle_that_does_not_exist_is_a_usage_error(tls_server, tmp_path):
    server, _ = tls_server
    proc, _ = check(server.url, tmp_path, "--token", "t0k3n", "--ca-bundle", str(Path(tmp_path, "nope.pem")))
    assert proc.returncode == 2
    assert "nope.pem" in proc.stderr

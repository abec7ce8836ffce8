"""Run real OpenStack Keystone on 127.0.0.1 for a test: SQLite, Fernet tokens, ``keystone-manage bootstrap``,
then everything else (projects, users, roles, regions, the image service and its endpoints, application
credentials, token revocation) through Keystone's own v3 API, as an operator would.

Keystone lives in its own virtualenv (``tests/keystone/setup.sh``, default ``$KEYSTONE_VENV`` or
``/work/keystone-venv``); this module only talks to it over HTTP and through ``keystone-manage``.
Anything that prevents Keystone from running raises :class:`KeystoneUnavailable`, whose message says how
to fix it; the test turns that into a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
SETUP = "tests/keystone/setup.sh"
DEFAULT_VENV = Path(os.environ.get("KEYSTONE_VENV", "/work/keystone-venv"))
ADMIN_PASSWORD = "admin-SECRET-bootstrap-1"

KEYSTONE_CONF = """\
[DEFAULT]
debug = false
log_file = {work}/keystone.log
[database]
connection = sqlite:///{work}/keystone.sqlite
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = {work}/fernet-keys
[fernet_receipts]
key_repository = {work}/fernet-keys
[credential]
key_repository = {work}/credential-keys
"""


class KeystoneUnavailable(RuntimeError):
    """Keystone could not be started; the message says what to run."""


class Keystone:
    """A running Keystone: its URL, an admin token, and the v3 calls the tests need."""

    def __init__(self, url: str, work: Path) -> None:
        self.url = url
        self.work = work
        self.http = requests.Session()
        self.http.trust_env = False
        self.admin_token = self.password_token("admin", ADMIN_PASSWORD, "admin")

    def log_tail(self, chars: int = 2000) -> str:
        return _tail(self.work / "keystone.log", chars)

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = {"X-Auth-Token": token or self.admin_token, **kw.pop("headers", {})}
        resp = self.http.request(method, self.url + "/v3" + path, headers=headers, timeout=60, **kw)
        if resp.status_code >= 400:
            raise AssertionError(f"{method} /v3{path}: HTTP {resp.status_code}: {resp.text[:400]}")
        return resp

    def password_token(self, user: str, password: str, project: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "password": password, "domain": {"id": "default"}}},
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        resp = self.http.post(self.url + "/v3/auth/tokens", json=body, timeout=60)
        if resp.status_code != 201:
            raise AssertionError(f"token for {user}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.headers["X-Subject-Token"]

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v3/{kind}s`` with ``{kind: body}``; the created object."""
        return self.call("POST", f"/{kind}s", json={kind: body}).json()[kind]

    def role_id(self, name: str) -> str:
        found = self.call("GET", "/roles", params={"name": name}).json()["roles"]
        return found[0]["id"] if found else self.create("role", {"name": name})["id"]

    def grant(self, project_id: str, user_id: str, role: str) -> None:
        self.call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}")

    def user_with_project(self, name: str, password: str, project: str, roles: tuple[str, ...]) -> dict[str, str]:
        proj = self.create("project", {"name": project, "domain_id": "default"})
        user = self.create("user", {"name": name, "password": password, "domain_id": "default"})
        for role in roles:
            self.grant(proj["id"], user["id"], role)
        return {"project_id": proj["id"], "user_id": user["id"]}

    def identity_service(self) -> None:
        """Keystone's own entry in the catalog (keystonemiddleware in Glance finds Keystone through it)."""
        service = self.create("service", {"type": "identity", "name": "keystone"})
        for interface in ("public", "internal", "admin"):
            self.create(
                "endpoint",
                {
                    "service_id": service["id"],
                    "interface": interface,
                    "region_id": "RegionOne",
                    "url": self.url + "/v3",
                },
            )

    def image_service(self, endpoints: dict[str, str]) -> None:
        """The ``image`` service with one public endpoint per region (``{region: url}``)."""
        service = self.create("service", {"type": "image", "name": "glance"})
        for region, url in endpoints.items():
            with contextlib.suppress(AssertionError):  # RegionOne exists after bootstrap
                self.create("region", {"id": region})
            self.create(
                "endpoint", {"service_id": service["id"], "interface": "public", "region_id": region, "url": url}
            )

    def application_credential(self, user_id: str, user_token: str, name: str) -> dict[str, str]:
        resp = self.call(
            "POST",
            f"/users/{user_id}/application_credentials",
            token=user_token,
            json={"application_credential": {"name": name}},
        )
        cred = resp.json()["application_credential"]
        return {"id": cred["id"], "secret": cred["secret"]}

    def revoke(self, token: str) -> None:
        self.call("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def _manage(venv: Path, conf: Path, *args: str) -> None:
    manage = venv / "bin" / "keystone-manage"
    if not manage.exists():
        raise KeystoneUnavailable(f"no Keystone virtualenv at {venv} (missing {manage}): run `bash {SETUP}` first")
    try:
        proc = subprocess.run(
            [str(manage), "--config-file", str(conf), *args], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeystoneUnavailable(f"keystone-manage {args[0]} failed to run ({exc}); re-run `bash {SETUP}`") from None
    if proc.returncode != 0:
        raise KeystoneUnavailable(f"keystone-manage {args[0]} exited {proc.returncode}\n{proc.stderr[-2000:]}")


@contextlib.contextmanager
def running_keystone(venv: Path | None = None, *, start_timeout: float = 120.0) -> Iterator[Keystone]:
    """Bootstrap Keystone in a temporary folder, serve it on a free loopback port, stop it afterwards."""
    venv = venv or DEFAULT_VENV
    python = venv / "bin" / "python"
    if not python.exists():
        raise KeystoneUnavailable(f"no Keystone virtualenv at {venv}: run `bash {SETUP}` first (or set KEYSTONE_VENV)")
    scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="imagelint-keystone-", dir=scratch) as tmp:
        work = Path(tmp)
        conf = work / "keystone.conf"
        conf.write_text(KEYSTONE_CONF.format(work=work))
        user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
        t0 = time.monotonic()
        _manage(venv, conf, "db_sync")
        _manage(venv, conf, "fernet_setup", "--keystone-user", user, "--keystone-group", group)
        _manage(venv, conf, "credential_setup", "--keystone-user", user, "--keystone-group", group)
        _manage(
            venv,
            conf,
            "bootstrap",
            *("--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-username", "admin"),
            *("--bootstrap-project-name", "admin", "--bootstrap-role-name", "admin"),
            *("--bootstrap-region-id", "RegionOne"),
        )
        env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(conf), "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": "ignore"}
        env.pop("VIRTUAL_ENV", None)
        with open(work / "serve.log", "wb") as log:
            proc = subprocess.Popen(
                [
                    str(python),
                    str(HERE.parent / "wsgiserve.py"),
                    "--app",
                    "keystone",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--exit-on-stdin-eof",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=work,
                text=True,
            )
        try:
            url = _wait_ready(proc, work, t0 + start_timeout)
            yield Keystone(url, work)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            for pipe in (proc.stdin, proc.stdout):
                if pipe:
                    pipe.close()


def _wait_ready(proc: subprocess.Popen[str], work: Path, deadline: float) -> str:
    lines: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())

    threading.Thread(target=reader, daemon=True).start()
    probe = requests.Session()
    probe.trust_env = False
    url, last = None, "no answer yet"
    while time.monotonic() < deadline:
        url = url or next(("http://" + x.split()[1] for x in lines if x.startswith("LISTENING ")), None)
        if proc.poll() is not None:
            break
        if url and "READY" in lines:
            try:
                resp = probe.get(url + "/v3", timeout=5)
                if resp.status_code == 200:
                    return url
                last = f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                last = str(exc)
        time.sleep(0.1)
    raise KeystoneUnavailable(
        f"Keystone did not start (exit code {proc.poll()}, last: {last}); re-run `bash {SETUP}`\n"
        f"--- serve.log ---\n{_tail(work / 'serve.log')}\n--- keystone.log ---\n{_tail(work / 'keystone.log')}"
    )


__all__ = ["ADMIN_PASSWORD", "Keystone", "KeystoneUnavailable", "running_keystone"]

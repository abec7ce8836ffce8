"""Run real OpenStack Glance on 127.0.0.1 for a test, and seed it with IMS-style images.

Glance lives in its own virtualenv (``tests/glance/setup.sh``, default ``$GLANCE_VENV`` or
``/work/glance-venv``); this module runs in the project's interpreter and only talks to Glance over HTTP
and through its command-line tools, so nothing of the oslo stack is imported here.

What it takes to run Glance 33 without Keystone (see shared/reference/glance-on-loopback.md):
a ``glance-api.conf`` with file stores and SQLite, a paste pipeline that is the Keystone one minus
``authtoken`` (identity then comes from the ``X-Identity-Status``/``X-Roles``/``X-Project-Id`` request
headers), ``glance-manage db sync``, WAL mode (or concurrent requests hit "database is locked"), and a
WSGI server (``tests/wsgiserve.py``).  Creates are sent one at a time for the same reason.

    with running_glance() as glance:
        images = glance.seed(PROJECT, 321)
        ... glance.endpoint, glance.identity_args(PROJECT) ...

Anything that prevents Glance from running raises :class:`GlanceUnavailable`, whose message says how
to fix it; the test turns that into a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
SETUP = "tests/glance/setup.sh"
DEFAULT_VENV = Path(os.environ.get("GLANCE_VENV", "/work/glance-venv"))

# IMS disk formats that stock Glance does not know; allowed in the config so seeded images look like IMS's.
DISK_FORMATS = "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop,zvhd,zvhd2"

GLANCE_CONF = """\
[DEFAULT]
enabled_backends = fs:file
enabled_import_methods = []
debug = false
# Glance clamps limit to this silently (stock 1000); lower here so a test can see clamping with a few
# hundred images.
api_limit_max = {api_limit_max}
log_file = {work}/glance-api.log
# The stdlib server handles one request per thread; keep the (unused) task pool small on 2 cores.
[wsgi]
task_pool_threads = 2
[database]
connection = sqlite:///{work}/glance.sqlite
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = {work}/images
[os_glance_staging_store]
filesystem_store_datadir = {work}/staging
[os_glance_tasks_store]
filesystem_store_datadir = {work}/tasks
[oslo_concurrency]
lock_path = {work}/locks
[image_format]
disk_formats = {disk_formats}
[paste_deploy]
flavor = headers
config_file = {work}/glance-api-paste.ini
"""

# Glance's own keystone pipeline without ``authtoken``: ``context`` builds the request context from the
# identity headers.  (The built-in unauthenticated flavor gets 403 on everything under today's policies.)
PASTE_INI = """\
[composite:glance-api-headers]
paste.composite_factory = glance.api:root_app_factory
/: api

[composite:api]
paste.composite_factory = glance.api:pipeline_factory
headers = cors http_proxy_to_wsgi versionnegotiation osprofiler context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory

[filter:osprofiler]
paste.filter_factory = osprofiler.web:WsgiMiddleware.factory

[filter:cors]
paste.filter_factory = oslo_middleware.cors:filter_factory
oslo_config_project = glance
oslo_config_program = glance-api

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory
"""


class GlanceUnavailable(RuntimeError):
    """Glance is not installed or would not start; the message says what to run."""


def identity_headers(project: str, roles: str = "admin") -> dict[str, str]:
    """The headers that stand in for a Keystone token in the authtoken-less pipeline."""
    return {"X-Identity-Status": "Confirmed", "X-Roles": roles, "X-Project-Id": project}


def venv_python(venv: Path | None = None) -> Path:
    """The Glance venv's interpreter, or GlanceUnavailable telling to run setup.sh."""
    venv = Path(venv or DEFAULT_VENV)
    python, manage = venv / "bin" / "python", venv / "bin" / "glance-manage"
    if not python.exists() or not manage.exists():
        raise GlanceUnavailable(
            f"no Glance virtualenv at {venv} (missing {python if not python.exists() else manage}): "
            f"run `bash {SETUP}` first (set GLANCE_VENV to use another folder)"
        )
    return python


@dataclass
class Seeded:
    """One image created by :meth:`Glance.seed`, with what the tests filter on."""

    id: str
    owner: str
    visibility: str
    properties: dict[str, Any] = field(default_factory=dict)


class Glance:
    """A running Glance API: its endpoint, a log, and helpers to create images as some project."""

    def __init__(self, endpoint: str, work: Path, log: Path, api_limit_max: int) -> None:
        self.endpoint = endpoint
        self.work = work
        self.api_limit_max = api_limit_max
        self.log = log
        self.http = requests.Session()  # one session; the server closes each connection anyway (HTTP/1.0)
        self.http.trust_env = False  # a proxy from the environment must not see loopback traffic

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's request/traceback log, for failure messages (the folder is temporary)."""
        return _tail(self.log, chars)

    def identity_args(self, project: str, roles: str = "admin") -> list[str]:
        """``--header NAME=VALUE`` arguments for the imagelint CLI, acting as ``project``."""
        args: list[str] = []
        for name, value in identity_headers(project, roles).items():
            args += ["--header", f"{name}={value}"]
        return args

    def request(self, method: str, path: str, project: str, roles: str = "admin", **kw: Any) -> requests.Response:
        headers = {"Accept": "application/json", **identity_headers(project, roles), **kw.pop("headers", {})}
        resp = self.http.request(method, self.endpoint + path, headers=headers, timeout=30, **kw)
        if resp.status_code >= 400:
            raise AssertionError(
                f"{method} {path} as {project}/{roles}: HTTP {resp.status_code}: "
                f"{resp.text[:500]}\n(server log: {self.log})"
            )
        return resp

    def create_image(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v2/images`` as an admin of ``project`` (admin: public images need it)."""
        return self.request("POST", "/v2/images", project, json=body).json()

    def share(self, image_id: str, owner: str, member: str, status: str) -> None:
        """Add ``member`` to a shared image of ``owner``; the member then sets its own status."""
        self.request("POST", f"/v2/images/{image_id}/members", owner, json={"member": member})
        if status != "pending":  # only the member may accept or reject; a new membership is pending
            self.request(
                "PUT", f"/v2/images/{image_id}/members/{member}", member, roles="member,reader", json={"status": status}
            )

    def seed(
        self, project: str, count: int, *, prefix: str = "img", public_every: int = 3, public_limit: int | None = None
    ) -> list[Seeded]:
        """Create ``count`` IMS-looking images in ``project``, one request at a time.

        Every ``public_every``-th image is public (at most ``public_limit`` of them), the rest alternate
        private and shared, so a ``visibility`` filter selects a known subset.  Extra properties are
        strings, as Glance (and IMS) keep them.
        """
        made: list[Seeded] = []
        publics = 0
        for i in range(count):
            if i % public_every == 0 and (public_limit is None or publics < public_limit):
                visibility = "public"
                publics += 1
            else:
                visibility = "private" if i % 2 else "shared"
            props = ims_properties(i, visibility)
            body = {
                "name": f"{prefix}-{i:04d}",
                "visibility": visibility,
                "container_format": "bare",
                "disk_format": ("zvhd2", "qcow2", "vhd", "raw")[i % 4],
                "min_disk": 40 if i % 5 else 100,
                "min_ram": (0, 1024, 2048)[i % 3],
                "tags": [f"batch-{i % 7}"],
                **props,
            }
            image = self.create_image(project, body)
            made.append(Seeded(id=image["id"], owner=image["owner"], visibility=image["visibility"], properties=props))
        return made


def ims_properties(i: int, visibility: str) -> dict[str, str]:
    """IMS extra properties of a seeded image, as strings (``"__os_bit": 64`` would be a 400)."""
    linux = i % 4 != 3
    props = {
        "__os_bit": "64" if i % 10 else "32",
        "__os_type": "Linux" if linux else "Windows",
        "__platform": ("Ubuntu", "CentOS", "EulerOS")[i % 3] if linux else "Windows",
        "__os_version": "Ubuntu 22.04 server 64bit" if linux else "Windows Server 2022 Datacenter 64bit",
        "__imagetype": {"public": "gold", "private": "private", "shared": "shared"}[visibility],
        "__support_kvm": "true",
        "__isregistered": "true",
        "virtual_env_type": "FusionCompute" if i % 9 else "Ironic",
        "hw_firmware_type": "uefi" if i % 6 == 0 else "bios",
        "__lazyloading": ("true", "false", "True")[i % 3],
        "__image_size": str(2_147_483_648 + i * 1024),
        "__originalimagename": f"orig-{i:04d}",
        "enterprise_project_id": "0",
    }
    if i % 8 == 0:  # encrypted images carry the KMS key id
        props["__system__cmkid"] = f"0b1c2d3e-4f50-4617-8899-{i:012d}"
        props["__system_encrypted"] = "1"
    if i % 11 == 0:
        props["__support_kvm_gpu_type"] = "V100_vGPU"
    return props


# With ``authtoken``: Glance behind keystonemiddleware, validating every token at a real Keystone (the
# headers pipeline plus ``authtoken``; no token cache, so a revoked token is refused at once).
AUTHTOKEN_PASTE = """
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = false
"""


def _write_config(work: Path, api_limit_max: int, authtoken: dict[str, str] | None = None) -> Path:
    for sub in ("images", "staging", "tasks", "locks", "etc"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    etc = work / "etc"
    conf = GLANCE_CONF.format(work=work, disk_formats=DISK_FORMATS, api_limit_max=api_limit_max)
    paste = PASTE_INI
    if authtoken is not None:
        conf += "[keystone_authtoken]\n" + "".join(f"{k} = {v}\n" for k, v in authtoken.items())
        paste = paste.replace("osprofiler context rootapp", "osprofiler authtoken context rootapp") + AUTHTOKEN_PASTE
    (etc / "glance-api.conf").write_text(conf)
    (work / "glance-api-paste.ini").write_text(paste)
    return etc


def _db_sync(venv: Path, etc: Path, work: Path) -> None:
    manage = venv / "bin" / "glance-manage"
    try:
        proc = subprocess.run(
            [str(manage), "--config-file", str(etc / "glance-api.conf"), "db", "sync"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=work,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GlanceUnavailable(f"glance-manage db sync failed to run ({exc}); re-run `bash {SETUP}`") from None
    if proc.returncode != 0:
        raise GlanceUnavailable(
            f"glance-manage db sync exited {proc.returncode}; re-run `bash {SETUP}`\n{proc.stderr[-2000:]}"
        )
    # WAL: readers and the one writer stop locking each other out ("database is locked" -> HTTP 500).
    with contextlib.closing(sqlite3.connect(work / "glance.sqlite")) as db:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise GlanceUnavailable(f"could not put {work / 'glance.sqlite'} in WAL mode (got {mode})")


def _scratch() -> str | None:
    """Where Glance's folder goes: a tmpfs when there is one, because SQLite syncs every commit and on a
    disk that doubles the time of each create (measured: 60 creates 5.7 s on disk, 2.6 s on /dev/shm)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return None  # the system default


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def running_glance(
    venv: Path | None = None,
    *,
    api_limit_max: int = 1000,
    start_timeout: float = 120.0,
    authtoken: dict[str, str] | None = None,
    mount: str = "",
) -> Iterator[Glance]:
    """Start Glance on a free loopback port, yield a :class:`Glance`, stop it afterwards.

    ``api_limit_max`` is the largest page Glance serves whatever ``limit`` asks for. ``authtoken``: the
    ``[keystone_authtoken]`` options that put Glance behind a real Keystone. ``mount``: a path prefix
    (``/image``) under which Glance is served too.
    """
    python = venv_python(venv)
    venv = python.parent.parent
    with tempfile.TemporaryDirectory(prefix="imagelint-glance-", dir=_scratch()) as tmp:
        work = Path(tmp)
        etc = _write_config(work, api_limit_max, authtoken)
        t0 = time.monotonic()
        _db_sync(venv, etc, work)
        server_log = work / "serve.log"
        env = {
            **os.environ,
            "OS_GLANCE_CONFIG_DIR": str(etc),
            "PYTHONUNBUFFERED": "1",
            "PYTHONWARNINGS": "ignore",
        }  # eventlet's deprecation banner is noise in the log
        env.pop("VIRTUAL_ENV", None)
        with open(server_log, "wb") as log:
            # stdin is a pipe we never write: it closes when this process dies, and wsgiserve.py then stops.
            proc = subprocess.Popen(
                [
                    str(python),
                    str(HERE.parent / "wsgiserve.py"),
                    *("--app", "glance"),
                    *("--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof", "--mount", mount),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=work,
                text=True,
            )
        try:
            endpoint = _wait_ready(proc, server_log, work, t0 + start_timeout, protected=authtoken is not None)
            print(f"glance: {endpoint} up in {time.monotonic() - t0:.1f}s (logs in {work})", file=sys.stderr)
            yield Glance(endpoint, work, server_log, api_limit_max)
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


def _wait_ready(
    proc: subprocess.Popen[str], server_log: Path, work: Path, deadline: float, *, protected: bool = False
) -> str:
    """Read the port wsgiserve.py chose, then poll ``/versions`` until Glance answers 200 (behind authtoken:
    its 401, which only a loaded pipeline sends)."""
    lines: list[str] = []

    def reader() -> None:  # a thread, because a pipe read cannot time out portably
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())

    threading.Thread(target=reader, daemon=True).start()

    def died(what: str) -> GlanceUnavailable:
        return GlanceUnavailable(
            f"Glance {what} (wsgiserve.py exit code {proc.poll()}); is the venv complete? re-run `bash {SETUP}`.\n"
            f"--- serve.log ---\n{_tail(server_log)}\n--- glance-api.log ---\n{_tail(work / 'glance-api.log')}"
        )

    endpoint = None
    last_error = "no answer yet"
    probe = requests.Session()
    probe.trust_env = False  # no proxy from the environment for loopback
    while time.monotonic() < deadline:
        if endpoint is None:
            for line in lines:
                if line.startswith("LISTENING "):
                    endpoint = "http://" + line.split()[1]
        if proc.poll() is not None:
            raise died("exited while starting")
        if endpoint is not None and "READY" in lines:
            try:
                resp = probe.get(endpoint + "/versions", timeout=5)
                if protected and resp.status_code == 401:
                    return endpoint
                if resp.status_code == 200 and "versions" in resp.json():
                    return endpoint
                last_error = f"HTTP {resp.status_code}"
            except (requests.RequestException, ValueError) as exc:
                last_error = str(exc)
        time.sleep(0.1)
    raise died(f"did not answer /versions in time (last: {last_error})")


__all__ = [
    "Glance",
    "GlanceUnavailable",
    "Seeded",
    "identity_headers",
    "ims_properties",
    "running_glance",
    "venv_python",
]

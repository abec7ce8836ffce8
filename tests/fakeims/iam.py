"""A fake Huawei Cloud IAM beside the fake IMS: ``GET /v3/projects?name=NAME`` signed with AK/SK (verified by
``sigv``, independent of imagelint's signer), answering the projects of that name as IAM does.

    with FakeIAM(ak, sk, projects={"cn-north-4": "0123..."}) as iam:
        ... HUAWEICLOUD_SDK_IAM_ENDPOINT=iam.url ...

Every request is recorded (``requests``: method, raw target, headers, status). An unsigned or badly signed
request gets IAM's 401 body.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakeims import sigv


@dataclass(frozen=True)
class IamRequest:
    method: str
    target: str
    headers: dict[str, str]
    status: int


class FakeIAM:
    def __init__(self, ak: str, sk: str, *, projects: dict[str, str], security_token: str | None = None) -> None:
        self.ak, self.sk, self.security_token = ak, sk, security_token
        self.projects = projects
        self.requests: list[IamRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    def __enter__(self) -> FakeIAM:
        iam = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                status, body = iam.answer(self.command, self.path, dict(self.headers))
                with iam._lock:
                    iam.requests.append(IamRequest(self.command, self.path, dict(self.headers), status))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        verdict = sigv.verify(method, target, headers, b"", secret_for=lambda ak: self.sk if ak == self.ak else None)
        if not verdict.ok:
            return 401, {"error": {"code": "APIGW.0301", "message": f"Incorrect IAM authentication: {verdict.reason}"}}
        if self.security_token is not None and headers.get("X-Security-Token") != self.security_token:
            return 401, {"error": {"code": "APIGW.0307", "message": "The security token is invalid"}}
        parts = urlsplit(target)
        if parts.path != "/v3/projects":
            return 404, {"error": {"code": "IAM.0001", "message": f"no route {parts.path}"}}
        name = dict(parse_qsl(parts.query)).get("name")
        listed = [{"id": pid, "name": pname, "enabled": True} for pname, pid in self.projects.items()]
        if name is not None:
            listed = [p for p in listed if p["name"] == name]
        return 200, {"projects": listed, "links": {"self": self.url + target}}

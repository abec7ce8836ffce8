"""Serve an OpenStack service's WSGI app (Glance's API or Keystone's) on loopback for the integration tests.

Run with that service's own virtualenv python (tests/glance/setup.sh, tests/keystone/setup.sh), never the
project's: the service and its oslo stack live only there.  Neither ships a standalone server any more, so the
app is served by wsgiref here, one thread per request (Glance's import of image data blocks, and a list must
run while a create is in flight).  The app reads its configuration from ``OS_GLANCE_CONFIG_DIR`` or
``OS_KEYSTONE_CONFIG_FILES``:

    OS_GLANCE_CONFIG_DIR=DIR python wsgiserve.py --app glance [--host 127.0.0.1] [--port 0] [--mount /image]
    OS_KEYSTONE_CONFIG_FILES=FILE python wsgiserve.py --app keystone [--host 127.0.0.1] [--port 0]

With ``--port 0`` the kernel picks a free port; the chosen one is printed on stdout as
``LISTENING 127.0.0.1:PORT`` *before* the app is loaded, then ``READY`` once it is, so the harness never
races another process for a port it guessed.  Request logging goes to stderr (the harness sends it to a
file) rather than being silenced, because that log is what explains a failing test.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request; daemon threads so a stop never waits on a client."""

    daemon_threads = True
    # The default backlog of 5 refuses connections when a test opens several at once.
    request_queue_size = 64


class QuietHandler(WSGIRequestHandler):
    """wsgiref's handler, logging one line per request to stderr without reverse DNS look-ups."""

    def address_string(self) -> str:  # the default resolves the peer's name: slow and pointless here
        return self.client_address[0]


def _exit_on_eof(server: WSGIServer) -> None:
    sys.stdin.read()
    server.shutdown()


CONFIG = {"glance": "OS_GLANCE_CONFIG_DIR", "keystone": "OS_KEYSTONE_CONFIG_FILES"}
"""The environment variable each app reads its configuration from."""


def _load(name: str) -> object:
    # imported only here, after the port is bound: loading either app reads its configuration. Python put
    # this script's folder, tests/, first on sys.path, and tests/glance and tests/keystone would shadow the
    # real packages.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if name == "glance":
        from glance.wsgi.api import application

        return application
    from keystone.server.wsgi import initialize_public_application

    sys.argv[1:] = []  # oslo.config parses the command line too, and our flags are not its own
    return initialize_public_application()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes (the test process died): no orphaned servers",
    )
    parser.add_argument(
        "--mount",
        default="",
        help="also serve the app under this path prefix (e.g. /image, as devstack mounts Glance)",
    )
    parser.add_argument("--app", choices=sorted(CONFIG), required=True, help="which service to serve")
    args = parser.parse_args()
    if not os.environ.get(CONFIG[args.app]):
        print(f"wsgiserve.py: {CONFIG[args.app]} is not set", file=sys.stderr)
        return 2

    # Bind first with a placeholder app: the port is known (and reported) even if loading the app fails.
    holder: dict[str, object] = {}

    mount = args.mount.rstrip("/")

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if mount and (path == mount or path.startswith(mount + "/")):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount
            environ["PATH_INFO"] = path[len(mount) :] or "/"
        return holder["app"](environ, start_response)

    server = make_server(args.host, args.port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    print(f"LISTENING {args.host}:{server.server_port}", flush=True)

    holder["app"] = _load(args.app)
    if args.exit_on_stdin_eof:
        # A harness killed without cleanup (pytest interrupted, CI timeout) closes our stdin; without this
        # the server would outlive it and keep the port and the temporary folder busy.
        threading.Thread(target=_exit_on_eof, args=(server,), daemon=True).start()
    print("READY", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

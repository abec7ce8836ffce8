"""Run the fake IMS server standalone (from the repository root)::

python -m tests.fakeims --port 8080 --images 500 --seed 1 [--auth token --token T]
                        [--auth aksk --ak AK --sk SK] [--latency 0.02] [--max-limit 1000]
                        [--iam-user U --iam-password P --iam-domain D --iam-project P]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import FakeIMS, generate_images


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.fakeims", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--images", type=int, default=100, help="number of generated images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-limit", type=int, default=1000)
    ap.add_argument("--default-limit", type=int, default=25)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    ap.add_argument("--auth", choices=["token", "aksk"], default=None)
    ap.add_argument("--token")
    ap.add_argument("--ak")
    ap.add_argument("--sk")
    ap.add_argument("--iam-user")
    ap.add_argument("--iam-password")
    ap.add_argument("--iam-domain")
    ap.add_argument("--iam-project")
    ap.add_argument("--error-style", choices=["ims", "glance"], default="ims")
    a = ap.parse_args(argv)
    srv = FakeIMS(
        generate_images(a.images, a.seed),
        max_limit=a.max_limit,
        default_limit=a.default_limit,
        latency=a.latency,
        auth=a.auth,
        token=a.token,
        ak=a.ak,
        sk=a.sk,
        iam_user=a.iam_user,
        iam_password=a.iam_password,
        iam_domain=a.iam_domain,
        iam_project=a.iam_project,
        error_style=a.error_style,
        host=a.host,
        port=a.port,
    )
    srv.start()
    srv.warm()
    print(f"fake IMS serving {a.images} images (seed {a.seed}) at {srv.url}  (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

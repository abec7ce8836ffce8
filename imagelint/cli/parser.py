"""Every option of every command, in one place: ``build_parser()``.

The command modules read what this parser produces and nothing else; ``cli.config`` turns
``imagelint.yaml`` into arguments for it, so an option added here can be set from the file as well.
"""

from __future__ import annotations

import argparse
from typing import Any

from imagelint import __version__
from imagelint.engines import EngineName
from imagelint.formats import FORMAT_CHOICES
from imagelint.judgement.gate import DEFAULT_FAIL_ON, FAIL_ON_CHOICES
from imagelint.policy.schema import SCHEMAS
from imagelint.sources.api import DEFAULT_PAGE_SIZE
from imagelint.sources.transport import DEFAULT_MAX_RESPONSE_MB, DEFAULT_RETRIES, DEFAULT_TIMEOUT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagelint", description="Policy-as-code linter for cloud VM images.")
    parser.add_argument("--version", action="version", version=f"imagelint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="evaluate policies over images from a snapshot or the API")
    # Not required: --cloud, --region or OS_CLOUD also choose the live API (check.py says what is missing).
    src = check.add_mutually_exclusive_group()
    src.add_argument(
        "--input", metavar="FILE", help='snapshot: JSON {"images": [...]}, JSON array, or JSON Lines; - for stdin'
    )
    src.add_argument("--sample", action="store_true", help="check the bundled sample fleet")
    src.add_argument("--endpoint", metavar="URL", help="fetch every page of URL/v2/images (the live API) and check")
    _api_options(check)
    _policy_options(check, params=True)
    check.add_argument("--now", metavar="RFC3339", help="pin the run's `now` (default: the current time)")
    _deadline_option(check)
    check.add_argument(
        "--engine",
        choices=[e.value for e in EngineName],
        default="auto",
        help="CEL engine (default auto: compiled, and cel-cpp for a policy outside the compiled subset)",
    )
    _report_options(check)
    _empty_options(check, "a run")
    _suppression_options(check)
    _compare_option(check)

    fetch = sub.add_parser("fetch", help="save every image of the live API as a snapshot file")
    fetch.add_argument(
        "--endpoint",
        metavar="URL",
        help="service root, e.g. https://ims.ap-southeast-1.myhuaweicloud.com (calls URL/v2/images); "
        "default: from --cloud's catalog or --region",
    )
    _api_options(fetch)
    fetch.add_argument("--output", "-o", required=True, metavar="FILE", help="snapshot file to write (atomically)")
    fetch.add_argument("--jsonl", action="store_true", help="write JSON Lines (metadata line first) instead of JSON")
    _deadline_option(fetch)

    validate = sub.add_parser(
        "validate", help="check policy files only (syntax, schema, CEL, the image attribute catalogue)"
    )
    validate.add_argument("paths", nargs="*", metavar="PATH", help="policy files or directories (default: bundled)")
    _policy_options(validate)
    validate.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")

    test = sub.add_parser("test", help="run the policy unit tests (*.test.yaml) on every available engine")
    test.add_argument(
        "paths", nargs="*", metavar="PATH", help="test files, policy files or directories (default: the policy paths)"
    )
    _policy_options(test)

    listing = sub.add_parser("list", help="list the loaded policies: name, severity, title")
    _policy_options(listing)
    listing.add_argument("--packs", action="store_true", help="list the bundled packs instead")

    explain = sub.add_parser("explain", help="show one policy in full, with its test cases as examples")
    explain.add_argument("name", metavar="NAME", help="policy name")
    _policy_options(explain)

    schema = sub.add_parser("schema", help="print a JSON Schema for editors (YAML language server)")
    schema.add_argument(
        "kind", nargs="?", default="policy", choices=list(SCHEMAS), help="which file format (default: policy)"
    )

    _audit_parser(sub)
    _merge_parser(sub)

    init = sub.add_parser(
        "init", help="start a policy repository: imagelint.yaml, an example policy and its tests, CI files"
    )
    init.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where (default: the current folder)")

    for name, command in sub.choices.items():
        if name not in ("schema", "init"):  # they need no config, so a broken one must not stop them
            command.add_argument(
                "--config", metavar="FILE", help="read defaults from FILE (default: ./imagelint.yaml if present)"
            )
    return parser


def _empty_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--allow-empty`` and ``--min-images``: for ``check`` the run's floor, for ``audit`` each target's."""
    p.add_argument(
        "--allow-empty",
        action="store_true",
        help=f"let {what} that judged no image pass (default: no image is incomplete, exit 3)",
    )
    p.add_argument(
        "--min-images",
        type=int,
        default=None,
        metavar="N",
        help=f"{what} that judged fewer than N images is incomplete, exit 3 (default 1)",
    )


def _deadline_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time the whole run may take; past it the run ends incomplete, exit 3 (default: none)",
    )


def _policy_options(p: argparse.ArgumentParser, *, params: bool = False) -> None:
    p.add_argument(
        "--policies",
        action="append",
        metavar="PATH",
        help="policy file or directory (repeatable; default: the bundled pack)",
    )
    p.add_argument(
        "--pack",
        action="append",
        metavar="NAME",
        help="a bundled pack by name, e.g. ims or openstack (repeatable; `imagelint list --packs` lists them)",
    )
    if params:
        p.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME.KEY=VALUE",
            help="override a policy param; VALUE is a YAML scalar (repeatable)",
        )


def _api_options(p: argparse.ArgumentParser) -> None:
    """The live-API options; their defaults are ``ApiSettings``'s (``cli.live`` relies on that)."""
    g = p.add_argument_group("live API (with --endpoint, --cloud or --region)")
    g.add_argument(
        "--cloud",
        metavar="NAME",
        help="a cloud of clouds.yaml, as `openstack --os-cloud` reads it (default OS_CLOUD); needs the openstack extra",
    )
    g.add_argument(
        "--region",
        metavar="REGION",
        help="the region: of the cloud's catalog, or Huawei Cloud's (ims.REGION.myhuaweicloud.com)",
    )
    g.add_argument("--project-id", metavar="ID", help="scope the token (or AK/SK) to this project")
    g.add_argument("--project-name", metavar="NAME", help="scope the token to this project, by name")
    g.add_argument(
        "--api",
        choices=("images", "cloudimages"),
        default="images",
        help="images: GET /v2/images (Glance and IMS); cloudimages: IMS's own GET /v2/cloudimages",
    )
    g.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a query parameter of GET /v2/images, checked locally (repeatable)",
    )
    g.add_argument(
        "--header",
        action="append",
        default=[],
        dest="headers",
        metavar="NAME=VALUE",
        help="extra request header, e.g. X-Api-Version=... (repeatable)",
    )
    g.add_argument(
        "--page-size",
        type=int,
        default=None,
        metavar="N",
        help=f"images per request (default {DEFAULT_PAGE_SIZE}; the server may clamp it)",
    )
    g.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the X-Auth-Token from FILE (else OS_AUTH_TOKEN, "
        "HUAWEICLOUD_SDK_AK/SK, or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/...)",
    )
    g.add_argument("--token", metavar="TOKEN", help="the token itself (discouraged: command lines leak)")
    g.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time one request may take, from connect to the last byte of the body (default {DEFAULT_TIMEOUT:g})",
    )
    g.add_argument(
        "--max-response-mb",
        type=float,
        default=DEFAULT_MAX_RESPONSE_MB,
        metavar="MIB",
        help=f"largest body one response may decompress to; more: exit 3 (default {DEFAULT_MAX_RESPONSE_MB})",
    )
    g.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"retries of a failed request: 429, 5xx, resets, timeouts (default {DEFAULT_RETRIES})",
    )
    g.add_argument("--ca-bundle", metavar="FILE", help="verify TLS with these CA certificates")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (dangerous)")
    g.add_argument(
        "--progress", action="store_true", help="show the progress line on stderr even when it is not a terminal"
    )


def _report_options(p: argparse.ArgumentParser) -> None:
    """--format, --output, --report, --template, --fail-on, --color: how a judged run is reported and gated."""
    p.add_argument(
        "--format",
        metavar="FORMAT",
        help=f"report format: {', '.join(FORMAT_CHOICES)} (default auto: github under GitHub Actions, else text)",
    )
    p.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FORMAT[=PATH]",
        help="also write FORMAT to PATH (repeatable); FORMAT alone writes to stdout",
    )
    p.add_argument(
        "--template",
        metavar="FILE.j2",
        help="render the report with your own Jinja template (context: the JSON result)",
    )
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default=DEFAULT_FAIL_ON,
        help=f"lowest severity that fails the gate; never = audit only (default {DEFAULT_FAIL_ON})",
    )
    p.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour text output (auto: on a terminal and without NO_COLOR)",
    )


def _suppression_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("waivers and baselines")
    g.add_argument("--waivers", metavar="FILE", help="YAML waivers: accepted, expiring exceptions (see the docs)")
    g.add_argument("--allow-permanent-waivers", action="store_true", help="accept waivers without an expires date")
    g.add_argument("--baseline", metavar="FILE", help="findings recorded in FILE do not fail the gate; new ones do")
    g.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="record this run's fail/error findings in FILE (they then count as baselined)",
    )


def _compare_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--compare",
        metavar="PREVIOUS.json",
        help="mark findings new/unchanged and list resolved ones against a previous JSON result",
    )


def _audit_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="judge every target of a targets file (clouds, regions, projects)")
    audit.add_argument("--targets", required=True, metavar="FILE", help="the targets file (imagelint schema targets)")
    audit.add_argument(
        "--target", action="append", default=[], metavar="NAME", help="only this target (repeatable; NAME/... too)"
    )
    audit.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="only targets with this label (repeatable)"
    )
    audit.add_argument("--jobs", type=int, default=8, metavar="N", help="targets fetched at the same time (default 8)")
    audit.add_argument(
        "--per-endpoint",
        type=int,
        default=4,
        metavar="N",
        help="targets fetched at the same time from one endpoint (default 4)",
    )
    audit.add_argument("--shard", metavar="I/N", help="judge shard I of N (1-based); default: from the CI's variables")
    audit.add_argument(
        "--shards", type=int, metavar="N", help="the number of shards when the CI gives only an index (Kubernetes)"
    )
    audit.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"per request, for targets that set none (default {DEFAULT_TIMEOUT:g})",
    )
    audit.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help=f"retries of a failed request, for targets that set none (default {DEFAULT_RETRIES})",
    )
    audit.add_argument("--progress", action="store_true", help="progress lines on stderr even when not a terminal")
    _policy_options(audit, params=True)
    audit.add_argument("--now", metavar="RFC3339", help="pin the run's `now` (default: the current time)")
    audit.add_argument(
        "--engine",
        choices=[e.value for e in EngineName],
        default="auto",
        help="CEL engine (default auto: cel-cpp when it imports)",
    )
    _report_options(audit)
    _empty_options(audit, "a target")
    _suppression_options(audit)
    _compare_option(audit)


def _merge_parser(sub: Any) -> None:
    merge = sub.add_parser("merge", help="one report and exit code from the JSON results of an audit's shards")
    merge.add_argument("results", nargs="+", metavar="RESULT.json", help="the shards' JSON results")
    _report_options(merge)
    _compare_option(merge)

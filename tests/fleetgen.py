"""Deterministic generator of IMS image fleets for tests, benchmarks and the bundled sample.

An image is a dict shaped like one element of ``images`` in the response of IMS ``GET /v2/images``
(see the example on the API page): booleans-as-strings stay strings (``"__support_kvm": "true"``),
``protected`` is a real bool, ``min_disk``/``min_ram`` are ints.

* ``realistic_image`` makes one plausible image. Most attributes are valid; each bundled policy is
  violated by roughly 5-15 % of the images it applies to, so a fleet shows passes, fails and skips.
* ``generate_fleet(n, seed, varied=True)`` mixes in adversarial images for differential testing of
  CEL engines: missing keys, wrong types, odd strings and malformed timestamps.  Ints stay within
  the signed 64-bit range (the engines differ beyond it) and strings contain no NUL character
  (cel-expr-python truncates input strings at NUL).
* Every image has a unique string ``id``.  Everything is derived from ``random.Random(seed)``: the
  same arguments always give the same images, on any platform.

Command line::

    python tests/fleetgen.py --sample imagelint/data/sample-fleet.json
    python tests/fleetgen.py --count 1000 --seed 7 --varied --jsonl /tmp/fleet.jsonl
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import random
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["realistic_image", "generate_fleet", "iter_fleet", "SAMPLE_SEED", "SAMPLE_SIZE", "main"]

#: Seed and size of the bundled sample fleet (``imagelint/data/sample-fleet.json``).
SAMPLE_SEED = 20261127
SAMPLE_SIZE = 300

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_FIRST = int((_dt.datetime(2017, 1, 1, tzinfo=_dt.UTC) - _EPOCH).total_seconds())
_LAST = int((_dt.datetime(2026, 10, 31, tzinfo=_dt.UTC) - _EPOCH).total_seconds())

#: The cloud provider's project that owns public (gold) images, as in the API page's example.
PROVIDER_OWNER = "1bed856811654c1cb661a6ca845ebc77"
MARKET_OWNER = "6f1c0c2ad10b4cbd9b1a2f3e4d5c6b7a"
TENANT_OWNERS = [
    "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
    "5e6f7a8b9c0d41e2f3a4b5c6d7e8f901",
    "9f8e7d6c5b4a43210fedcba987654321",
]
SHARING_OWNERS = [
    "c0ffee00c0ffee00c0ffee00c0ffee00",
    "d15ea5edd15ea5edd15ea5edd15ea5ed",
    "ba5eba11ba5eba11ba5eba11ba5eba11",
]

# (platform, os_type, os_version, default firmware)
_OSES = [
    ("CentOS", "Linux", "CentOS 7.9 64bit", "bios"),
    ("CentOS", "Linux", "CentOS 8.2 64bit", "bios"),
    ("Ubuntu", "Linux", "Ubuntu 20.04 server 64bit", "bios"),
    ("Ubuntu", "Linux", "Ubuntu 22.04 server 64bit", "uefi"),
    ("Debian", "Linux", "Debian GNU/Linux 11.1.0 64bit", "bios"),
    ("EulerOS", "Linux", "EulerOS 2.5 64bit", "bios"),
    ("RedHat", "Linux", "Red Hat Linux 8.4 64bit", "uefi"),
    ("SUSE", "Linux", "SUSE Linux Enterprise Server 15 SP3 64bit", "bios"),
    ("OpenSUSE", "Linux", "OpenSUSE 15.3 64bit", "bios"),
    ("Oracle Linux", "Linux", "Oracle Linux Server release 7.9 64bit", "bios"),
    ("Fedora", "Linux", "Fedora 34 64bit", "uefi"),
    ("CoreOS", "Linux", "CoreOS 2079.4.0 64bit", "bios"),
    ("Windows", "Windows", "Windows Server 2019 Datacenter 64bit English", "uefi"),
    ("Windows", "Windows", "Windows Server 2016 Standard 64bit Chinese", "bios"),
    ("Other", "Other", "Other Linux(64 bit)", "bios"),
]
_BAD_PLATFORMS = ["Rocky Linux", "AlmaLinux", "Kylin", "centos", "Windows Server"]
_FEATURES = ["sriov", "ipv6", "virtio_scsi", "nvme", "secure_boot", "vtpm", "ib", "hot_plug"]
_TAG_KEYS = ["env", "app", "team", "cost-center"]
_TAG_VALUES = ["prod", "dev", "staging", "web", "db", "batch", "ml", "cc-1042", "cc-2201"]
_PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank"]
_NAME_WORDS = ["web", "db", "base", "golden", "ci", "app", "cache", "ml", "gw", "batch"]
_KVM_GPUS = ["V100_vGPU", "RTX5000", "T4", "P100", "A100"]
_XEN_GPUS = ["M60_vGPU", "P4"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex32(rng: random.Random) -> str:
    return "{:032x}".format(rng.getrandbits(128))


def _ts(seconds: int) -> str:
    return (_EPOCH + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chance(rng: random.Random, p: float) -> bool:
    return rng.random() < p


def realistic_image(rng: random.Random, index: int) -> dict:
    """Return one plausible image (about 30 attributes), drawing every choice from ``rng``.

    ``index`` only shapes the name; the id is a random UUID from ``rng``.  Roughly 5-15 % of the
    images violate any one bundled policy, through independent random mutations.
    """
    image_id = _uuid(rng)
    kind = rng.choices(["gold", "private", "shared", "market", "tenant-public"], weights=[28, 50, 14, 5, 3])[0]
    platform, os_type, os_version, firmware = rng.choice(_OSES)
    created = rng.randint(_FIRST, _LAST)
    updated = min(created + rng.randint(60, 90 * 86400), _LAST + 86400)
    active = min(created + rng.randint(60, 3 * 3600), updated)
    if kind == "gold":
        owner, visibility, imagetype = PROVIDER_OWNER, "public", "gold"
        name = os_version
    elif kind == "market":
        owner, visibility, imagetype = MARKET_OWNER, "public", "market"
        name = "{} {} appliance".format(
            os_version.split(" 64bit")[0], rng.choice(["LAMP", "WordPress", "GitLab", "Nginx"])
        )
    elif kind == "shared":
        owner, visibility, imagetype = rng.choice(SHARING_OWNERS), "shared", "shared"
        name = "shared-%s-%s-%d" % (rng.choice(_NAME_WORDS), platform.lower().replace(" ", ""), index)
    elif kind == "tenant-public":
        owner, visibility, imagetype = rng.choice(TENANT_OWNERS), "public", "private"
        name = "public-%s-%d" % (rng.choice(_NAME_WORDS), index)
    else:
        owner, visibility, imagetype = rng.choice(TENANT_OWNERS), "private", "private"
        name = "%s-%s-%d" % (rng.choice(_NAME_WORDS), platform.lower().replace(" ", ""), index)
    provider = kind in ("gold", "market")
    min_disk = rng.choice([40, 40, 40, 50, 100] if os_type != "Windows" else [40, 50, 100])
    image: dict[str, Any] = {
        "schema": "/v2/schemas/image",
        "min_disk": min_disk,
        "created_at": _ts(created),
        "__image_source_type": "uds",
        "container_format": "bare",
        "file": "/v2/images/{}/file".format(image_id),
        "updated_at": _ts(updated),
        "protected": provider,
        "checksum": "d41d8cd98f00b204e9800998ecf8427e",
        "id": image_id,
        "__isregistered": "true",
        "min_ram": rng.choice([0, 0, 1024, 2048, 4096]),
        "__lazyloading": rng.choice(["true", "true", "false", "True", "False"]),
        "owner": owner,
        "__os_type": os_type,
        "__imagetype": imagetype,
        "visibility": visibility,
        "virtual_env_type": rng.choices(["FusionCompute", "Ironic", "DataImage", "IsoImage"], weights=[85, 6, 6, 3])[0],
        "tags": [],
        "__platform": platform,
        "size": 0,
        "__os_bit": "64" if _chance(rng, 0.93) else "32",
        "__os_version": os_version,
        "name": name,
        "self": "/v2/images/{}".format(image_id),
        "disk_format": rng.choices(["zvhd2", "zvhd", "qcow2", "raw", "vhd"], weights=[80, 6, 6, 4, 4])[0],
        "virtual_size": None,
        "hw_firmware_type": firmware,
        "status": "active",
        "__image_size": str(rng.randint(300, 60000) * 1048576 + rng.randint(0, 1048575)),
        "__support_kvm": "true",
        "__is_config_init": rng.choice(["true", "false"]),
        "hw_vif_multiqueue_enabled": rng.choice(["true", "false"]),
        "active_at": _ts(active),
        "__description": ""
        if provider
        else rng.choice(["", "built by packer", "nightly build", "copied from {}".format(rng.choice(TENANT_OWNERS))]),
        "__data_origin": ""
        if provider
        else rng.choice(
            ["instance,{}".format(_uuid(rng)), "file,obs://images/{}.qcow2".format(rng.choice(_NAME_WORDS))]
        ),
        "__originalimagename": "" if provider else rng.choice(["", _uuid(rng)]),
    }
    if image["__os_bit"] == "32":
        image["__os_version"] = image["__os_version"].replace("64bit", "32bit")
    if _chance(rng, 0.6):
        image["enterprise_project_id"] = "0" if _chance(rng, 0.6) else _uuid(rng)
    if _chance(rng, 0.3):
        image["__support_amd"] = rng.choice(["true", "false"])
    if _chance(rng, 0.5):
        chosen = rng.sample(_FEATURES, rng.randint(0, 3))
        image["__os_feature_list"] = json.dumps(chosen)
    if not provider and image["__data_origin"].startswith("file"):
        image["__root_origin"] = "file"
    if _chance(rng, 0.15):
        image["max_ram"] = str(rng.choice([65536, 131072, 524288]))
    if _chance(rng, 0.08):
        image["__backup_id"] = _uuid(rng)
    # Tags on the tenant's own images; about 10 % lack an owner tag.
    if kind in ("private", "tenant-public", "shared"):
        tags = ["{}={}".format(k, rng.choice(_TAG_VALUES)) for k in rng.sample(_TAG_KEYS, rng.randint(0, 3))]
        if _chance(rng, 0.9):
            tags.insert(
                rng.randint(0, len(tags)), ("owner.%s" if _chance(rng, 0.15) else "owner=%s") % rng.choice(_PEOPLE)
            )
        image["tags"] = tags
    # Encryption: most private images carry a KMS key; about 12 % do not.
    if kind in ("private", "shared") and _chance(rng, 0.88):
        image["__system__cmkid"] = _uuid(rng)
    # Special hardware flavours (the attributes the API page says cannot co-exist with others).
    flavour = rng.random()
    if flavour < 0.06:
        image["__support_kvm_gpu_type"] = rng.choice(_KVM_GPUS)
        if not _chance(rng, 0.3):  # 30 % keep the forbidden __support_kvm
            del image["__support_kvm"]
    elif flavour < 0.09:
        image["__support_xen_gpu_type"] = rng.choice(_XEN_GPUS)
        del image["__support_kvm"]
        if _chance(rng, 0.3):
            image["__support_xen"] = "true"
    elif flavour < 0.12:
        image["__support_xen_hana"] = "true"
        del image["__support_kvm"]
        if _chance(rng, 0.3):
            image["__support_xen"] = "true"
    elif flavour < 0.15:
        image["__support_kvm_infiniband"] = "true"
        if _chance(rng, 0.3):
            image["__support_xen"] = "true"
    elif flavour < 0.22:
        image["__support_xen"] = "true"
        del image["__support_kvm"]
    elif flavour < 0.30:
        image[rng.choice(["__support_largememory", "__support_diskintensive", "__support_highperformance"])] = "true"
    # Status: mostly active; a few images are stuck or failed uploads.
    roll = rng.random()
    if roll < 0.07:
        image["status"] = rng.choice(["queued", "saving", "killed"])
        image.pop("active_at", None)
        image["__image_size"] = "0" if image["status"] != "saving" else image["__image_size"]
        if image["status"] in ("queued", "saving") and _chance(rng, 0.3):
            image["updated_at"] = _ts(_LAST + 86400 - rng.randint(60, 3000))
    elif roll < 0.09:
        image["status"] = "deleted"
    _mutate_realistic(rng, image)
    return image


def _mutate_realistic(rng: random.Random, image: dict) -> None:
    """Apply the plausible mistakes that make some realistic images fail policies."""
    mistakes: list[tuple[float, Callable[[], None]]] = [
        (0.06, lambda: image.__setitem__("min_disk", rng.choice([0, 0, 2048, 1500]))),
        (0.05, lambda: image.__setitem__("disk_format", rng.choice(["vmdk", "iso", "ZVHD2", "qcow"]))),
        (0.05, lambda: image.__setitem__("__os_bit", rng.choice(["x86_64", "amd64", "64bit", "arm64"]))),
        (0.05, lambda: image.__setitem__("__os_type", rng.choice(["linux", "Unix", "windows"]))),
        (0.05, lambda: image.__setitem__("__platform", rng.choice(_BAD_PLATFORMS))),
        (0.04, lambda: image.__setitem__("virtual_env_type", rng.choice(["KVM", "BMS", "fusioncompute"]))),
        (0.05, lambda: image.__setitem__("hw_firmware_type", rng.choice(["legacy", "UEFI", "efi"]))),
        (
            0.03,
            lambda: image.__setitem__(
                "status", rng.choice(["pending_delete", "deactivated", "uploading", "importing"])
            ),
        ),
        (0.05, lambda: image.__setitem__("__lazyloading", rng.choice(["yes", "TRUE", "1", "no"]))),
        (0.05, lambda: image.__setitem__("__image_size", rng.choice(["0", "", "unknown", "12.5"]))),
        (
            0.06,
            lambda: image.__setitem__(
                "__os_feature_list", rng.choice(["sriov,ipv6", '{"sriov": true}', "ipv6", '["sriov", "ipv6"'])
            ),
        ),
        (0.04, lambda: image.__setitem__("__imagetype", rng.choice(["custom", "Private", "public"]))),
        (0.04, lambda: image.__setitem__("visibility", rng.choice(["community", "Public", "internal"]))),
        (
            0.05,
            lambda: image.__setitem__(
                rng.choice(["__isregistered", "__is_config_init", "hw_vif_multiqueue_enabled", "__support_kvm"]),
                rng.choice(["yes", "1", "True", "TRUE", "enabled"]),
            ),
        ),
        (0.04, lambda: image.__setitem__("min_ram", rng.choice([-1, -1024]))),
        (0.03, lambda: image.__setitem__("id", "img-{:012x}".format(rng.getrandbits(48)))),
        (
            0.05,
            lambda: image.__setitem__(
                rng.choice(["created_at", "updated_at"]), _ts(rng.randint(_FIRST, _LAST)).replace("T", " ").rstrip("Z")
            ),
        ),
        (0.03, lambda: image.__setitem__("name", rng.choice(["", "   "]))),
        (0.04, lambda: image.__setitem__("__os_type", "Windows" if image.get("__os_type") == "Linux" else "Linux")),
        (0.12, lambda: image.__setitem__("protected", False) if image.get("visibility") == "public" else None),
    ]
    for probability, apply in mistakes:
        if rng.random() < probability:
            apply()
    if image.get("id", "").startswith("img-"):
        image["file"] = "/v2/images/{}/file".format(image["id"])
        image["self"] = "/v2/images/{}".format(image["id"])


# ---------------------------------------------------------------------------------------------
# Adversarial images (varied=True)

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)

_ODD_STRINGS = [
    "",
    " ",
    "  \t ",
    "\n",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "yes",
    "null",
    "None",
    "0",
    "-1",
    "1",
    "64",
    " 64",
    "64 ",
    "64\n",
    "1e3",
    "0x10",
    "é",
    "日本語のイメージ",
    "Ωmega",
    "🙂",
    "x" * 5000,
    "<script>alert(1)</script>",
    "line1\nline2",
    "'; DROP TABLE images; --",
    "\\",
    '"',
    "{}",
    "[]",
    "[",
    "a,b",
    "zvhd2 ",
    " Linux",
    "LINUX",
    "public\n",
    "\u00a0",
    "\u2028",
]
_ODD_INTS = [0, 1, -1, 2, 1024, 1025, -1024, 40, 2048, _INT64_MAX, _INT64_MIN, 2**53 + 1, -(2**31)]
_ODD_FLOATS = [0.0, -0.0, 1.0, 40.0, 0.5, -1.5, 1024.0, 1e300, -1e-300, 2.5e10]
_ODD_OTHER: list[Any] = [
    None,
    True,
    False,
    [],
    ["a"],
    [1, "x", None],
    [[]],
    {},
    {"a": {"b": 1}},
    {"key": "owner", "value": "alice"},
]

_BAD_TIMESTAMPS = [
    "2018-09-06 14:03:27",
    "garbage",
    "",
    "2018-02-30T00:00:00Z",
    "2018-04-31T10:00:00Z",
    "2018-09-06T14:03:27+08:00",
    "2018-09-06T14:03:27.123456789Z",
    "2018-09-06T14:03:27.5Z",
    "2018-09-06t14:03:27z",
    "2018-09-06T14:03:60Z",
    "2018-09-06T24:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2999-12-31T23:59:59-14:00",
    "2100-02-29T00:00:00Z",
    "2000-02-29T12:00:00Z",
    "2024-02-29T12:00:00Z",
    "2023-02-29T12:00:00Z",
    "2018-09-06T14:03:27Z\n",
    " 2018-09-06T14:03:27Z",
    "2018-09-06T14:03:27",
    "2018-09-06",
    "2018-09-06T14:03:27+24:00",
    "2018-09-06T14:03:27.1234567891Z",
    "2030-01-01T00:00:00Z",
    "1899-12-31T23:59:59Z",
    "2026-11-26T23:00:00Z",
    "2025-11-27T12:00:00Z",
    "2025-11-27T11:59:59Z",
    1536242607,
    1536242607.0,
    None,
    ["2018-09-06T14:03:27Z"],
]
_TARGETED: dict[str, list[Any]] = {
    "min_disk": [0, 1, 1024, 1025, -5, "40", "1", 40.0, 1.0, True, None, _INT64_MAX, _INT64_MIN, [40]],
    "min_ram": [0, -1, 2048, "2048", 0.0, -0.5, True, None, _INT64_MIN],
    "__image_size": [
        "0",
        "00",
        "",
        "12a",
        "99999999999999999999999999",
        "1",
        "0001",
        "-1",
        " 12",
        "12\n",
        "1.5",
        123,
        0,
        123.0,
        None,
        True,
        ["1"],
    ],
    "__os_bit": ["32", "64", "x86_64", 64, 32.0, "64 ", " 64", "", None, True],
    "__os_type": ["Linux", "Windows", "Other", "linux", "LINUX", "Linux ", 1, None, ["Linux"]],
    "__platform": ["Windows", "Oracle Linux", "Oracle  Linux", "oracle linux", "CentOS\n", "Other", 0, None],
    "disk_format": ["zvhd2", "vhd", "zvhd", "raw", "qcow2", "ZVHD2", "qcow2 ", "vmdk", "", 2, None],
    "virtual_env_type": ["FusionCompute", "Ironic", "DataImage", "IsoImage", "ironic", "", None, 3],
    "hw_firmware_type": ["bios", "uefi", "UEFI", "Bios", "efi", "", None, False],
    "status": ["active", "queued", "saving", "deleted", "killed", "Active", "pending_delete", "", None, 1],
    "__lazyloading": ["true", "false", "True", "False", "TRUE", "FALSE", "yes", "", True, False, None, 1],
    "__imagetype": ["gold", "private", "shared", "market", "Gold", "public", "", None, 0],
    "visibility": ["public", "private", "shared", "community", "Public", " public", "", None, True],
    "protected": [True, False, "true", "false", "True", 1, 0, None, []],
    "__os_feature_list": [
        "[]",
        '["sriov"]',
        ' ["a", "b"] ',
        '[\n  "ipv6"\n]\n',
        "[1, 2]",
        "{}",
        "[",
        "]",
        "sriov",
        "",
        "null",
        ["sriov"],
        [],
        {"a": 1},
        0,
        None,
        "\t[]\r\n",
    ],
    "__system__cmkid": ["", " ", "key-1", None, 1, ["k"], {"id": "k"}],
    "__support_xen": ["true", "false", "True", "TRUE", "", True, 1, None],
    "__support_kvm": ["true", "false", "True", "", True, None, "yes"],
    "__support_xen_gpu_type": ["M60_vGPU", "", "false", None, True, 1, ["M60"]],
    "__support_kvm_gpu_type": ["V100_vGPU", "RTX5000", "", None, 0, {"gpu": "V100"}],
    "__support_xen_hana": ["true", "True", "false", "", True, None],
    "__support_kvm_infiniband": ["true", "TRUE", "false", "", True, None],
    "__isregistered": ["true", "false", "True", "", True, None],
    "__is_config_init": ["true", "false", "yes", True, None],
    "__support_amd": ["true", "false", "amd", 1, None],
    "hw_vif_multiqueue_enabled": ["true", "false", "True", "", False, None],
    "tags": [
        [],
        ["owner=alice"],
        ["owner.alice"],
        ["owner"],
        ["owner="],
        ["owner."],
        ["Owner=alice"],
        ["env=prod", 1, None, "owner=bob"],
        "owner=alice",
        None,
        {"owner": "alice"},
        [["owner=alice"]],
        ["owner=alice", "owner=bob"],
        ["ownership=x"],
        [" owner=alice"],
    ],
    "owner": [PROVIDER_OWNER, TENANT_OWNERS[0], SHARING_OWNERS[0], "", None, 0, ["x"]],
    "name": ["", " ", "\n", "ok", None, 0, "x" * 5000, "<script>alert(1)</script>"],
    "id_format": [
        "BC6BED6E-BA3A-4447-AFCC-449174A3EB52",
        "bc6bed6eba3a4447afcc449174a3eb52",
        "bc6bed6e-ba3a-4447-afcc-449174a3eb5",
        " bc6bed6e-ba3a-4447-afcc-449174a3eb52",
        "é",
        "",
    ],
}
_TIME_KEYS = ["created_at", "updated_at", "active_at"]


def _odd_value(rng: random.Random) -> Any:
    pool = rng.choice([_ODD_STRINGS, _ODD_INTS, _ODD_FLOATS, _ODD_OTHER])
    return rng.choice(pool)


def _adversarial_image(rng: random.Random, index: int) -> dict:
    """One image for differential testing: a realistic image with a few hostile changes."""
    image = realistic_image(rng, index)
    style = rng.random()
    if style < 0.03:
        return {"id": image["id"]}  # nothing but an id
    if style < 0.06:
        keep = rng.sample(sorted(image), rng.randint(1, 6))
        return {k: image[k] for k in keep} | {"id": image["id"]}
    for _ in range(rng.randint(1, 6)):
        action = rng.random()
        keys = sorted(image)
        if action < 0.15:
            key = rng.choice(keys)
            if key != "id":
                del image[key]
        elif action < 0.35:
            key = rng.choice(keys)
            if key != "id":
                image[key] = _odd_value(rng)
        elif action < 0.55:
            image[rng.choice(_TIME_KEYS)] = rng.choice(_BAD_TIMESTAMPS)
        elif action < 0.95:
            key = rng.choice(sorted(_TARGETED))
            value = rng.choice(_TARGETED[key])
            if key == "id_format":
                image["id"] = value  # iter_fleet makes repeated ids unique
            else:
                image[key] = value
        else:
            image[rng.choice(["x-extra", "__unknown_attr", "Visibility", "", "ünïcode-key"])] = _odd_value(rng)
    return image


def iter_fleet(n: int, seed: int = 0, *, varied: bool = False) -> Iterator[dict]:
    """Yield ``n`` images, the same ones ``generate_fleet(n, seed, varied=varied)`` returns.

    With ``varied``, about 40 % of the images are realistic and the rest adversarial.  Ids are unique:
    a repeated id (only possible through the adversarial id formats) gets a ``-dupN`` suffix.
    """
    if n < 0:
        raise ValueError("n must be >= 0, got %d" % n)
    rng = random.Random(seed)
    seen: set[str] = set()
    for index in range(n):
        if varied and rng.random() >= 0.4:
            image = _adversarial_image(rng, index)
        else:
            image = realistic_image(rng, index)
        image_id = image["id"]
        while image_id in seen:
            image_id = "%s-dup%d" % (image["id"], index)
        image["id"] = image_id
        seen.add(image_id)
        yield image


def generate_fleet(n: int, seed: int = 0, *, varied: bool = False) -> list[dict]:
    """Return ``n`` images as a list (see ``iter_fleet``)."""
    return list(iter_fleet(n, seed, varied=varied))


def sample_fleet() -> dict:
    """The bundled sample fleet: ``{"images": [...]}`` of ``SAMPLE_SIZE`` realistic images."""
    return {"images": generate_fleet(SAMPLE_SIZE, SAMPLE_SEED)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sample", metavar="PATH", help="write the bundled sample fleet (JSON) to PATH")
    parser.add_argument("--count", type=int, default=100, help="number of images (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--varied", action="store_true", help="mix in adversarial images")
    parser.add_argument("--jsonl", metavar="PATH", help="write one image per line to PATH ('-' = stdout)")
    args = parser.parse_args(argv)
    if args.sample:
        images = sample_fleet()["images"]
        with open(args.sample, "w", encoding="utf-8", newline="\n") as fh:
            # One image per line: compact, yet a regenerated file diffs image by image.
            fh.write('{"images": [\n')
            fh.write(",\n".join(json.dumps(image, ensure_ascii=False) for image in images))
            fh.write("\n]}\n")
        return 0
    if args.count < 0:
        parser.error("--count must be >= 0")
    out = sys.stdout if args.jsonl in (None, "-") else open(args.jsonl, "w", encoding="utf-8", newline="\n")
    try:
        for image in iter_fleet(args.count, args.seed, varied=args.varied):
            out.write(json.dumps(image, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

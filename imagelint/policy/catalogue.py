"""The image attribute catalogue: every attribute of an image in ``GET /v2/images``, with its type.

One table drives the static checks (``imagelint.policy.static``): unknown attributes, type misuse,
values outside a documented set, and reads of attributes that are not always present.

Sources, in order of authority:

* the API page's response table (``images``, "Table 2"): name and type of every attribute. Note that
  most IMS extension attributes, the boolean-like ones included, are *strings* (``"true"``), and that
  ``max_ram`` and ``__image_size`` are strings while ``min_ram``/``min_disk``/``size`` are integers;
* the enumerations the page leaves blank (``ims-api-facts.md``): ``__imagetype``, ``visibility``,
  ``status``, ``hw_firmware_type``, ``virtual_env_type``; ``"true"``/``"false"`` for boolean-like strings;
* "always present": the page has no "mandatory" column for the response. IMS answers with Glance v2's
  image view, which emits the core schema properties on every image (``null`` when unset); the IMS
  extension attributes (``__*``, ``virtual_env_type``, ``hw_firmware_type``...) are added only when set
  ("Otherwise, this parameter is not required"). So only the Glance core properties count as always
  present, and of those the ones Glance may send as ``null`` are marked null-able.

A cloud that adds attributes declares them in ``imagelint.yaml`` (``attributes:``); see ``with_extra``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TYPES = ("string", "int", "bool", "list", "dyn")
"""Catalogue types, named as CEL names them (``type(x) == string``); ``list`` is a list of strings."""


@dataclass(frozen=True)
class Attribute:
    """One image attribute as the API documents it."""

    name: str
    type: str
    """One of ``TYPES``: the CEL type of the value when present and not null (``dyn``: unknown)."""
    always: bool = False
    """Present on every image (possibly ``null`` if ``nullable``): reading it needs no ``has()`` guard."""
    nullable: bool = False
    """May be ``null`` even when present."""
    values: tuple[str, ...] = ()
    """The documented set of values (strings), empty when the set is open."""

    def describe(self) -> str:
        text = f"{self.type}{' or null' if self.nullable else ''}"
        if self.values:
            text += ", one of " + ", ".join(f'"{v}"' for v in self.values)
        return text + ("" if self.always else ", not always present")


_TRUE_FALSE = ("true", "false")

_ATTRIBUTES = [
    # Glance v2 core properties: on every image.
    Attribute("id", "string", always=True),
    Attribute("name", "string", always=True, nullable=True),
    Attribute("status", "string", always=True, values=("queued", "saving", "deleted", "killed", "active")),
    Attribute("visibility", "string", always=True, values=("public", "private", "shared")),
    Attribute("protected", "bool", always=True),
    Attribute("tags", "list", always=True),
    Attribute("owner", "string", always=True, nullable=True),
    Attribute("created_at", "string", always=True),
    Attribute("updated_at", "string", always=True),
    Attribute("self", "string", always=True),
    Attribute("file", "string", always=True),
    Attribute("schema", "string", always=True),
    Attribute("min_ram", "int", always=True),
    Attribute("min_disk", "int", always=True),
    Attribute("container_format", "string", always=True, nullable=True),
    Attribute("disk_format", "string", always=True, nullable=True, values=("zvhd2", "vhd", "zvhd", "raw", "qcow2")),
    Attribute("size", "int", always=True, nullable=True),
    Attribute("virtual_size", "int", always=True, nullable=True),
    Attribute("checksum", "string", always=True, nullable=True),
    # IMS extensions and optional Glance properties: only when set.
    Attribute("active_at", "string"),
    Attribute("max_ram", "string"),
    Attribute("enterprise_project_id", "string"),
    Attribute("hw_firmware_type", "string", values=("bios", "uefi")),
    Attribute("hw_vif_multiqueue_enabled", "string", values=_TRUE_FALSE),
    Attribute("virtual_env_type", "string", values=("FusionCompute", "Ironic", "DataImage", "IsoImage")),
    Attribute("__backup_id", "string"),
    Attribute("__data_origin", "string"),
    Attribute("__description", "string"),
    Attribute("__image_location", "string"),
    Attribute("__image_size", "string"),
    Attribute("__image_source_type", "string"),
    Attribute("__imagetype", "string", values=("gold", "private", "shared", "market")),
    Attribute("__is_config_init", "string", values=_TRUE_FALSE),
    Attribute("__isregistered", "string", values=_TRUE_FALSE),
    Attribute("__lazyloading", "string", values=("true", "false", "True", "False")),
    Attribute("__originalimagename", "string"),
    Attribute("__os_bit", "string", values=("32", "64")),
    Attribute("__os_feature_list", "string"),
    Attribute("__os_type", "string", values=("Linux", "Windows", "Other")),
    Attribute("__os_version", "string"),
    Attribute(
        "__platform",
        "string",
        values=(
            "Windows",
            "Ubuntu",
            "RedHat",
            "SUSE",
            "CentOS",
            "Debian",
            "OpenSUSE",
            "Oracle Linux",
            "Fedora",
            "Other",
            "CoreOS",
            "EulerOS",
        ),
    ),
    Attribute("__root_origin", "string", values=("file",)),
    Attribute("__sequence_num", "string"),
    Attribute("__support_amd", "string", values=_TRUE_FALSE),
    Attribute("__support_diskintensive", "string", values=_TRUE_FALSE),
    Attribute("__support_fc_inject", "string", values=_TRUE_FALSE),
    Attribute("__support_highperformance", "string", values=_TRUE_FALSE),
    Attribute("__support_kvm", "string", values=_TRUE_FALSE),
    Attribute("__support_kvm_gpu_type", "string"),
    Attribute("__support_kvm_infiniband", "string", values=_TRUE_FALSE),
    Attribute("__support_largememory", "string", values=_TRUE_FALSE),
    Attribute("__support_xen", "string", values=_TRUE_FALSE),
    Attribute("__support_xen_gpu_type", "string"),
    Attribute("__support_xen_hana", "string", values=_TRUE_FALSE),
    Attribute("__system__cmkid", "string"),
]


class Catalogue(Mapping[str, Attribute]):
    """Attributes by name, with a did-you-mean for unknown ones."""

    def __init__(self, attributes: Iterable[Attribute]) -> None:
        self._by_name = {a.name: a for a in attributes}

    def __getitem__(self, name: str) -> Attribute:
        return self._by_name[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def suggest(self, name: str) -> str | None:
        """The closest known name, if one is close enough to be a likely typo."""
        # Underscores carry little meaning in these names (``__system__cmkid``), so compare without them
        # first; then fall back to plain similarity.
        bare = {k.strip("_").replace("__", "_"): k for k in self._by_name}
        hit = bare.get(name.strip("_").replace("__", "_"))
        if hit is not None:
            return hit
        close = difflib.get_close_matches(name, list(self._by_name), n=1, cutoff=0.75)
        return close[0] if close else None

    def with_extra(self, extra: Mapping[str, Attribute]) -> Catalogue:
        """This catalogue plus (or overridden by) attributes a cloud adds, declared in config."""
        return Catalogue([*(a for a in self._by_name.values() if a.name not in extra), *extra.values()])


# Properties of plain OpenStack Glance images that the API page's table does not list (the openstack pack
# reads them): signature verification, Secure Boot, memory encryption, multihash. Only when set.
_GLANCE = [
    Attribute("os_hash_algo", "string"),
    Attribute("os_hash_value", "string"),
    Attribute("hw_mem_encryption", "string"),
    Attribute("os_secure_boot", "string", values=("required", "disabled", "optional")),
    Attribute("img_signature", "string"),
    Attribute("img_signature_hash_method", "string", values=("SHA-224", "SHA-256", "SHA-384", "SHA-512")),
    Attribute(
        "img_signature_key_type",
        "string",
        values=(
            "RSA-PSS",
            "DSA",
            "ECC_SECT571K1",
            "ECC_SECT409K1",
            "ECC_SECT571R1",
            "ECC_SECT409R1",
            "ECC_SECP521R1",
            "ECC_SECP384R1",
        ),
    ),
    Attribute("img_signature_certificate_uuid", "string"),
]

IMS_ATTRIBUTES = Catalogue(_ATTRIBUTES)
"""The API page's response table, exactly."""
IMAGE_ATTRIBUTES = Catalogue(_ATTRIBUTES + _GLANCE)
"""What the static checks know: the IMS table and the Glance properties above (no cloud's extra attributes)."""

"""IMS's native list, ``GET {endpoint}/v2/cloudimages``: the API its console and SDK use, with more filters
(``enterprise_project_id``, ``flavor_id``, ``architecture``, ``virtual_env_type``) than ``/v2/images``.

Images carry the same attributes, so the same policies apply; only the paging differs. There is no
``next`` link: each page's ``page_info.next_marker`` is the ``marker`` of the next request, and the end is
a page without one. The exactly-once guarantees are ``ApiSource``'s (a marker asked for twice stops the
run, an image listed again is judged once, retries and failures as for ``/v2/images``).
"""

from __future__ import annotations

from typing import Any

from imagelint.sources.api import ApiSource
from imagelint.sources.interface import SourceError

CLOUDIMAGES_PATH = "/v2/cloudimages"
DEFAULT_PAGE_SIZE = 500
"""IMS's own default page for this API (``/v2/images`` defaults to ours, 1000)."""


class CloudImagesSource(ApiSource):
    """``GET /v2/cloudimages``, every page by ``page_info.next_marker``."""

    list_path = CLOUDIMAGES_PATH
    api_name = "cloudimages"

    def _next_request(
        self, doc: dict[str, Any], shown: str, url: str, pairs: list[tuple[str, str]]
    ) -> tuple[str, list[tuple[str, str]], str] | None:
        info = doc.get("page_info")
        if info is None:
            return None
        if not isinstance(info, dict):
            raise SourceError(f'{shown}: "page_info" is not an object')
        marker = info.get("next_marker")
        if marker is None or marker == "":
            return None
        if not isinstance(marker, str):
            raise SourceError(f'{shown}: "page_info.next_marker" is not a string')
        following = [(k, v) for k, v in pairs if k != "marker"] + [("marker", marker)]
        return url, following, f'"page_info.next_marker" ({marker})'


__all__ = ["CLOUDIMAGES_PATH", "DEFAULT_PAGE_SIZE", "CloudImagesSource"]

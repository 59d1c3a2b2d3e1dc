"""Static STAC catalogs (pystac), walked lazily over disk or HTTP; HTTP reads survive
transient faults as API searches do, and a missing or non-STAC file is bad input naming it."""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import pystac

from ..errors import SourceError, UnreachableError
from ._util import _TIMEOUT, _short
from .api import retry_policy

__all__ = ["STATIC_BACKOFF_S", "RetryingStacIO"]

#: first wait (s) between attempts at a static catalog's file over HTTP; doubles each time
STATIC_BACKOFF_S = 0.1


class RetryingStacIO(pystac.stac_io.DefaultStacIO):
    """pystac's reader with HTTP(S) reads that survive transient faults, as API searches do:
    429/5xx (honouring ``Retry-After``), dropped connections and truncated bodies are retried
    with backoff (`retry_policy`'s limits); then a `SourceError` names the URL."""

    def __init__(
        self, *, retry: Any = None, attempts: int = 6, backoff: float | None = None
    ) -> None:
        super().__init__()
        import requests
        from requests.adapters import HTTPAdapter

        self.attempts = attempts
        self.backoff = STATIC_BACKOFF_S if backoff is None else backoff
        self.session = requests.Session()
        policy = retry if retry is not None else retry_policy(backoff=self.backoff)
        adapter = HTTPAdapter(max_retries=policy)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def read_text_from_href(self, href: str) -> str:
        if not href.startswith(("http://", "https://")):
            return str(super().read_text_from_href(href))
        import requests

        last: Exception | None = None
        for attempt in range(self.attempts):
            try:
                r = self.session.get(href, timeout=_TIMEOUT)
                if r.status_code < 400:
                    return str(r.text)  # a truncated body raised above (Content-Length)
                if r.status_code not in (429, 500, 502, 503, 504):
                    raise SourceError(
                        f"{href} answered HTTP {r.status_code}",
                        field="source.catalog",
                    )
                last = OSError(f"HTTP {r.status_code}")
            except requests.RequestException as exc:  # reset, truncated body, timeout
                last = exc
            time.sleep(min(60.0, self.backoff * 2**attempt))
        raise UnreachableError(
            f"cannot read {href} after {self.attempts} attempts ({last}); "
            "check the address and the network, then run again",
            field="source.catalog",
        )


def _walk_static(href: str, collection: str) -> Iterator[pystac.Item]:
    """The items of `collection` in the static catalog at `href`, read lazily; a file that is
    missing, not JSON or not STAC is a `SourceError` naming it (bad input, exit 2)."""
    io = RetryingStacIO()
    where = href
    try:
        root = pystac.Catalog.from_file(href, stac_io=io)
        colls = {c.id: c for c in root.get_all_collections()}
        if isinstance(root, pystac.Collection):
            colls.setdefault(root.id, root)
        if collection not in colls:
            raise SourceError(
                f"{collection!r} is not in {href}; "
                f"it has: {', '.join(sorted(colls)) or 'no collections'}",
                field="source.collection",
            )
        for item in colls[collection].get_items(recursive=True):
            where = item.get_self_href() or href
            yield item
    except SourceError:
        raise
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError, AttributeError,
            pystac.STACError, pystac.errors.STACTypeError) as exc:  # fmt: skip
        at = f" (at or after {where})" if where != href else ""
        raise SourceError(
            f"cannot read static catalog {href}{at}: {_short(exc)}; accepted: "
            "a STAC catalog.json whose children and items exist and are STAC JSON",
            field="source.catalog",
        ) from None

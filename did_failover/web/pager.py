"""The DIDs grid's query string: what a request asks for, and the links of the page it gets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from did_failover.admin.paging import MAX_OFFSET, TransferPage
from did_failover.numbers import whole_number
from did_failover.storage.records import PAGE_ORDERS

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class GridQuery:
    """One request of the grid: the search, the order, and which page (`page` is the number shown)."""

    search: str
    order: str
    direction: str
    page: int
    after: str | None
    before: str | None
    last: bool
    offset: int

    @classmethod
    def read(cls, query: QueryParams) -> GridQuery:
        """The request's query string; a value out of bounds falls back, so that no link can fail.

        A link without a cursor to a page within MAX_OFFSET rows (an old bookmark) is read by offset;
        a deeper one shows the last page."""
        order = query.get("order", "did")
        after, before = query.get("after") or None, query.get("before") or None
        page = max(whole_number(query.get("page", "1"), 6) or 1, 1)
        last = query.get("last") == "1" and not (after or before)
        offset = 0 if after or before or last else (page - 1) * PAGE_SIZE
        if offset > MAX_OFFSET:
            offset, last = 0, True
        return cls(
            search=query.get("search", "")[:64],
            order=order if order in PAGE_ORDERS else "did",
            direction="desc" if query.get("direction") == "desc" else "asc",
            page=page,
            after=after,
            before=before,
            last=last,
            offset=offset,
        )

    def url(self, **changes: Any) -> str:
        """This search and order with `changes` (a page's cursor and number), as a link."""
        values = {"search": self.search, "order": self.order, "direction": self.direction, **changes}
        return "/dids?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_url(self, key: str) -> str:
        """The link of a column's heading: sorted by it, the other way round when it is the order."""
        flip = "desc" if key == self.order and self.direction == "asc" else "asc"
        return self.url(order=key, direction=flip)

    def links(self, page: TransferPage) -> dict[str, Any]:
        """The page's number, how many there are, and the links to this page and around it."""
        pages = max(1, math.ceil(page.total / PAGE_SIZE))
        number = self.page
        if page.total_exact:
            number = pages if self.last else min(number, pages)
        here = {"after": self.after, "before": self.before, "last": "1" if self.last else None}
        return {
            "page": number,
            "pages": pages,
            "first_url": self.url() if page.previous else None,
            "previous_url": self.url(before=page.previous, page=max(number - 1, 1))
            if page.previous
            else None,
            "next_url": self.url(after=page.next, page=number + 1) if page.next else None,
            "last_url": self.url(last="1", page=pages) if page.next else None,
            "back": self.url(**here, page=number),
        }

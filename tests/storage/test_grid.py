"""The DIDs grid's pages on both back ends: every order, both ways, every scope and the search, by
cursor, against the same rows sorted in Python; and the keys, counts and suffixes the triggers keep."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from did_failover.storage import Repository, TransferRow, open_repository
from did_failover.storage import _grid as grid
from did_failover.storage.records import PAGE_ORDERS, DIDPage, PageKey
from tests.support.db import execute

RESELLERS = {"100": ["1001", "1002", "A-1"], "200": ["2001"]}
DIRECT = "3001"
DESTINATIONS = [None, "pstn:+4930999", "pstn:+4930111", "sip:vm@voicemail.example.com", "endpoint:desk-1"]


@pytest.fixture
async def repo(repo_url: str) -> AsyncIterator[Repository]:
    """A database with 2 resellers, 5 customers and 120 DIDs of assorted settings (a fixed seed)."""
    async with open_repository(repo_url, 5.0) as repository:
        await repository.init_schema()
        for reseller, customers in RESELLERS.items():
            await repository.add_account(reseller, f"Reseller {reseller}", "reseller", None)
            for customer in customers:
                await repository.add_account(customer, f"Customer {customer}", "customer", reseller)
        await repository.add_account(DIRECT, "Direct", "customer", None)
        owners = [*RESELLERS["100"], *RESELLERS["200"], DIRECT]
        chance = random.Random(29)
        transfers = []
        for i in range(120):
            number = f"1555{chance.randrange(10**7):07d}" if i % 7 else f"4477700{i:04d}"
            await repository.add_did(
                number, owners[i % len(owners)], f"endpoint:desk-{chance.randrange(9)}", 30, 0
            )
            if i % 5:
                transfers.append(
                    TransferRow(
                        did=number,
                        enabled=bool(i % 3),
                        always=chance.choice(DESTINATIONS),
                        busy=chance.choice(DESTINATIONS),
                        no_answer=chance.choice(DESTINATIONS),
                        unavailable=chance.choice(DESTINATIONS),
                        transfer_timeout=30,
                        caller_id="keep",
                        updated_by="test",
                    )
                )
        await repository.set_transfers(transfers)
        yield repository


def _sort_key(order: str, did: object, account: object, transfer: TransferRow | None) -> str:
    """What the grid sorts by, computed from the rows as shown (not from the stored keys)."""
    value: object = {
        "did": "",
        "account": account.number,  # type: ignore[attr-defined]
        "did_type": did.primary,  # type: ignore[attr-defined]
        "number": did.primary,  # type: ignore[attr-defined]
        "status": "" if transfer is None else ("1" if transfer.enabled else "0"),
    }.get(order)
    if value is None and order in ("busy", "no_answer", "unavailable", "always"):
        value = (getattr(transfer, order) or "") if transfer else ""
    return str(value)[:64]


async def _everything(repo: Repository, order: str, descending: bool, **scope: str | None) -> list[str]:
    """Every DID in scope, sorted in Python as the grid must show them."""
    page = await repo.page_dids(order=order, limit=1000, **scope)  # type: ignore[arg-type]
    rows = sorted(page.rows, key=lambda r: (_sort_key(order, *r), r[0].number), reverse=descending)
    return [r[0].number for r in rows]


async def _walk(repo: Repository, forward: bool, **query: object) -> tuple[list[str], list[DIDPage]]:
    """Every page from the first onwards by `after`, or from the last backwards by `before`."""
    pages = [await repo.page_dids(limit=7, last=not forward, **query)]  # type: ignore[arg-type]
    while pages[-1].more_after if forward else pages[-1].more_before:
        edge = {"after": pages[-1].last} if forward else {"before": pages[-1].first}
        pages.append(await repo.page_dids(limit=7, **edge, **query))  # type: ignore[arg-type]
        assert len(pages) < 100
    if not forward:
        pages.reverse()
    return [row[0].number for page in pages for row in page.rows], pages


SCOPES = [
    {},
    {"reseller": "100"},
    {"reseller": "200"},
    {"account": "A-1"},
    {"reseller": "100", "account": "2001"},
]


@pytest.mark.parametrize("plan", ["walk", "gather"])
async def test_every_order_pages_forward_and_back_like_a_sort(
    repo: Repository, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For every order, both ways, and every scope, walking the pages by cursor from the first or
    from the last gives each DID in scope once, in the order a sort gives, on either plan."""
    if plan == "walk":
        monkeypatch.setattr(grid, "GATHER_MAX", 0)
        monkeypatch.setattr(grid, "DENSE_SHARE", 0.0)
    else:
        monkeypatch.setattr(grid, "DENSE_SHARE", 2.0)
    for scope in SCOPES:
        for order in PAGE_ORDERS:
            for descending in (False, True):
                expected = await _everything(repo, order, descending, **scope)
                query = {"order": order, "descending": descending, **scope}
                forward, pages = await _walk(repo, True, **query)
                assert forward == expected, (scope, order, descending)
                backward, _ = await _walk(repo, False, **query)
                assert backward == expected, (scope, order, descending)
                assert {p.total for p in pages} == {len(expected)}
                assert all(p.total_exact for p in pages)


async def test_the_first_page_by_offset_and_the_edges_of_each_page(repo: Repository) -> None:
    """An offset page is the slice of the sort; a page after the last row is empty and says so."""
    expected = await _everything(repo, "busy", False)
    page = await repo.page_dids(order="busy", limit=10, offset=20)
    assert [r[0].number for r in page.rows] == expected[20:30]
    assert page.more_before and page.more_after
    assert page.first == PageKey(_key(page, 0), expected[20])
    end = await repo.page_dids(order="busy", limit=10, after=PageKey("\U0010ffff", "9"))
    assert end.rows == [] and not end.more_after and end.first is None


def _key(page: DIDPage, index: int) -> str:
    return _sort_key("busy", *page.rows[index])


@pytest.mark.parametrize("plan", ["walk", "gather"])
async def test_search_finds_part_of_a_number_or_of_an_account_in_scope_only(
    repo: Repository, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search matches DIDs whose number contains it (3 digits or more through the suffixes, fewer
    by LIKE) or whose account's number contains it, only within the scope, paged like the rest."""
    if plan == "walk":
        monkeypatch.setattr(grid, "GATHER_MAX", 0)
        monkeypatch.setattr(grid, "COUNT_CAP", 3)
        monkeypatch.setattr(grid, "DENSE_SHARE", 0.0)
    everything = await repo.page_dids(limit=1000)
    for scope in SCOPES:
        shown = await repo.page_dids(limit=1000, **scope)  # type: ignore[arg-type]
        for search in ("777", "4477700", "55", "5", "A-1", "a-", "100", "+44 777", "x%", "_", "0000"):
            digits = search.replace("+", "").replace(" ", "")
            expected = sorted(
                d.number
                for d, a, _ in shown.rows
                if (digits.isdigit() and digits in d.number) or search.lower() in a.number.lower()
            )
            found, pages = await _walk(repo, True, order="did", search=search, **scope)
            assert found == expected, (scope, search)
            if pages[0].total_exact:
                assert pages[0].total == len(expected), (scope, search)
            else:
                assert pages[0].total == grid.COUNT_CAP < len(expected), (scope, search)
    assert len(everything.rows) == 120


async def test_the_triggers_keep_keys_counts_and_suffixes_through_every_change(
    repo: Repository, repo_url: str
) -> None:
    """Moving a DID, changing and removing its transfer settings, renumbering it by hand and
    removing it keep its sort keys, the per-account counts and its suffixes right."""
    number = (await repo.page_dids(account="1001", limit=1)).rows[0][0].number

    def state() -> tuple[object, ...]:
        keys = execute(
            repo_url, "SELECT account_key, busy_key, status_key FROM did_grid WHERE number = ?", (number,)
        )
        counts = dict(
            execute(
                repo_url, "SELECT a.number, c.dids FROM account_dids c JOIN accounts a ON a.id = c.account_id"
            )
        )
        real = dict(
            execute(
                repo_url,
                "SELECT a.number, COUNT(*) FROM dids d JOIN accounts a ON a.id = d.account_id"
                " GROUP BY a.number",
            )
        )
        suffixes = execute(repo_url, "SELECT COUNT(*) FROM did_suffixes")[0][0]
        lengths = execute(repo_url, "SELECT SUM(LENGTH(number) - 2) FROM dids")[0][0]
        return keys, {k: v for k, v in counts.items() if v}, real, suffixes, lengths

    keys, counts, real, suffixes, lengths = state()
    assert counts == real and suffixes == lengths
    await repo.update_did(number, account="2001")
    long_list = "pstn:+4930111," * 10 + "pstn:+4930112"
    await repo.set_transfers([TransferRow(number, False, None, long_list, None, None, 30, "keep", "t")])
    keys, counts, real, suffixes, lengths = state()
    assert keys == [("2001", long_list[:64], "0")]
    assert counts == real and suffixes == lengths
    await repo.set_transfers([TransferRow(number, True, None, None, None, None, 30, "keep", "t")])
    assert state()[0] == [("2001", "", "1")]
    found = execute(repo_url, "SELECT id FROM dids WHERE number = ?", (number,))[0][0]
    execute(repo_url, "DELETE FROM did_transfers WHERE did_id = ?", (found,))
    assert state()[0] == [("2001", "", "")]
    execute(repo_url, "UPDATE dids SET number = ? WHERE id = ?", ("4412345678901234", found))
    number = "4412345678901234"
    assert (await repo.page_dids(search="5678901")).rows[0][0].number == number
    keys, counts, real, suffixes, lengths = state()
    assert suffixes == lengths
    assert await repo.remove_did(number)
    keys, counts, real, suffixes, lengths = state()
    assert keys == [] and counts == real and suffixes == lengths

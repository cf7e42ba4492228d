"""Forward loops through our own DIDs, found when a change is saved rather than when a call runs
into them: A busy to B and B busy to A would bounce a caller until the hop limit ends the call.

Every DID is a node; a PSTN destination that is one of our DIDs, as a primary or as any member of
any step of any list, is an edge named by its condition. Loops are followed through the DIDs of
every account, since a call crosses tenants; a refusal names DIDs the caller does not see only as
"a DID of another account". The hop counter stays for loops through numbers outside the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from did_failover.admin.scope import Scope, Scoped
from did_failover.conditions import Condition
from did_failover.errors import InputError, InvalidDestination, NotFound
from did_failover.numbers import strip_plus
from did_failover.routing.destinations import parse_destination
from did_failover.routing.forwards import forwards
from did_failover.storage.base import Repository
from did_failover.storage.records import DIDRoute, TransferRow

PRIMARY = "primary"
HIDDEN = "a DID of another account"
MAX_DIDS = 10_000
"""DIDs one search follows at most; a longer chain is left to the hop counter."""


class Hop(NamedTuple):
    """A call to one DID reaching another: through which field (primary, busy, ...)."""

    field: str
    did: str


class ForwardLoop(InputError):
    """The change would send calls round our own DIDs; `field` is the list (or primary) of `did`
    that starts the loop."""

    def __init__(self, reason: str, field: str, did: str) -> None:
        super().__init__(reason, field)
        self.did = did


def hops(primary: str | None, lists: DIDRoute | TransferRow | None = None) -> list[Hop]:
    """The DIDs a DID's primary and forward lists (a route as the router reads it, or transfer
    settings as a change proposes them) can send a call to: PSTN numbers only; a list that does
    not parse sends nowhere here (it is refused on its own)."""
    found = [Hop(PRIMARY, did) for did in _pstn([primary])] if primary else []
    for condition in Condition if lists is not None else ():
        try:
            steps = forwards(getattr(lists, condition.field), condition.field)
        except InvalidDestination:
            continue
        found += [Hop(condition.field, did) for did in _pstn(m for step in steps for m in step.members)]
    return found


def _pstn(destinations: Iterable[str]) -> list[str]:
    numbers = []
    for text in destinations:
        try:
            destination = parse_destination(text, "destination")
        except InvalidDestination:
            continue
        if destination.kind == "pstn":
            numbers.append(strip_plus(destination.value))
    return numbers


HopsOf = Callable[[str], Awaitable[Sequence[Hop]]]
"""The hops of a DID (none for a number that is no DID), as stored or as a change proposes."""


async def find_loop(start: str, hops_of: HopsOf) -> list[Hop] | None:
    """A cycle through `start`: the hops from `start` back to it, or None. Depth-first, each DID
    followed once."""
    seen = {start}
    path: list[Hop] = []
    stack: list[list[Hop]] = [list(await hops_of(start))]
    while stack:
        if not stack[-1]:
            stack.pop()
            if path:
                path.pop()
            continue
        hop = stack[-1].pop(0)
        if hop.did == start:
            return [*path, hop]
        if hop.did in seen or len(seen) >= MAX_DIDS:
            continue
        seen.add(hop.did)
        path.append(hop)
        stack.append(list(await hops_of(hop.did)))
    return None


async def all_loops(graph: Mapping[str, Sequence[Hop]]) -> list[tuple[str, list[Hop]]]:
    """Every loop of a whole graph (DID -> its hops to other DIDs), each reported once, from its
    lowest DID: for `did-failover check`, which finds the loops only hand-edited SQL can make."""
    found: list[tuple[str, list[Hop]]] = []
    on_loop: set[str] = set()

    async def hops_of(did: str) -> Sequence[Hop]:
        return graph.get(did, ())

    for did in sorted(graph):
        if did in on_loop or not graph[did]:
            continue
        cycle = await find_loop(did, hops_of)
        if cycle is not None:
            found.append((did, cycle))
            on_loop.update(hop.did for hop in cycle)
    return found


def describe(start: str, cycle: Sequence[Hop], shown: Callable[[str], bool]) -> str:
    """`15551230001 -> 15551230002 -> 15551230001 (busy, busy)`: DIDs the caller may not see, and the
    field of the hop out of them, are not named."""
    numbers = [start, *(hop.did for hop in cycle)]
    names = [did if shown(did) else HIDDEN for did in numbers]
    fields = [
        hop.field.replace("_", " ") if shown(origin) else "hidden"
        for origin, hop in zip(numbers, cycle, strict=False)
    ]
    return f"{' -> '.join(names)} ({', '.join(fields)})"


def loop_refusal(start: str, cycle: Sequence[Hop], shown: Callable[[str], bool]) -> ForwardLoop:
    """The refusal of a change that closes `cycle`, named by the field of its first hop."""
    text = describe(start, cycle, shown)
    return ForwardLoop(f"this would make a forward loop: {text}", cycle[0].field, start)


async def stored_loops(repo: Repository) -> list[str]:
    """Every forward loop the database holds, described in full (the admin's view)."""
    transfers = {t.did: t for t in await repo.list_transfers()}
    graph = {row.number: hops(row.primary, transfers.get(row.number)) for row in await repo.list_dids()}
    numbers = set(graph)
    graph = {did: [hop for hop in out if hop.did in numbers] for did, out in graph.items()}
    return [describe(did, cycle, lambda _: True) for did, cycle in await all_loops(graph)]


class LoopGuard(Scoped):
    """The service's check that a change closes no forward loop, across every account."""

    async def _refuse_loops(self, scope: Scope, proposed: Mapping[str, Sequence[Hop]]) -> None:
        """Refuse (ForwardLoop) a change that gives these DIDs these hops, when one of them then
        lies on a loop; nothing is written either way."""
        # The DIDs of the change count as ours even before they are written (a DID being added).
        ours = set(proposed)

        async def known(out: Iterable[Hop]) -> set[str]:
            return await self.repo.known_dids(hop.did for hop in out) | ours

        # Every hop of the change in one lookup (a CSV file's rows); the DIDs they reach as needed.
        first = await known(hop for out in proposed.values() for hop in out)
        cache: dict[str, Sequence[Hop]] = {
            did: [hop for hop in out if hop.did in first] for did, out in proposed.items()
        }

        async def hops_of(did: str) -> Sequence[Hop]:
            if did not in cache:
                route = await self.repo.get_route(did)
                out = hops(route.primary, route) if route is not None else []
                reached = await known(out)
                cache[did] = [hop for hop in out if hop.did in reached]
            return cache[did]

        for did in proposed:
            cycle = await find_loop(did, hops_of) if cache[did] else None
            if cycle is not None:
                shown = {did} | {d for d in {h.did for h in cycle} if await self._sees_did(scope, d)}
                raise loop_refusal(did, cycle, shown.__contains__)

    async def _sees_did(self, scope: Scope, did: str) -> bool:
        try:
            await self._did(scope, did)
        except NotFound:
            return False
        return True

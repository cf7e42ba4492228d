"""The `did-failover` route: look the DID up, dial the primary, fail over by DIALSTATUS, tell the dialplan."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from did_failover.calls.tracker import CallTracker, TrackedCall
from did_failover.errors import InvalidDestination, InvalidSchedule, StorageUnavailable
from did_failover.logs import get_logger
from did_failover.numbers import ACCOUNT_NUMBER, STORED_DID, strip_plus, whole_number
from did_failover.routing.ahead import dial_ahead, final_assignments, read_leg, read_voicemail
from did_failover.routing.cache import RouteCache
from did_failover.routing.decision import (
    REASONS,
    Dial,
    Finish,
    Leg,
    Next,
    Result,
    Voicemail,
    after_primary,
    after_step,
    after_voicemail,
    first_leg,
    result_of,
    transfer_on,
)
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.limits import RedisLimits
from did_failover.routing.ringing import plan_dial
from did_failover.routing.schedule import cached_schedule, remember_schedule
from did_failover.storage.records import DIDRoute
from fastagi.errors import CallerHungUp
from fastagi.session import AGISession

log = get_logger("did_failover.routing")

ROUTE = "did-failover"
"""The script path the dialplan names, `AGI(agi://server:4573/did-failover)`: this handler's route."""
GROUP_CATEGORY = "did-failover"
"""GROUP() category that counts a DID's concurrent calls in Asterisk, so several servers agree."""


def did_of(session: AGISession) -> str:
    """The DID: the first AGI argument, else the extension; a leading + is ignored."""
    request = session.request
    assert request is not None
    raw = request.args[0] if request.args and request.args[0] else request.extension
    return strip_plus(raw.strip())


class DIDFailover:
    """Handler of the `did-failover` route; one instance serves every session."""

    def __init__(
        self,
        cache: RouteCache,
        templates: DialTemplates,
        max_hops: int,
        tracker: CallTracker | None = None,
        max_ring: int = 180,
        limits: RedisLimits | None = None,
        look_ahead: bool = True,
    ) -> None:
        self.cache = cache
        self.templates = templates
        self.max_hops = max_hops
        self.max_ring = max_ring
        """DID_FAILOVER_MAX_RING_TOTAL: most seconds one call rings through a DID's legs."""
        self.limits = limits
        """The `redis` limit backend; None: the `asterisk` one (GROUP_COUNT, per Asterisk)."""
        self.look_ahead = look_ahead
        """Each leg's read-back also sets what its usual outcomes need next (routing/ahead.py);
        off for `simulate`, which shows every assignment as a command of its own."""
        self.clock: Callable[[], datetime] = _utc_now
        """When a call happens, for business hours (`simulate --at` sets another)."""
        # Without call history (tests, `simulate`) the tracker hands its rows to nobody.
        self.tracker = tracker if tracker is not None else CallTracker(lambda row: None)
        self.results: collections.Counter[tuple[str, str]] = collections.Counter()
        """Calls routed, by (DID_FAILOVER_RESULT, last leg dialled or ''): the results metric."""

    async def __call__(self, session: AGISession) -> None:
        """Route one inbound DID call and set DID_FAILOVER_RESULT, _LEG, _STEP and _DIALSTATUS."""
        fields = session.fields
        did = did_of(session)
        fields["did"] = did
        request = session.request
        assert request is not None
        outcome = _Outcome(self.tracker.start(request.uniqueid, did, request.callerid))
        try:
            await self._finish(session, did, outcome)
        finally:
            if outcome.slot is not None and self.limits is not None:
                self.limits.release(outcome.slot)
            leg = outcome.leg
            self.tracker.finish(
                outcome.call, str(outcome.result), str(leg) if leg else None, fields.get("account")
            )

    async def _finish(self, session: AGISession, did: str, outcome: _Outcome) -> None:
        """Route, then tell the dialplan (and, on errors, fail the session so its fallback runs)."""
        fields = session.fields
        try:
            await self._route(session, did, outcome)
        except CallerHungUp:
            outcome.result = Result.CALLER_HANGUP
        except StorageUnavailable as exc:
            outcome.result, outcome.error = Result.ERROR, f"database unavailable: {exc}"
        except (InvalidDestination, InvalidSchedule) as exc:
            outcome.result, outcome.error = Result.ERROR, str(exc)
        # Result and Leg are StrEnums: as str (f-strings, the JSON line) they are their values.
        result, leg = outcome.result, outcome.leg or ""
        step = outcome.step or ""
        fields["result"] = result
        fields["leg"] = leg
        self.results[result, leg] += 1
        if outcome.dialstatus:
            fields["dialstatus"] = outcome.dialstatus
        attempts = outcome.call.attempts
        if sum(a.step > 0 for a in attempts) > 1:  # more than one forward step: every attempt, in order
            fields["legs"] = [a.text() for a in attempts]
        final = final_assignments(result, leg, step, outcome.dialstatus)
        if final != outcome.held or outcome.error is not None:  # else the last read-back set it all
            await session.exec("MSet", final)
        if outcome.error is not None:
            fields["error"] = outcome.error
            await session.fail(f"did-failover: {outcome.error}; the dialplan fallback takes the call")
        session.outcome = result.lower()

    async def _route(self, session: AGISession, did: str, outcome: _Outcome) -> None:
        route, source = await self.cache.lookup(did)
        session.fields["cache"] = source
        step = first_leg(route, 0, self.max_hops)
        if isinstance(step, Finish):  # unknown or inactive: nothing to read or set on the channel
            outcome.result = step.result
            return
        assert route is not None
        if not STORED_DID.fullmatch(route.did):  # goes into GROUP() and REDIRECTING()
            raise InvalidDestination(f"DID {route.did[:40]!r} in the database is not 3 to 20 digits")
        session.fields["account"] = route.account_number
        hops, outcome.redirects, group_count = await self._prepare(session, route)
        step = first_leg(route, hops, self.max_hops, await self._closed(session, route), self.max_ring)
        if isinstance(step, Finish):
            outcome.result = step.result
            return
        if route.max_channels and await self._at_limit(session, route, group_count, outcome):
            await session.exec("MSet", f"GROUP({GROUP_CATEGORY})=")
            outcome.result = Result.BUSY
            session.fields["limit"] = route.max_channels
            return
        rung = 0
        before = Result.UNAVAILABLE  # what a first-step voicemail that fails leaves
        while True:
            if isinstance(step, Voicemail):
                status = await self._voicemail(session, route, step, outcome, before)
                outcome.result = after_voicemail(step, status, before).result
                return
            rung += step.timeout
            status, cause = await self._dial(session, route, step, outcome, rung)
            nxt: Next
            if step.leg is Leg.PRIMARY:
                session.fields["primary"] = status
                nxt = after_primary(route, status, cause, self.max_ring)
            else:
                nxt = after_step(route, step, status, cause, rung, self.max_ring)
            if isinstance(nxt, Finish):
                outcome.result = nxt.result
                return
            session.check_alive()
            before = result_of(status, cause)
            step = nxt

    async def _at_limit(
        self, session: AGISession, route: DIDRoute, group_count: int, outcome: _Outcome
    ) -> bool:
        """True when the DID has its `max_channels` calls already: across every server and Asterisk
        with the redis backend (this call then holds a slot), else (or while Redis is unreachable)
        on this Asterisk, by GROUP_COUNT."""
        limits = self.limits
        if limits is not None:
            call = (
                session.request.uniqueid if session.request and session.request.uniqueid else str(id(session))
            )
            admitted = await limits.admit(route.did, call, route.max_channels)
            if admitted is not None:
                if admitted:
                    outcome.slot = call
                return not admitted
            session.fields["limit_fallback"] = "group_count"
            if group_count <= route.max_channels:
                limits.hold(route.did, call)
                outcome.slot = call
        return group_count > route.max_channels

    async def _closed(self, session: AGISession, route: DIDRoute) -> bool:
        """True when the DID has a schedule, an after-hours list and transfer on, and is closed now."""
        if route.always or not (route.schedule and route.after_hours and transfer_on(route)):
            return False  # ALWAYS wins at every hour: no need to know the hours
        schedule = cached_schedule(route.schedule)
        if schedule is None:  # first call with this schedule: its zone file is read off the loop
            schedule = await asyncio.to_thread(remember_schedule, route.schedule)
        closed = not schedule.is_open(self.clock())
        session.fields["hours"] = "closed" if closed else "open"
        return closed

    async def _prepare(self, session: AGISession, route: DIDRoute) -> tuple[int, int, int]:
        """One round trip: read the hop count (inherited) and REDIRECTING count, then count this hop,
        bill legs to the DID owner and, when the DID is limited, join its group and read its size.

        GET FULL VARIABLE evaluates left to right, so the counts are read before SET changes them.
        """
        expression = _prepare_expression(route.did, route.account_number, route.max_channels)
        parts = (await session.get_full_variable(expression) or "").split(",")
        group_count = _number(parts[-1]) if route.max_channels and len(parts) >= 4 else 0
        return _number(parts[0]), _number(parts[1] if len(parts) > 1 else ""), group_count

    async def _dial(
        self, session: AGISession, route: DIDRoute, step: Dial, outcome: _Outcome, rung: int
    ) -> tuple[str, str]:
        """Dial one leg and return its DIALSTATUS (UNCONFIRMED for a callee that did not press 1; for
        a ring-all step, what its members amount to) and HANGUPCAUSE. The read-back also sets, by
        its outcome, what comes next (`rung`: seconds rung once this leg has)."""
        session.check_alive()
        leg = step.leg
        name = leg.lower()  # Leg is a StrEnum: str methods give plain strings
        forwarded = leg is not Leg.PRIMARY
        caller_id = route.did if forwarded and route.caller_id == "did" else None
        request = session.request
        channel = request.channel if request is not None else ""
        plan = plan_dial(self.templates, step, caller_id, route.did, channel, f"{name} destination")
        await self._leg_starts(session, route, step, outcome, plan.sets)
        await session.exec("Dial", plan.dial)
        ahead = dial_ahead(route, step, rung, outcome.redirects, self.max_ring) if self.look_ahead else None
        ended, outcome.held, outcome.redirected = await read_leg(session, step, plan.expression, ahead)
        outcome.dialstatus = ended.status
        self.tracker.dialed(
            outcome.call, str(leg), ended.status, ended.cause, ended.answered_ms, ended.members
        )
        _leg_ended(session, step)
        if ended.status == "CANCEL":
            raise CallerHungUp("caller hung up while the destination rang")
        return ended.status, ended.cause

    async def _voicemail(
        self, session: AGISession, route: DIDRoute, step: Voicemail, outcome: _Outcome, before: Result
    ) -> str:
        """Leave the call in a mailbox and return VMSTATUS (read even once the caller has hung up:
        hanging up is how a caller ends a message); the read-back sets the call's result, which a
        voicemail step always decides (`before`: the result that led there)."""
        session.check_alive()
        leg = step.leg
        name = leg.lower()
        arguments = self.templates.voicemail_arguments(
            step.destination, step.busy_greeting, f"{name} destination"
        )
        await self._leg_starts(session, route, step, outcome)
        await session.exec("VoiceMail", arguments)
        if self.look_ahead:
            status, outcome.held = await read_voicemail(session, step, before, outcome.dialstatus)
        else:
            status = await session.get_variable("VMSTATUS") or ""
        self.tracker.dialed(outcome.call, str(leg), status)
        _leg_ended(session, step)
        session.fields["vmstatus"] = status
        return status

    async def _leg_starts(
        self, session: AGISession, route: DIDRoute, step: Dial | Voicemail, outcome: _Outcome, sets: str = ""
    ) -> None:
        """Before a leg: mark a forwarded one as forwarded by this DID (what a Diversion header says),
        whichever step, along with what its Dial needs set (`sets`), and note it as the leg that
        handles the call now (each member of a ring-all step as an attempt of its own)."""
        leg = step.leg
        redirected, outcome.redirected = outcome.redirected, None
        if leg is not Leg.PRIMARY and (sets or redirected != step or type(redirected) is not type(step)):
            await session.exec(
                "MSet",
                f"REDIRECTING(from-num,i)={route.did},"
                f"REDIRECTING(reason,i)={REASONS[leg]},"
                f"REDIRECTING(count,i)={outcome.redirects + 1}" + (f",{sets}" if sets else ""),
            )
        outcome.leg, outcome.step = leg, step.step
        for member in step.members if isinstance(step, Dial) else (step.destination,):
            self.tracker.dialing(outcome.call, str(leg), member, step.step)


def _leg_ended(session: AGISession, step: Dial | Voicemail) -> None:
    """The leg's destination (and, past the first, its step) in the session's log line."""
    session.fields[f"{step.leg.lower()}_dest"] = step.destination
    if step.step > 1:
        session.fields["step"] = step.step


@lru_cache(maxsize=4096)
def _prepare_expression(did: str, account: str, max_channels: int) -> str:
    """The GET FULL VARIABLE expression of `_prepare` for a DID (its number was checked already);
    remembered, as a DID's calls all send the same one."""
    sets = "${SET(__DID_FAILOVER_HOPS=$[0${DID_FAILOVER_HOPS}+1])}"
    if ACCOUNT_NUMBER.fullmatch(account):
        sets += f"${{SET(CHANNEL(accountcode)={account})}}"
    expression = "${DID_FAILOVER_HOPS},${REDIRECTING(count)}," + sets
    if max_channels:
        group = f"{did}@{GROUP_CATEGORY}"
        expression += f"${{SET(GROUP({GROUP_CATEGORY})={did})}},${{GROUP_COUNT({group})}}"
    return expression


class _Outcome:
    """What the handler reports when it ends."""

    __slots__ = (
        "call", "dialstatus", "error", "held", "leg", "redirected", "redirects", "result", "slot", "step",
    )  # fmt: skip

    def __init__(self, call: TrackedCall) -> None:
        self.call = call
        self.result = Result.ERROR
        self.leg: Leg | None = None
        self.step = 0
        self.slot: str | None = None
        """The call's slot in the redis channel limit, given back when the session ends."""
        self.dialstatus = ""
        self.error: str | None = None
        self.held: str | None = None
        """The final assignments a read-back made already (routing/ahead.py)."""
        self.redirected: Dial | Voicemail | None = None
        self.redirects = 0
        """REDIRECTING(count) as the call came in."""
        """The next leg whose REDIRECTING the last read-back set."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _number(text: str | None) -> int:
    """A counter read from the channel; anything that is not a number counts as 0."""
    return whole_number(text or "", 18) or 0

"""`did-failover simulate`: play one call through the real routing handler against a fake Asterisk.

The DID's settings come from the configured database; the server, the handler and the wire protocol
are the production ones. Only Asterisk is played, in-process, answering Dial with the statuses asked for.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from did_failover.console import EXIT_FAILED, EXIT_INPUT, error
from did_failover.errors import InvalidSchedule, StorageUnavailable
from did_failover.logs import configure, get_logger, log_session
from did_failover.numbers import strip_plus
from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import ROUTE, DIDFailover
from did_failover.routing.ringing import ACCEPTED, DIAL_RESULT, MEMBER_CONTEXT
from did_failover.routing.schedule import parse_schedule
from did_failover.settings import Settings, load_settings_or_report
from did_failover.storage import Repository, check_schema, open_repository
from did_failover.storage.records import DIDRoute
from fastagi.client import call, environment
from fastagi.server import Server

log = get_logger("did_failover.tools")
STATUSES = ("ANSWER", "BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION")
"""DIALSTATUS values a simulated leg can end with."""

CAUSES = {"ANSWER": 16, "BUSY": 17, "NOANSWER": 19, "CHANUNAVAIL": 20, "CONGESTION": 34}
ANSWERED_MS = 60_000
"""How long a simulated answered leg talks (ANSWEREDTIME_MS)."""
"""The HANGUPCAUSE Asterisk typically reports with each DIALSTATUS."""

CAUSE_NAMES = {
    16: "normal clearing",
    17: "user busy",
    19: "no answer",
    20: "subscriber absent",
    21: "rejected",
}

EXIT_NOT_FOUND = EXIT_INPUT
"""Exit code when the DID is unknown (the result is NOT_FOUND): most likely a typo in the DID."""


@dataclass
class _Leg:
    status: str
    cause: int


@dataclass
class FakeAsterisk:
    """Answers the handler's commands like a channel whose Dials end with the given statuses."""

    primary: _Leg
    transfers: list[_Leg]
    """How each transfer leg ends, in order; the last one repeats."""
    steps: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    _forwards: int = 0
    """Transfer legs dialled so far (each follows a REDIRECTING() MSet); 0 while the primary rings."""
    primary_dialled: bool = False

    def __call__(self, command: str) -> list[str]:
        """One reply (list of lines) for one command line."""
        verb, _, rest = command.partition(" ")
        if verb == "EXEC":
            app, _, options = rest.partition(" ")
            self._exec(app, _unquote(options))
            return ["200 result=0"]
        if verb == "GET" and rest.startswith("FULL VARIABLE "):
            return [f"200 result=1 ({self._evaluate(_unquote(rest.removeprefix('FULL VARIABLE ')))})"]
        if verb == "GET" and rest == "VARIABLE VMSTATUS":
            return ["200 result=1 (SUCCESS)"]
        if verb == "VERBOSE":
            self.steps.append(("verbose", _unquote(rest.rpartition(" ")[0])))
        return ["200 result=1"]

    def _exec(self, app: str, options: str) -> None:
        if app == "MSet":
            if "REDIRECTING(reason,i)=" in options:
                self._forwards += 1
            for assignment in _split_arguments(options):
                name, _, value = assignment.partition("=")
                self.variables[name] = value
                self.steps.append(("set", assignment))
        elif app == "Dial":
            self.primary_dialled = self.primary_dialled or self._forwards == 0
            leg = self._leg()
            if f"@{MEMBER_CONTEXT}" in options:  # ring all: name what each Local channel dials
                count = options.count(f"@{MEMBER_CONTEXT}")
                members = [self.variables.get(f"__DID_FAILOVER_MEMBER_{n}", "") for n in range(1, count + 1)]
                confirm = self.variables.get("__DID_FAILOVER_MEMBER_OPTIONS")
                self.steps.append(
                    ("ring all", " & ".join(members) + (", the callee presses 1" if confirm else ""))
                )
            self.steps.append(("dial", f"{options} -> {leg.status} (cause {_cause(leg.cause)})"))
        elif app == "VoiceMail":
            self.steps.append(("voicemail", f"{options} -> VMSTATUS SUCCESS"))
        else:
            self.steps.append(("exec", f"{app}({options})"))

    def _leg(self) -> _Leg:
        """How the leg dialled last ends: the primary's, or that transfer leg's status."""
        if self._forwards == 0:
            return self.primary
        return self.transfers[min(self._forwards, len(self.transfers)) - 1]

    def _evaluate(self, expression: str) -> str:
        if expression.startswith(DIAL_RESULT):
            leg = self._leg()
            answered = leg.status == "ANSWER"
            result = f"{leg.status},{leg.cause},{ANSWERED_MS if answered else ''}"
            members = expression.count("${SHARED(")
            if members:  # ring all: the first member takes an answered call, else all end alike
                ended = "" if answered or leg.status == "NOANSWER" else f"{leg.status}:{leg.cause}"
                peer = f"1@{MEMBER_CONTEXT}" if answered else ""
                return ",".join([result, peer, *[ended] * members])
            if expression != DIAL_RESULT:  # confirmed: an answered callee pressed 1
                return f"{result},{ACCEPTED if answered else ''}"
            return result
        # The preparation: hop and REDIRECTING counts of a fresh call (none), the SET()s it makes,
        # and the DID's group size when it is limited (this call is the only one).
        for name, value in _sets(expression):
            value = value.replace("$[0${DID_FAILOVER_HOPS}+1]", "1")
            self.variables[name] = value
            self.steps.append(("set", f"{name}={value}"))
        return ",,," + "1" if "GROUP_COUNT(" in expression else ",,"


def _sets(expression: str) -> list[tuple[str, str]]:
    """The NAME=VALUE of every ${SET(NAME=VALUE)} in an expression, in order."""
    found = []
    start = expression.find("${SET(")
    while start >= 0:
        depth, i = 0, start + 6
        while i < len(expression):
            if expression[i] == "(":
                depth += 1
            elif expression[i] == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        name, _, value = expression[start + 6 : i].partition("=")
        found.append((name, value))
        start = expression.find("${SET(", i)
    return found


async def _moment(repository: Repository, did: str, moment: datetime) -> tuple[datetime, str]:
    """`--at` as an aware moment (in the DID's time zone unless it names an offset) and as printed."""
    route = await repository.get_route(strip_plus(did))
    schedule = route.schedule if route is not None else None
    if moment.tzinfo is None:
        if schedule is None:
            return moment.replace(
                tzinfo=UTC
            ), f" at {moment:%Y-%m-%d %H:%M} UTC (the DID has no business hours)"
        try:
            zone = (await asyncio.to_thread(parse_schedule, schedule)).zone
        except InvalidSchedule:
            zone = ZoneInfo("UTC")
        moment = moment.replace(tzinfo=zone)
        return moment, f" at {moment:%Y-%m-%d %H:%M} {zone.key}"
    return moment, f" at {moment.isoformat()}"


def _split_arguments(options: str) -> list[str]:
    """Split application arguments at the commas outside parentheses, as Asterisk does."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(options):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(options[start:i])
            start = i + 1
    parts.append(options[start:])
    return parts


def _unquote(token: str) -> str:
    if len(token) >= 2 and token.startswith('"') and token.endswith('"'):
        return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return token


def _cause(cause: int) -> str:
    name = CAUSE_NAMES.get(cause)
    return f"{cause}, {name}" if name else str(cause)


def run(
    config: Path | None,
    did: str,
    primary_status: str,
    *,
    caller: str = "15551110000",
    primary_cause: int | None = None,
    transfer_status: str = "ANSWER",
    at: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Simulate one call and print it (on `out`, stdout by default); 0 when routed, 2 for an unknown
    DID, 1 when it cannot run."""
    out = out or sys.stdout
    settings = load_settings_or_report(config)
    if settings is None:
        return EXIT_INPUT
    configure("warning", "console", sys.stderr)
    statuses = transfer_status.split(",")
    bad = [status for status in statuses if status not in STATUSES]
    if bad:
        error(f"--transfer-status: {bad[0]!r} is not one of {', '.join(STATUSES)}")
        return EXIT_INPUT
    try:
        moment = datetime.fromisoformat(at.strip()) if at is not None else None
    except ValueError:
        error(f"--at: {at!r} is not a date and time such as '2026-12-24 18:30'")
        return EXIT_INPUT
    asterisk = FakeAsterisk(
        _Leg(primary_status, CAUSES[primary_status] if primary_cause is None else primary_cause),
        [_Leg(status, CAUSES[status]) for status in statuses],
    )
    try:
        result, when, route = asyncio.run(_simulate(settings, did, caller, asterisk, moment))
    except StorageUnavailable as exc:
        error(str(exc))
        return EXIT_FAILED
    legs = "a transfer leg ends" if len(statuses) == 1 else "transfer legs end"
    primary = (
        f"the primary ends {primary_status} (cause {_cause(asterisk.primary.cause)})"
        if asterisk.primary_dialled
        else "the primary is not dialled"
    )
    print(
        f"DID {strip_plus(did)} called by {caller}{when}; {primary}, {legs} {', '.join(statuses)}", file=out
    )
    for kind, text in asterisk.steps:
        print(f"  {kind:<7} {text}", file=out)
    note = _note(strip_plus(did), route)
    if note:
        print(f"  note    {note}", file=out)
    if result:
        print("  failure AGISTATUS=FAILURE: the dialplan's fallback takes the call", file=out)
    outcome = asterisk.variables.get("DID_FAILOVER_RESULT", "")
    leg = asterisk.variables.get("DID_FAILOVER_LEG") or "none"
    print(f"result: {outcome or 'none'} (last leg dialled: {leg})", file=out)
    if outcome == "NOT_FOUND":
        return EXIT_NOT_FOUND
    return EXIT_FAILED if outcome in ("ERROR", "") else 0


def _note(did: str, route: DIDRoute | None) -> str:
    """What the steps do not say: the DID is unknown, or its transfer (or its account's) is off while
    it has forward lists."""
    if route is None:
        return f"DID {did} is not in the database ('did-failover did list' shows those there are)"
    lists = (route.always, route.busy, route.no_answer, route.unavailable, route.after_hours)
    if not any(lists):
        return ""
    if not route.transfer_enabled:
        return f"transfer of DID {did} is off: its forward lists are not used ('transfer set {did} --on')"
    if not route.account_transfer:
        number = route.account_number
        return (
            f"transfer of account {number} is off: none of its DIDs forwards ('account set {number}"
            " --transfer on')"
        )
    return ""


async def _simulate(
    settings: Settings, did: str, caller: str, asterisk: FakeAsterisk, moment: datetime | None
) -> tuple[bool, str, DIDRoute | None]:
    """Serve the call on 127.0.0.1 port 0 (at `moment`, read in the DID's time zone unless it has an
    offset): whether the session ended with AGISTATUS=FAILURE, the moment as printed, and the DID's
    route as the database has it."""
    timeout = max(settings.db_timeout, 5.0)
    repository = open_repository(settings.database_url, timeout)
    try:
        await check_schema(repository)
        route = await repository.get_route(strip_plus(did))
        handler = DIDFailover(
            RouteCache(repository, 0, timeout),
            DialTemplates(settings),
            settings.max_hops,
            None,
            settings.max_ring_total,
            look_ahead=False,  # every assignment shown as a command of its own; routes the same
        )
        when = ""
        if moment is not None:
            moment, when = await _moment(repository, did, moment)
            handler.clock = lambda: moment
        on_loopback = settings.model_copy(update={"listen": "127.0.0.1:0"}).server
        server = Server(on_loopback, {ROUTE: handler}, logger=log, observers=[log_session])
        serving = asyncio.create_task(server.serve(install_signals=False))
        await server.started.wait()
        try:
            env = environment(
                "did-failover", args=[did], extension=strip_plus(did), callerid=caller, uniqueid="simulate"
            )
            result = await call("127.0.0.1", server.port, env, asterisk, timeout=timeout * 2)
        finally:
            server.request_stop()
            await serving
        return result.failure, when, route
    finally:
        await repository.close()

"""`did-failover simulate`: play one call through the real routing handler against a fake Asterisk.

The DID's settings come from the configured database; the server, the handler and the wire protocol
are the production ones. Only Asterisk is played, in-process, answering Dial with the statuses asked for.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from did_failover.errors import EXIT_FAILED, EXIT_INPUT, StorageUnavailable
from did_failover.logs import configure
from did_failover.numbers import strip_plus
from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import DIAL_RESULT, DIDFailover
from did_failover.runtime.app import ROUTE, agi_server
from did_failover.settings import Settings, load_settings_or_report
from did_failover.storage import open_repository, schema_problem
from fastagi.client import call, environment

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
    transfer: _Leg
    steps: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    _dials: int = 0

    def __call__(self, command: str) -> list[str]:
        """One reply (list of lines) for one command line."""
        verb, _, rest = command.partition(" ")
        if verb == "EXEC":
            app, _, options = rest.partition(" ")
            self._exec(app, _unquote(options))
            return ["200 result=0"]
        if verb == "GET" and rest.startswith("FULL VARIABLE "):
            return [f"200 result=1 ({self._evaluate(_unquote(rest.removeprefix('FULL VARIABLE ')))})"]
        if verb == "VERBOSE":
            self.steps.append(("verbose", _unquote(rest.rpartition(" ")[0])))
        return ["200 result=1"]

    def _exec(self, app: str, options: str) -> None:
        if app == "MSet":
            for assignment in _split_arguments(options):
                name, _, value = assignment.partition("=")
                self.variables[name] = value
                self.steps.append(("set", assignment))
        elif app == "Dial":
            leg = self.primary if self._dials == 0 else self.transfer
            self._dials += 1
            self.steps.append(("dial", f"{options} -> {leg.status} (cause {_cause(leg.cause)})"))
        else:
            self.steps.append(("exec", f"{app}({options})"))

    def _evaluate(self, expression: str) -> str:
        if expression == DIAL_RESULT:
            leg = self.primary if self._dials <= 1 else self.transfer
            return f"{leg.status},{leg.cause},{ANSWERED_MS if leg.status == 'ANSWER' else ''}"
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
    out: TextIO = sys.stdout,
) -> int:
    """Simulate one call and print it; 0 when routed, 2 for an unknown DID, 1 when it cannot run."""
    settings = load_settings_or_report(config)
    if settings is None:
        return EXIT_INPUT
    configure("warning", "console", sys.stderr)
    asterisk = FakeAsterisk(
        _Leg(primary_status, CAUSES[primary_status] if primary_cause is None else primary_cause),
        _Leg(transfer_status, CAUSES[transfer_status]),
    )
    try:
        result = asyncio.run(_simulate(settings, did, caller, asterisk))
    except StorageUnavailable as exc:
        print(f"did-failover: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"DID {strip_plus(did)} called by {caller}; the primary ends {primary_status}"
        f" (cause {_cause(asterisk.primary.cause)}), a transfer leg ends {transfer_status}",
        file=out,
    )
    for kind, text in asterisk.steps:
        print(f"  {kind:<7} {text}", file=out)
    if result:
        print("  failure AGISTATUS=FAILURE: the dialplan's fallback takes the call", file=out)
    outcome = asterisk.variables.get("DID_FAILOVER_RESULT", "")
    leg = asterisk.variables.get("DID_FAILOVER_LEG") or "none"
    print(f"result: {outcome or 'none'} (last leg dialled: {leg})", file=out)
    if outcome == "NOT_FOUND":
        return EXIT_NOT_FOUND
    return EXIT_FAILED if outcome in ("ERROR", "") else 0


async def _simulate(settings: Settings, did: str, caller: str, asterisk: FakeAsterisk) -> bool:
    """Serve the call on 127.0.0.1 port 0; True when the session ended with AGISTATUS=FAILURE."""
    timeout = max(settings.db_timeout, 5.0)
    repository = open_repository(settings.database_url, timeout)
    try:
        await repository.connect()
        problem = schema_problem(await repository.schema_version())
        if problem is not None:
            raise StorageUnavailable(problem)
        handler = DIDFailover(RouteCache(repository, 0, timeout), DialTemplates(settings), settings.max_hops)
        server = agi_server(settings.model_copy(update={"listen": "127.0.0.1:0"}), {ROUTE: handler})
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
        return result.failure
    finally:
        await repository.close()

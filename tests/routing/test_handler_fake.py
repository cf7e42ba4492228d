"""The did-failover handler against the fake Asterisk and a real SQLite database: exact command sequences
and the cases a real Asterisk cannot produce on demand (hand-edited rows, database outages)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from did_failover.routing.cache import RouteCache
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.handler import DIDFailover
from did_failover.settings import Settings
from did_failover.storage import Repository, TransferRow, open_repository
from fastagi.client import call, environment
from tests.plugins.servers import StartServer
from tests.support.channels import FakeChannel

DID = "15551230000"


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[Repository]:
    """A real SQLite database with one customer and one DID whose transfer is on."""
    repository = open_repository(f"sqlite:///{tmp_path / 'db.sqlite'}", 1.0)
    await repository.init_schema()
    await repository.add_account("1001", "Customer", "customer", None)
    await repository.add_did(DID, "1001", "endpoint:alice", 20, 0)
    await repository.set_transfer(
        TransferRow(
            did=DID,
            enabled=True,
            always=None,
            busy="pstn:+15550001111",
            no_answer="sip:vm@example.com",
            unavailable=None,
            transfer_timeout=25,
            caller_id="keep",
            updated_by="test",
        )
    )
    yield repository
    await repository.close()


async def _server(
    start_server: StartServer, repo: Repository, look_ahead: bool = True, **settings: object
) -> int:
    config = Settings(**settings)  # type: ignore[arg-type]
    cache = RouteCache(repo, 10, 1.0)
    handler = DIDFailover(cache, DialTemplates(config), config.max_hops, look_ahead=look_ahead)
    server = await start_server({"did-failover": handler})
    return server.port


async def test_busy_primary_forwards_to_busy_destination_with_redirecting(
    start_server: StartServer, repo: Repository
) -> None:
    """The exact command sequence of a busy -> PSTN failover, one assignment per command (what
    `simulate` shows, and what a channel whose read-back did not decide gets)."""
    port = await _server(start_server, repo, look_ahead=False)
    result = await call(
        "127.0.0.1", port, environment("did-failover", args=[DID]), FakeChannel("BUSY,17", "ANSWER,16")
    )
    assert result.commands == [
        "GET FULL VARIABLE ${DID_FAILOVER_HOPS},${REDIRECTING(count)},"
        "${SET(__DID_FAILOVER_HOPS=$[0${DID_FAILOVER_HOPS}+1])}${SET(CHANNEL(accountcode)=1001)}",
        'EXEC Dial "PJSIP/endpoint:alice,20"'.replace("endpoint:", ""),
        "GET FULL VARIABLE ${DIALSTATUS},${HANGUPCAUSE},${ANSWEREDTIME_MS}",
        'EXEC MSet "REDIRECTING(from-num,i)=15551230000,'
        'REDIRECTING(reason,i)=user-busy,REDIRECTING(count,i)=1"',
        'EXEC Dial "PJSIP/+15550001111@pstn,25"',
        "GET FULL VARIABLE ${DIALSTATUS},${HANGUPCAUSE},${ANSWEREDTIME_MS}",
        'EXEC MSet "DID_FAILOVER_RESULT=ANSWERED,DID_FAILOVER_LEG=BUSY,DID_FAILOVER_STEP=1,'
        'DID_FAILOVER_DIALSTATUS=ANSWER"',
    ]
    assert not result.failure


async def test_caller_id_did_mode_presents_the_did(start_server: StartServer, repo: Repository) -> None:
    """caller-ID mode `did`: the forwarded leg is dialled with f(DID)."""
    transfer = await repo.get_transfer(DID)
    assert transfer is not None
    await repo.set_transfer(dataclasses.replace(transfer, caller_id="did"))
    port = await _server(start_server, repo, dial_options="L(3600000)")
    result = await call(
        "127.0.0.1", port, environment("did-failover", args=[DID]), FakeChannel("NOANSWER,16", "ANSWER,16")
    )
    assert 'EXEC Dial "PJSIP/did-failover/sip:vm@example.com,25,L(3600000)f(15551230000)"' in result.commands


async def test_hand_edited_injection_in_database_is_never_dialled(
    start_server: StartServer, repo: Repository
) -> None:
    """A destination edited by hand into the database to smuggle a second channel is refused before Dial."""
    import aiosqlite

    repo_path = repo.path  # type: ignore[attr-defined]
    async with aiosqlite.connect(repo_path) as db:
        await db.execute(
            "UPDATE dids SET primary_destination = 'pstn:123&PJSIP/evil' WHERE number = ?", (DID,)
        )
        await db.commit()
    port = await _server(start_server, repo)
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), FakeChannel())
    assert not [c for c in result.commands if c.startswith("EXEC Dial")]
    assert any("DID_FAILOVER_RESULT=ERROR" in c for c in result.commands)
    assert result.failure


async def test_hangup_while_primary_rings_dials_nothing_more(
    start_server: StartServer, repo: Repository
) -> None:
    """A HANGUP line during the primary's Dial: CALLER_HANGUP, the NO ANSWER destination is never dialled."""
    port = await _server(start_server, repo)
    channel = FakeChannel("NOANSWER,16", hangup_on_dial=1)
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert channel.dials == 1
    assert result.commands[-1] == (
        'EXEC MSet "DID_FAILOVER_RESULT=CALLER_HANGUP,'
        'DID_FAILOVER_LEG=PRIMARY,DID_FAILOVER_STEP=,DID_FAILOVER_DIALSTATUS=NOANSWER"'
    )


async def test_hops_at_the_limit_is_a_loop(start_server: StartServer, repo: Repository) -> None:
    """An inherited hop count at DID_FAILOVER_MAX_HOPS: LOOP, nothing dialled."""
    port = await _server(start_server, repo, max_hops=3)
    channel = FakeChannel(hops="3")
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert channel.dials == 0
    assert (
        'EXEC MSet "DID_FAILOVER_RESULT=LOOP,DID_FAILOVER_LEG=,DID_FAILOVER_STEP=,DID_FAILOVER_DIALSTATUS="'
        in result.commands
    )


async def test_did_at_its_channel_limit_is_busy(start_server: StartServer, repo: Repository) -> None:
    """GROUP_COUNT above max channels: BUSY, not dialled, and the call leaves the group."""
    await repo.update_did(DID, max_channels=2)
    port = await _server(start_server, repo)
    channel = FakeChannel(group_count="3")
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert channel.dials == 0
    assert 'EXEC MSet "GROUP(did-failover)="' in result.commands
    assert any("DID_FAILOVER_RESULT=BUSY" in c for c in result.commands)


async def test_unknown_did_is_not_found(start_server: StartServer, repo: Repository) -> None:
    """A DID not in the database: NOT_FOUND, nothing dialled, success (the dialplan decides)."""
    port = await _server(start_server, repo)
    result = await call("127.0.0.1", port, environment("did-failover", args=["+19999999999"]), FakeChannel())
    assert result.commands == [
        'EXEC MSet "DID_FAILOVER_RESULT=NOT_FOUND,DID_FAILOVER_LEG=,DID_FAILOVER_STEP=,'
        'DID_FAILOVER_DIALSTATUS="',
    ]
    assert not result.failure


async def test_database_down_routes_known_dids_from_cache_and_fails_unknown(
    start_server: StartServer, repo: Repository
) -> None:
    """With the database unreachable, a DID seen before routes from the cache; an unseen one gets ERROR
    and failure so the dialplan's fallback runs."""
    cache = RouteCache(repo, 0, 0.5)  # ttl 0: every call goes to the database
    handler = DIDFailover(cache, DialTemplates(Settings()), 5)
    server = await start_server({"did-failover": handler})
    first = await call(
        "127.0.0.1", server.port, environment("did-failover", args=[DID]), FakeChannel("ANSWER,16")
    )
    assert any("RESULT=ANSWERED" in c for c in first.commands)
    # A real, unreachable database: nothing listens on this port.
    cache._repository = open_repository("mysql://root@127.0.0.1:9/none", 0.5)
    again = await call(
        "127.0.0.1", server.port, environment("did-failover", args=[DID]), FakeChannel("ANSWER,16")
    )
    assert any("RESULT=ANSWERED" in c for c in again.commands) and not again.failure
    unseen = await call(
        "127.0.0.1", server.port, environment("did-failover", args=["15559998888"]), FakeChannel()
    )
    assert unseen.failure
    assert not [c for c in unseen.commands if c.startswith("EXEC Dial")]
    assert cache.database_down


def _reads(commands: list[str]) -> list[str]:
    return [c for c in commands if c.startswith("GET FULL VARIABLE")]


async def test_a_forwarded_call_takes_five_commands_when_the_read_back_decides(
    start_server: StartServer, repo: Repository
) -> None:
    """Busy -> forward answered: the prepare, then Dial and its read-back per leg; the primary's
    read-back sets the forward's REDIRECTING, the forward's the result: no MSet at all."""
    port = await _server(start_server, repo)
    channel = FakeChannel("BUSY,17", "ANSWER,16", look_ahead=True)
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert [c.split(" ", 2)[1] for c in result.commands] == ["FULL", "Dial", "FULL", "Dial", "FULL"]
    primary, forward = _reads(result.commands)[1:]
    assert "REDIRECTING(reason,i)" in primary and "?user-busy:" in primary
    assert "REDIRECTING" not in forward and "${SET(DID_FAILOVER_LEG=BUSY)}" in forward
    assert not result.failure


async def test_an_answered_primary_takes_three_commands(start_server: StartServer, repo: Repository) -> None:
    """The primary answers: prepare, Dial, read-back; the read-back set the result."""
    port = await _server(start_server, repo)
    channel = FakeChannel("ANSWER,16", look_ahead=True)
    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert len(result.commands) == 3 and not [c for c in result.commands if "MSet" in c]


async def test_an_outcome_the_server_reads_otherwise_gets_every_assignment_as_a_command(
    start_server: StartServer, repo: Repository
) -> None:
    """A read-back whose outcome is not the one the server reads from DIALSTATUS (it never should
    be): nothing set ahead is relied on, REDIRECTING and the result go out as MSets."""
    port = await _server(start_server, repo)
    channel = FakeChannel("BUSY,17", "ANSWER,16", look_ahead=True)

    def wrong(command: str) -> list[str]:
        return [line.replace(",,BUSY)", ",,NOANSWER)") for line in channel(command)]

    result = await call("127.0.0.1", port, environment("did-failover", args=[DID]), wrong)
    sets = [c for c in result.commands if c.startswith("EXEC MSet")]
    assert sets == [
        'EXEC MSet "REDIRECTING(from-num,i)=15551230000,'
        'REDIRECTING(reason,i)=user-busy,REDIRECTING(count,i)=1"',
    ]
    assert len(result.commands) == 6  # the forward's own read-back still set the result


async def test_a_voicemail_read_back_that_shows_its_assignments_ends_the_call(
    start_server: StartServer, repo: Repository
) -> None:
    """Busy -> voicemail: VMSTATUS and the result in one read-back; a channel that only returns
    VMSTATUS (it did not run the SET()s) gets the result as an MSet."""
    transfer = await repo.get_transfer(DID)
    assert transfer is not None
    await repo.set_transfer(dataclasses.replace(transfer, busy="voicemail:100"))
    port = await _server(start_server, repo)
    channel = FakeChannel("BUSY,17", look_ahead=True)
    plain = await call("127.0.0.1", port, environment("did-failover", args=[DID]), channel)
    assert plain.commands[-1].startswith('EXEC MSet "DID_FAILOVER_RESULT=VOICEMAIL,')

    second = FakeChannel("BUSY,17", look_ahead=True)

    def shows(command: str) -> list[str]:
        if command.startswith('GET FULL VARIABLE "${VMSTATUS},'):
            return ["200 result=1 (SUCCESS,VOICEMAIL,BUSY,1,BUSY)"]
        return second(command)

    decided = await call("127.0.0.1", port, environment("did-failover", args=[DID]), shows)
    assert decided.commands[-1].startswith('GET FULL VARIABLE "${VMSTATUS},')
    assert len(decided.commands) == 5

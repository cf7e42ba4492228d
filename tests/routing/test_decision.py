"""The failover decision as plain data: DID settings and DIALSTATUS in, next step out."""

from __future__ import annotations

import dataclasses

import pytest

from did_failover.routing.decision import Dial, Finish, Leg, Result, after_primary, first_leg, result_of
from did_failover.storage.base import DIDRoute

ROUTE = DIDRoute(
    did="15551230000",
    did_active=True,
    account_number="1001",
    account_active=True,
    account_transfer=True,
    primary="endpoint:alice",
    ring_timeout=20,
    max_channels=0,
    transfer_enabled=True,
    always=None,
    busy="pstn:15550001111",
    no_answer="sip:voicemail@example.com",
    unavailable="pstn:15550002222",
    transfer_timeout=25,
    caller_id="keep",
)


def route(**changes: object) -> DIDRoute:
    return dataclasses.replace(ROUTE, **changes)  # type: ignore[arg-type]


def test_unknown_did_dials_nothing() -> None:
    assert first_leg(None, 0, 5) == Finish(Result.NOT_FOUND)


@pytest.mark.parametrize("changes", [{"did_active": False}, {"account_active": False}])
def test_inactive_did_or_account_dials_nothing(changes: dict[str, object]) -> None:
    assert first_leg(route(**changes), 0, 5) == Finish(Result.INACTIVE)


def test_too_many_hops_is_a_loop() -> None:
    assert first_leg(ROUTE, 5, 5) == Finish(Result.LOOP)
    assert first_leg(ROUTE, 4, 5) == Dial(Leg.PRIMARY, "endpoint:alice", 20)


def test_always_forwards_without_dialling_the_primary() -> None:
    assert first_leg(route(always="pstn:15559990000"), 0, 5) == Dial(Leg.ALWAYS, "pstn:15559990000", 25)


@pytest.mark.parametrize("changes", [{"transfer_enabled": False}, {"account_transfer": False}])
def test_always_is_ignored_when_transfer_is_off(changes: dict[str, object]) -> None:
    assert first_leg(route(always="pstn:15559990000", **changes), 0, 5) == Dial(
        Leg.PRIMARY, "endpoint:alice", 20
    )


@pytest.mark.parametrize(
    ("status", "cause", "expected"),
    [
        ("ANSWER", "16", Finish(Result.ANSWERED, Leg.PRIMARY)),
        ("CANCEL", "16", Finish(Result.CALLER_HANGUP, Leg.PRIMARY)),
        ("BUSY", "17", Dial(Leg.BUSY, "pstn:15550001111", 25)),
        ("CHANUNAVAIL", "17", Dial(Leg.BUSY, "pstn:15550001111", 25)),
        ("CONGESTION", "21", Dial(Leg.BUSY, "pstn:15550001111", 25)),
        ("NOANSWER", "16", Dial(Leg.NO_ANSWER, "sip:voicemail@example.com", 25)),
        ("CHANUNAVAIL", "3", Dial(Leg.UNAVAILABLE, "pstn:15550002222", 25)),
        ("CONGESTION", "34", Dial(Leg.UNAVAILABLE, "pstn:15550002222", 25)),
    ],
)
def test_primary_outcome_picks_the_matching_destination(status: str, cause: str, expected: object) -> None:
    assert after_primary(ROUTE, status, cause) == expected


def test_unavailable_without_its_destination_uses_no_answer() -> None:
    assert after_primary(route(unavailable=None), "CHANUNAVAIL", "3") == Dial(
        Leg.NO_ANSWER, "sip:voicemail@example.com", 25
    )


@pytest.mark.parametrize(
    ("status", "cause", "result"),
    [
        ("BUSY", "17", Result.BUSY),
        ("NOANSWER", "0", Result.NOANSWER),
        ("CHANUNAVAIL", "3", Result.UNAVAILABLE),
    ],
)
def test_no_destination_for_the_condition_ends_with_the_condition(
    status: str, cause: str, result: Result
) -> None:
    bare = route(busy=None, no_answer=None, unavailable=None)
    assert after_primary(bare, status, cause) == Finish(result, Leg.PRIMARY)


def test_transfer_off_ends_with_the_primary_status() -> None:
    assert after_primary(route(transfer_enabled=False), "BUSY", "17") == Finish(Result.BUSY, Leg.PRIMARY)
    assert after_primary(route(account_transfer=False), "NOANSWER", "0") == Finish(
        Result.NOANSWER, Leg.PRIMARY
    )


@pytest.mark.parametrize(
    ("status", "cause", "result"),
    [
        ("ANSWER", "16", Result.ANSWERED),
        ("BUSY", "17", Result.BUSY),
        ("NOANSWER", "16", Result.NOANSWER),
        ("CHANUNAVAIL", "3", Result.UNAVAILABLE),
        ("CHANUNAVAIL", "21", Result.BUSY),
        ("CONGESTION", "34", Result.UNAVAILABLE),
        ("CANCEL", "16", Result.CALLER_HANGUP),
        ("", "", Result.UNAVAILABLE),
        ("INVALIDARGS", "0", Result.UNAVAILABLE),
    ],
)
def test_leg_result_from_dialstatus(status: str, cause: str, result: Result) -> None:
    assert result_of(status, cause) is result

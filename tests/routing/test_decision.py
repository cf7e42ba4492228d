"""The failover decision as plain data: DID settings and DIALSTATUS in, next step out."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from did_failover.errors import InvalidDestination
from did_failover.routing.decision import (
    Dial,
    Finish,
    Leg,
    Result,
    Voicemail,
    after_primary,
    after_step,
    after_voicemail,
    first_leg,
    result_of,
)
from did_failover.storage.records import DIDRoute

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
    assert first_leg(route(always="pstn:15559990000"), 0, 5) == Dial(Leg.ALWAYS, "pstn:15559990000", 25, 1)


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
        ("BUSY", "17", Dial(Leg.BUSY, "pstn:15550001111", 25, 1)),
        ("CHANUNAVAIL", "17", Dial(Leg.BUSY, "pstn:15550001111", 25, 1)),
        ("CONGESTION", "21", Dial(Leg.BUSY, "pstn:15550001111", 25, 1)),
        ("NOANSWER", "16", Dial(Leg.NO_ANSWER, "sip:voicemail@example.com", 25, 1)),
        ("CHANUNAVAIL", "3", Dial(Leg.UNAVAILABLE, "pstn:15550002222", 25, 1)),
        ("CONGESTION", "34", Dial(Leg.UNAVAILABLE, "pstn:15550002222", 25, 1)),
    ],
)
def test_primary_outcome_picks_the_matching_destination(status: str, cause: str, expected: object) -> None:
    assert after_primary(ROUTE, status, cause) == expected


def test_unavailable_without_its_destination_uses_no_answer() -> None:
    assert after_primary(route(unavailable=None), "CHANUNAVAIL", "3") == Dial(
        Leg.NO_ANSWER, "sip:voicemail@example.com", 25, 1
    )


@pytest.mark.parametrize(
    ("status", "cause", "result"),
    [
        ("BUSY", "17", Result.BUSY),
        ("NOANSWER", "0", Result.NO_ANSWER),
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
        Result.NO_ANSWER, Leg.PRIMARY
    )


@pytest.mark.parametrize(
    ("status", "cause", "result"),
    [
        ("ANSWER", "16", Result.ANSWERED),
        ("BUSY", "17", Result.BUSY),
        ("NOANSWER", "16", Result.NO_ANSWER),
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


# Forward lists: ordered steps, each with its own timeout, walked until one answers.

LIST = "pstn:15550001111/10,sip:desk@pbx.example.com,pstn:15550003333/15"
LISTED = route(busy=LIST)
DIALSTATUS = {  # a leg outcome and the HANGUPCAUSE Asterisk gives with it
    "ANSWER": "16",
    "BUSY": "17",
    "NOANSWER": "19",
    "CHANUNAVAIL": "3",
    "CANCEL": "16",
}


def walk(
    settings: DIDRoute, outcomes: list[str], max_ring: int = 0
) -> tuple[list[tuple[Leg, int, str, int]], Finish]:
    """Carry the decision out as the handler does: the legs dialled (leg, step, destination,
    timeout) and how the call ends, each leg ending with the next of `outcomes`."""
    step = first_leg(settings, 0, 5, max_ring=max_ring)
    dialled: list[tuple[Leg, int, str, int]] = []
    rung = 0
    pending = iter(outcomes)
    while isinstance(step, Dial):
        dialled.append((step.leg, step.step, step.destination, step.timeout))
        status = next(pending)
        rung += step.timeout
        if step.leg is Leg.PRIMARY:
            step = after_primary(settings, status, DIALSTATUS[status], max_ring)
        else:
            step = after_step(settings, step, status, DIALSTATUS[status], rung, max_ring)
    assert isinstance(step, Finish), step
    return dialled, step


def test_busy_list_is_dialled_in_order_with_each_steps_timeout() -> None:
    dialled, end = walk(LISTED, ["BUSY", "BUSY", "NOANSWER", "ANSWER"])
    assert dialled == [
        (Leg.PRIMARY, 0, "endpoint:alice", 20),
        (Leg.BUSY, 1, "pstn:15550001111", 10),
        (Leg.BUSY, 2, "sip:desk@pbx.example.com", 25),  # no timeout of its own: the transfer timeout
        (Leg.BUSY, 3, "pstn:15550003333", 15),
    ]
    assert end == Finish(Result.ANSWERED, Leg.BUSY)


@pytest.mark.parametrize("outcomes", list(itertools.product(DIALSTATUS, repeat=3)))
def test_every_order_of_outcomes_through_a_list_of_three(outcomes: tuple[str, ...]) -> None:
    """After a busy primary: the list is dialled in order up to the first leg that is answered or
    that the caller hangs up on; when every leg fails, the call ends with the last leg's result."""
    dialled, end = walk(LISTED, ["BUSY", *outcomes])
    stop = next((i for i, o in enumerate(outcomes) if o in ("ANSWER", "CANCEL")), len(outcomes) - 1)
    steps = [(leg, position) for leg, position, _, _ in dialled[1:]]
    assert steps == [(Leg.BUSY, position) for position in range(1, stop + 2)]
    assert end == Finish(result_of(outcomes[stop], DIALSTATUS[outcomes[stop]]), Leg.BUSY)


def test_the_list_of_the_primarys_condition_is_the_one_walked() -> None:
    settings = route(busy="pstn:15550001111", no_answer="pstn:15550004444,pstn:15550005555")
    dialled, end = walk(settings, ["NOANSWER", "BUSY", "CHANUNAVAIL"])
    assert [d[2] for d in dialled[1:]] == ["pstn:15550004444", "pstn:15550005555"]
    assert end == Finish(Result.UNAVAILABLE, Leg.NO_ANSWER)


def test_always_list_is_walked_without_the_primary() -> None:
    dialled, end = walk(route(always="pstn:15550006666,pstn:15550007777"), ["NOANSWER", "ANSWER"])
    assert [(d[0], d[1]) for d in dialled] == [(Leg.ALWAYS, 1), (Leg.ALWAYS, 2)]
    assert end == Finish(Result.ANSWERED, Leg.ALWAYS)


def test_voicemail_is_the_final_step_with_the_matching_greeting() -> None:
    settings = route(busy="pstn:15550001111,voicemail:100", no_answer="voicemail:200@sales")
    first = after_primary(settings, "BUSY", "17")
    assert first == Dial(Leg.BUSY, "pstn:15550001111", 25, 1)
    assert isinstance(first, Dial)
    assert after_step(settings, first, "NOANSWER", "19", 45) == Voicemail(Leg.BUSY, "voicemail:100", 2, True)
    assert after_primary(settings, "NOANSWER", "19") == Voicemail(
        Leg.NO_ANSWER, "voicemail:200@sales", 1, False
    )


@pytest.mark.parametrize(
    ("vmstatus", "result"),
    [
        ("SUCCESS", Result.VOICEMAIL),
        ("USEREXIT", Result.VOICEMAIL),
        ("FAILED", Result.NO_ANSWER),
        ("", Result.NO_ANSWER),
    ],
)
def test_voicemail_result_is_voicemail_or_the_condition(vmstatus: str, result: Result) -> None:
    step = Voicemail(Leg.BUSY, "voicemail:100", 2, True)
    assert after_voicemail(step, vmstatus, Result.NO_ANSWER) == Finish(result, Leg.BUSY)


def test_ringing_is_bounded_by_max_ring() -> None:
    """Primary 20 s, then 10 + 25 + 15: with 50 s in all the third step gets 0 s and is skipped,
    the second rings only the 20 s left."""
    dialled, end = walk(LISTED, ["BUSY", "BUSY", "NOANSWER", "ANSWER"], max_ring=50)
    assert [d[3] for d in dialled] == [20, 10, 20]
    assert end == Finish(Result.NO_ANSWER, Leg.BUSY)


def test_a_final_voicemail_is_reached_even_when_the_ringing_time_is_used_up() -> None:
    settings = route(busy="pstn:15550001111/30,pstn:15550003333,voicemail:100")
    first = after_primary(settings, "BUSY", "17", 50)
    assert first == Dial(Leg.BUSY, "pstn:15550001111", 30, 1)
    assert isinstance(first, Dial)
    assert after_step(settings, first, "NOANSWER", "19", 50, 50) == Voicemail(
        Leg.BUSY, "voicemail:100", 3, True
    )


def test_after_hours_list_replaces_the_primary_only_when_closed() -> None:
    settings = route(after_hours="pstn:15550008888,voicemail:300")
    assert first_leg(settings, 0, 5, after_hours=True) == Dial(Leg.AFTER_HOURS, "pstn:15550008888", 25, 1)
    assert first_leg(settings, 0, 5, after_hours=False) == Dial(Leg.PRIMARY, "endpoint:alice", 20)
    assert first_leg(route(after_hours=None), 0, 5, after_hours=True) == Dial(
        Leg.PRIMARY, "endpoint:alice", 20
    )
    assert first_leg(route(after_hours="pstn:15550008888", always="pstn:15559990000"), 0, 5, True) == Dial(
        Leg.ALWAYS, "pstn:15559990000", 25, 1
    )
    assert first_leg(route(after_hours="pstn:15550008888", transfer_enabled=False), 0, 5, True) == Dial(
        Leg.PRIMARY, "endpoint:alice", 20
    )


def test_a_list_edited_into_nonsense_is_refused_before_any_dial() -> None:
    with pytest.raises(InvalidDestination, match="busy destination item 2"):
        after_primary(route(busy="pstn:15550001111,sip:x@h;evil"), "BUSY", "17")


def test_a_ring_all_step_with_confirm_can_be_any_step_of_any_list_after_hours_included() -> None:
    """The after-hours list's first step rings two members, each must press 1; a busy step 2 that is
    a ring-all step comes after a plain one."""
    closed = route(after_hours="endpoint:desk&pstn:+15551230001/25/confirm,voicemail:100")
    assert first_leg(closed, 0, 5, after_hours=True, max_ring=180) == Dial(
        Leg.AFTER_HOURS, "endpoint:desk&pstn:+15551230001", 25, 1, confirm=True
    )
    listed = route(busy="endpoint:bob,endpoint:desk&endpoint:carol")
    step_one = after_primary(listed, "BUSY", "17", 180)
    assert step_one == Dial(Leg.BUSY, "endpoint:bob", listed.transfer_timeout, 1)
    assert isinstance(step_one, Dial)
    assert after_step(listed, step_one, "UNCONFIRMED", "16", 20, 180) == Dial(
        Leg.BUSY, "endpoint:desk&endpoint:carol", listed.transfer_timeout, 2
    )

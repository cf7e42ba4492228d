"""Forward lists and voicemail destinations: what is accepted, its canonical text, what is refused."""

from __future__ import annotations

import pytest

from did_failover.errors import InvalidDestination
from did_failover.routing.decision import Dial, Leg, Result, result_of
from did_failover.routing.dialstring import DialTemplates
from did_failover.routing.forwards import Step, format_forwards, parse_forwards
from did_failover.routing.ringing import plan_dial, read_dial
from did_failover.settings import Settings


def test_a_list_keeps_its_order_and_each_steps_timeout() -> None:
    steps = parse_forwards(" pstn:+15551230001/20, sip:desk@pbx.example.com ,voicemail:100", "--busy")
    assert steps == (
        Step("pstn:+15551230001", 20),
        Step("sip:desk@pbx.example.com"),
        Step("voicemail:100"),
    )
    assert format_forwards(steps) == "pstn:+15551230001/20,sip:desk@pbx.example.com,voicemail:100"


def test_ring_all_and_confirm_marks_read_in_any_order_and_write_one_way() -> None:
    steps = parse_forwards(
        "pstn:+15551230001/confirm/20, endpoint:desk & sip:desk@pbx.example.com/Confirm,voicemail:100",
        "--busy",
    )
    assert steps == (
        Step("pstn:+15551230001", 20, confirm=True),
        Step("endpoint:desk&sip:desk@pbx.example.com", None, confirm=True),
        Step("voicemail:100"),
    )
    assert steps[1].members == ("endpoint:desk", "sip:desk@pbx.example.com")
    assert format_forwards(steps) == (
        "pstn:+15551230001/20/confirm,endpoint:desk&sip:desk@pbx.example.com/confirm,voicemail:100"
    )


def test_one_destination_is_a_list_of_one_with_the_same_text() -> None:
    assert format_forwards(parse_forwards("endpoint:bob", "--busy")) == "endpoint:bob"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pstn:12", "--busy: 'pstn:12' is not a valid PSTN number"),  # a list of one: as before
        ("pstn:15551230001,sip:x@h;a", "--busy item 2: 'sip:x@h;a' is not a valid SIP URI"),
        ("pstn:15551230001,,endpoint:bob", "--busy item 2: empty destination"),
        ("pstn:15551230001,", "--busy item 2: empty destination"),
        (",".join(["endpoint:bob"] * 6), "6 destinations, a forward list holds at most 5"),
        ("pstn:15551230001/0", "'0' is not a ring timeout"),
        ("pstn:15551230001/301", "'301' is not a ring timeout"),
        ("pstn:15551230001/2x", "'2x' is not a ring timeout"),
        ("pstn:15551230001/", "'' is not a ring timeout"),
        ("voicemail:100,pstn:15551230001", "--busy item 1: voicemail is a final step"),
        ("voicemail:100/20", "voicemail answers the call, it takes no ring timeout"),
        ("voicemail:1&2", "'2' is not a destination"),
        ("voicemail:100&endpoint:bob", "voicemail answers the call: it cannot ring with others (&)"),
        ("endpoint:bob&endpoint:bob", "a step rings each destination once"),
        ("&".join(f"endpoint:p{n}" for n in range(6)), "6 destinations ring at once, a step rings at most 5"),
        ("endpoint:bob&", "'' is not a destination"),
        ("voicemail:100/confirm", "voicemail answers the call, there is no callee to confirm"),
        ("endpoint:bob/confirm/confirm", "'confirm' is not a ring timeout"),
        ("endpoint:bob/20/30", "'30' is not a ring timeout"),
        ("endpoint:bob/confirmed", "/confirm marks a step to confirm"),
        ("endpoint:bob,x", "--busy item 2: 'x' is not a destination"),
        ("voicemail:", "not a valid voicemail box"),
        ("voicemail:100@", "not a valid voicemail box"),
        ("voicemail:100@a@b", "not a valid voicemail box"),
        ("voicemail:" + "1" * 41, "not a valid voicemail box"),
    ],
)
def test_bad_lists_are_refused_naming_the_item(text: str, message: str) -> None:
    with pytest.raises(InvalidDestination) as raised:
        parse_forwards(text, "--busy")
    assert message in str(raised.value)


def test_voicemail_runs_with_the_greeting_and_is_never_dialled() -> None:
    templates = DialTemplates(Settings())
    assert templates.voicemail_arguments("voicemail:100", True, "busy destination") == "100@default,b"
    assert templates.voicemail_arguments("voicemail:200@sales", False, "x") == "200@sales,u"
    with pytest.raises(InvalidDestination, match="is a voicemail box: it is not dialled"):
        templates.dial_string("voicemail:100", "busy destination")
    with pytest.raises(InvalidDestination, match="not a voicemail box"):
        templates.voicemail_arguments("pstn:15551230001", True, "busy destination")
    with pytest.raises(InvalidDestination, match="not a valid voicemail box"):
        templates.voicemail_arguments("voicemail:1,b(x)", True, "busy destination")


def test_a_ring_all_step_is_dialled_as_a_local_channel_per_member_and_read_back_per_member() -> None:
    """What the handler sends for a confirmed ring-all step, and how each member's report reads."""
    templates = DialTemplates(Settings())
    step = Dial(Leg.BUSY, "endpoint:desk&pstn:+15551230001", 20, 1, confirm=True)
    plan = plan_dial(templates, step, None, "15550001", "PJSIP/pstn-00000001", "busy destination")
    assert plan.dial == "Local/1@did-failover-member&Local/2@did-failover-member,20"
    assert "__DID_FAILOVER_MEMBER_2=PJSIP/+15551230001@pstn" in plan.sets.split(",")
    assert "__DID_FAILOVER_MEMBER_OPTIONS=U(did-failover-confirm^15550001)" in plan.sets.split(",")
    assert read_dial(step, "ANSWER,16,5000,2@did-failover-member,UNCONFIRMED:16,").members == (
        "UNCONFIRMED",
        "ANSWER",
    )
    busy = read_dial(step, "BUSY,17,,,BUSY:17,CHANUNAVAIL:21")
    assert (busy.status, busy.members) == ("BUSY", ("BUSY", "CHANUNAVAIL"))
    mixed = read_dial(step, "BUSY,17,,,BUSY:17,CHANUNAVAIL:3")
    assert (mixed.status, mixed.members) == ("NOANSWER", ("BUSY", "CHANUNAVAIL"))
    rang_out = read_dial(step, "NOANSWER,0,,,,")
    assert (rang_out.status, rang_out.members) == ("NOANSWER", ("NOANSWER", "NOANSWER"))
    with pytest.raises(InvalidDestination, match="channel name"):
        plan_dial(templates, step, None, "15550001", "PJSIP/a,b", "busy destination")


def test_a_confirmed_callee_that_did_not_press_1_is_unconfirmed_and_counts_as_no_answer() -> None:
    templates = DialTemplates(Settings())
    step = Dial(Leg.BUSY, "pstn:15551230001", 20, 1, confirm=True)
    plan = plan_dial(templates, step, "15550001", "15550001", "PJSIP/pstn-1", "busy destination")
    assert plan.dial == "PJSIP/15551230001@pstn,20,f(15550001)U(did-failover-confirm^15550001)"
    assert read_dial(step, "ANSWER,16,900,UNCONFIRMED").status == "UNCONFIRMED"
    assert read_dial(step, "ANSWER,16,900,").status == "UNCONFIRMED"  # the callee hung up at the prompt
    assert read_dial(step, "ANSWER,16,900,ACCEPTED").status == "ANSWER"
    assert result_of("UNCONFIRMED", "16") is Result.NO_ANSWER

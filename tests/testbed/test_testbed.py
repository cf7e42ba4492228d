"""The test bed itself: real SIP destinations, the pstn trunk, the AGI path and the sample dialplan."""

from __future__ import annotations

import time

import pytest

from tests.testbed.asterisk import AGI_BACKUP_PORT, AGI_PORT, SIP_PORT, AgiStub, Ami, TestbedError

CALLER = "15557000001"


async def _dial_result(
    ami: Ami, target: str, caller: str, *, timeout: int = 2, diversion: str = ""
) -> dict[str, str]:
    call = await ami.dial(target, caller, timeout=timeout, diversion=diversion)
    # The dialplan side of the call is the one that reports DialResult.
    event = await ami.wait_for("UserEvent", UserEvent="DialResult", Uniqueid=call.channel_uniqueid)
    return {"DIALSTATUS": event["DialStatus"], "HANGUPCAUSE": event["HangupCause"]}


async def test_busy_destination_answers_486_user_busy(ami: Ami) -> None:
    """PJSIP/busy gets a real 486 Busy Here: DIALSTATUS BUSY, HANGUPCAUSE 17."""
    result = await _dial_result(ami, "PJSIP/busy", "15557000011")
    assert result == {"DIALSTATUS": "BUSY", "HANGUPCAUSE": "17"}
    await ami.wait_dest_reached(Dest="busy", CallerID="15557000011")


async def test_ringing_destination_gives_noanswer_at_dial_timeout(ami: Ami) -> None:
    """PJSIP/ring rings until Dial's 2 s timeout: DIALSTATUS NOANSWER."""
    started = time.monotonic()
    result = await _dial_result(ami, "PJSIP/ring", "15557000012", timeout=2)
    assert result["DIALSTATUS"] == "NOANSWER"
    assert 1.5 < time.monotonic() - started < 5


async def test_endpoint_without_contact_is_chanunavail(ami: Ami) -> None:
    """PJSIP/unavailable has no contact (a phone that is not registered): CHANUNAVAIL."""
    result = await _dial_result(ami, "PJSIP/unavailable", "15557000013")
    assert result["DIALSTATUS"] == "CHANUNAVAIL"


async def test_answering_destination_sees_the_caller_id(ami: Ami) -> None:
    """PJSIP/answer answers (DIALSTATUS ANSWER) and reports the caller ID it received."""
    result = await _dial_result(ami, "PJSIP/answer", "15557000014")
    assert result["DIALSTATUS"] == "ANSWER"
    reached = await ami.wait_dest_reached(Dest="answer", CallerID="15557000014")
    assert reached["Action"] == "answer"
    assert reached["Diversion"] == ""


async def test_sip_uri_through_the_did_failover_endpoint(ami: Ami) -> None:
    """PJSIP/did-failover/sip:answer@127.0.0.1:PORT reaches the SIP URI's destination."""
    uri = f"sip:answer@127.0.0.1:{SIP_PORT}"
    result = await _dial_result(ami, f"PJSIP/did-failover/{uri}", "15557000015")
    assert result["DIALSTATUS"] == "ANSWER"
    await ami.wait_dest_reached(Dest="answer", CallerID="15557000015")


async def test_sip_uri_to_unknown_user_is_chanunavail(ami: Ami) -> None:
    """A SIP URI whose user does not exist on the far end gets 404: CHANUNAVAIL, cause 1."""
    uri = f"sip:nobody@127.0.0.1:{SIP_PORT}"
    result = await _dial_result(ami, f"PJSIP/did-failover/{uri}", "15557000016")
    assert result == {"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "1"}


@pytest.mark.parametrize(
    ("number", "action", "dialstatus", "cause"),
    [
        ("15550001234", "answer", "ANSWER", "16"),
        ("15551111234", "busy", "BUSY", "17"),
        ("15552221234", "ring", "NOANSWER", None),
        ("15553331234", "reject", "CHANUNAVAIL", "21"),
        ("15554441234", "congestion", "CONGESTION", "34"),
    ],
)
async def test_pstn_number_prefix_picks_the_far_end_behaviour(
    ami: Ami, number: str, action: str, dialstatus: str, cause: str | None
) -> None:
    """Numbers dialled through the pstn trunk behave by prefix (see README.md)."""
    caller = f"1555710{number[4:7]}1"
    result = await _dial_result(ami, f"PJSIP/{number}@pstn", caller, timeout=2)
    assert result["DIALSTATUS"] == dialstatus
    if cause is not None:
        assert result["HANGUPCAUSE"] == cause
    reached = await ami.wait_dest_reached(Dest=number, CallerID=caller)
    assert reached["Action"] == action


async def test_pstn_number_without_known_prefix_is_not_found(ami: Ami) -> None:
    """Any other number gets 404 from the far end: CHANUNAVAIL, cause 1."""
    result = await _dial_result(ami, "PJSIP/15559871234@pstn", "15557000017")
    assert result == {"DIALSTATUS": "CHANUNAVAIL", "HANGUPCAUSE": "1"}


async def test_pstn_trunk_sends_diversion_for_a_forwarded_leg(ami: Ami) -> None:
    """With REDIRECTING set, the pstn trunk (send_diversion=yes) sends a Diversion header."""
    result = await _dial_result(ami, "PJSIP/15550005678@pstn", "15557000018", diversion="15551230000")
    assert result["DIALSTATUS"] == "ANSWER"
    reached = await ami.wait_dest_reached(Dest="15550005678", CallerID="15557000018")
    assert reached["Diversion"].startswith("<sip:15551230000@")
    assert "reason=user-busy" in reached["Diversion"]
    assert reached["RedirectingFrom"] == "15551230000"


async def test_agi_reaches_the_server_on_the_test_port(ami: Ami) -> None:
    """from-pstn runs AGI(agi://127.0.0.1:14573/did-failover,DID); closing the socket
    after the environment block ends it with AGISTATUS SUCCESS (and, with no result set,
    the sample dialplan goes on to the second server)."""
    async with AgiStub(port=AGI_PORT) as agi:
        call = await ami.originate("15551230000", "15557000019")
        await ami.wait_outcome(call, timeout=10)
    statuses = ami.matching("VarSet", Uniqueid=call.channel_uniqueid, Variable="AGISTATUS")
    assert [e["Value"] for e in statuses][:1] == ["SUCCESS"]
    [env] = agi.sessions
    assert env["agi_network_script"] == "did-failover"
    assert env["agi_arg_1"] == "15551230000"
    assert env["agi_context"] == "from-pstn"
    assert env["agi_callerid"] == "15557000019"
    assert env["agi_channel"].endswith(";2")


async def test_leading_plus_is_dropped_before_the_agi(ami: Ami) -> None:
    """A DID arriving as +15551230000 reaches the server as 15551230000."""
    async with AgiStub(port=AGI_PORT) as agi:
        call = await ami.originate("+15551230000", "15557000020")
        await ami.wait_outcome(call, timeout=10)
    assert [env["agi_arg_1"] for env in agi.sessions] == ["15551230000"]


async def test_second_server_is_tried_when_the_first_is_down(ami: Ami) -> None:
    """Nothing on 14573: the sample dialplan runs the AGI on the backup port 14574."""
    async with AgiStub(port=AGI_BACKUP_PORT) as backup:
        call = await ami.originate("15551230000", "15557000021")
        outcome = await ami.wait_outcome(call, timeout=10)
    assert outcome.agistatus == "SUCCESS"
    assert len(backup.sessions) == 1


async def test_without_any_server_a_static_did_dials_its_primary(ami: Ami) -> None:
    """No server at all: a DID listed in [did-failover-static] is dialled directly."""
    call = await ami.originate("15559990000", "15557000022")
    await ami.wait_dest_reached(Dest="answer", CallerID="15557000022")
    outcome = await ami.wait_outcome(call, timeout=10)
    assert outcome.agistatus == "FAILURE"


async def test_without_any_server_other_dids_get_congestion(ami: Ami) -> None:
    """No server at all and no static entry: the call ends in Congestion."""
    call = await ami.originate("15551230000", "15557000023")
    outcome = await ami.wait_outcome(call, timeout=10)
    assert outcome.agistatus == "FAILURE"
    assert outcome.hangup_cause == "34"


@pytest.mark.parametrize(
    ("result", "cause"),
    [
        ("ANSWERED", "16"),
        ("BUSY", "17"),
        ("NOANSWER", "19"),
        ("UNAVAILABLE", "20"),
        ("CALLER_HANGUP", "16"),
        ("NOT_FOUND", "1"),
        ("INACTIVE", "21"),
        ("LOOP", "25"),
        ("ERROR", "41"),
    ],
)
async def test_sample_dialplan_ends_the_call_by_result(ami: Ami, result: str, cause: str) -> None:
    """[did-failover-result] hangs up with a cause per DID_FAILOVER_RESULT."""
    commands = [
        f"SET VARIABLE DID_FAILOVER_RESULT {result}",
        "SET VARIABLE DID_FAILOVER_LEG PRIMARY",
        "SET VARIABLE DID_FAILOVER_DIALSTATUS BUSY",
    ]
    async with AgiStub(port=AGI_PORT, commands=commands) as agi:
        call = await ami.originate("15551230000", "15557000024")
        outcome = await ami.wait_outcome(call, timeout=10)
    assert agi.replies == ["200 result=1"] * 3
    assert (outcome.result, outcome.leg, outcome.dialstatus) == (result, "PRIMARY", "BUSY")
    assert outcome.hangup_cause == cause


async def test_logger_user_receives_call_events_but_cannot_originate(ami: Ami) -> None:
    """The sample's did-failover-logger AMI user sees dial and hang-up events, nothing of the
    dialplan, and may not place calls."""
    logger = Ami(username="did-failover-logger", secret="change-me-to-a-long-random-secret")
    await logger.connect()
    try:
        with pytest.raises(TestbedError, match="Permission denied"):
            await logger.originate("15551230000", "15557000025")
        async with AgiStub(port=AGI_PORT, commands=['EXEC Dial "PJSIP/busy,2"']):
            call = await ami.originate("15551230000", "15557000025")
            await ami.wait_outcome(call)
        await logger.wait_for("DialEnd", Uniqueid=call.channel_uniqueid, DialStatus="BUSY")
        await logger.wait_for("Hangup", Uniqueid=call.channel_uniqueid)
        assert not logger.matching("VarSet")
        assert not logger.matching("Newexten")
        assert not logger.matching("UserEvent")
    finally:
        logger.close()


async def test_caller_hangup_while_the_destination_rings_ends_both_legs(ami: Ami) -> None:
    """Ami.hangup(call) hangs up the caller; the ringing far end is cancelled too."""
    call = await ami.dial("PJSIP/ring", "15557000026", timeout=30)
    ringing = await ami.wait_dest_reached(Dest="ring", CallerID="15557000026")
    await ami.hangup(call)
    await ami.wait_hangup(call, timeout=3)
    await ami.wait_for("Hangup", timeout=3, Uniqueid=ringing["Uniqueid"])


async def test_cdr_events_carry_the_accountcode_set_in_the_dialplan(ami: Ami) -> None:
    """cdr_manager reports each CDR over AMI (one per dialled leg; an unanswered call
    that dialled nothing makes none), with the accountcode the AGI set before Dial."""
    commands = ['EXEC Set "CHANNEL(accountcode)=4711"', 'EXEC Dial "PJSIP/busy,2"']
    async with AgiStub(port=AGI_PORT, commands=commands):
        call = await ami.originate("15551230000", "15557000027")
        await ami.wait_outcome(call)
    cdr = await ami.wait_for("Cdr", timeout=3, UniqueID=call.channel_uniqueid)
    assert cdr["AccountCode"] == "4711"
    assert cdr["DestinationChannel"].startswith("PJSIP/busy-")
    assert cdr["Disposition"] == "BUSY"


async def test_answered_dial_returns_minus_one_but_the_session_and_dialplan_go_on(ami: Ami) -> None:
    """EXEC Dial of a callee that answers and hangs up replies result=-1, yet the caller's
    channel is alive: the AGI can still set variables and the dialplan's result step runs."""
    commands = [
        'EXEC Dial "PJSIP/answer,5"',
        "SET VARIABLE DID_FAILOVER_RESULT ANSWERED",
        "GET VARIABLE DIALSTATUS",
    ]
    async with AgiStub(port=AGI_PORT, commands=commands) as agi:
        call = await ami.originate("15551230000", "15557000028")
        outcome = await ami.wait_outcome(call)
    assert agi.replies == ["200 result=-1", "200 result=1", "200 result=1 (ANSWER)"]
    assert (outcome.agistatus, outcome.result, outcome.hangup_cause) == ("SUCCESS", "ANSWERED", "16")

"""`did-failover simulate`: a DID's settings played through the real handler, printed for a sysadmin."""

from __future__ import annotations

from pathlib import Path

from tests.support.net import free_port
from tests.support.ops import cli, sample_did, serve_env


async def test_simulate_busy_primary_shows_the_busy_destination_dialled(tmp_path: Path) -> None:
    """BUSY on the primary: the primary, then the BUSY destination with Diversion, and the result."""
    env = serve_env(tmp_path, free_port())
    await sample_did(env)
    code, out, _ = await cli(env, "simulate", "+15551230000", "--primary-status", "BUSY")
    assert code == 0, out
    steps = [line.split(None, 1) for line in out.splitlines()[1:-1]]
    assert steps == [
        ["set", "__DID_FAILOVER_HOPS=1"],
        ["set", "CHANNEL(accountcode)=2001"],
        ["dial", "PJSIP/acme-desk,30 -> BUSY (cause 17, user busy)"],
        ["set", "REDIRECTING(from-num,i)=15551230000"],
        ["set", "REDIRECTING(reason,i)=user-busy"],
        ["set", "REDIRECTING(count,i)=1"],
        ["dial", "PJSIP/+15557654321@pstn,30 -> ANSWER (cause 16, normal clearing)"],
        ["set", "DID_FAILOVER_RESULT=ANSWERED"],
        ["set", "DID_FAILOVER_LEG=BUSY"],
        ["set", "DID_FAILOVER_STEP=1"],
        ["set", "DID_FAILOVER_DIALSTATUS=ANSWER"],
    ]
    assert out.splitlines()[-1] == "result: ANSWERED (last leg dialled: BUSY)"


async def test_simulate_no_answer_without_destination_ends_with_the_condition(tmp_path: Path) -> None:
    """NOANSWER with no NO ANSWER destination: nothing else is dialled, the result says NOANSWER."""
    env = serve_env(tmp_path, free_port())
    await sample_did(env)
    code, out, _ = await cli(env, "simulate", "15551230000", "--primary-status", "NOANSWER")
    assert code == 0
    assert out.count("  dial ") == 1 and "DID_FAILOVER_LEG=PRIMARY" in out


async def test_simulate_unknown_did_prints_not_found_and_exits_2(tmp_path: Path) -> None:
    """An unknown DID (most often a typo): NOT_FOUND, nothing dialled, exit code 2."""
    env = serve_env(tmp_path, free_port())
    await sample_did(env)
    code, out, _ = await cli(env, "simulate", "15550000000", "--primary-status", "BUSY")
    assert code == 2
    assert "  dial " not in out and out.splitlines()[-1] == "result: NOT_FOUND (last leg dialled: none)"


async def test_simulate_without_schema_is_one_error_line(tmp_path: Path) -> None:
    """No schema: one error line naming the problem, exit code 1."""
    code, out, err = await cli(
        serve_env(tmp_path, free_port()), "simulate", "1555", "--primary-status", "BUSY"
    )
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert f"SQLite database {tmp_path}" in err and "run 'did-failover db init'" in err


async def test_simulate_says_when_transfer_is_off_and_when_nothing_dials_the_primary(tmp_path: Path) -> None:
    """The state that explains a result is said: transfer off on the DID or on its account (the
    forward lists kept but unused), an unknown DID, and a primary that an ALWAYS list never dials."""
    env = serve_env(tmp_path, free_port())
    await sample_did(env)
    assert (await cli(env, "transfer", "set", "15551230000", "--off"))[0] == 0
    code, out, _ = await cli(env, "simulate", "15551230000", "--primary-status", "BUSY")
    assert code == 0
    assert "  note    transfer of DID 15551230000 is off: its forward lists are not used" in out
    assert out.splitlines()[-1] == "result: BUSY (last leg dialled: PRIMARY)"
    assert (await cli(env, "transfer", "set", "15551230000", "--on"))[0] == 0
    assert (await cli(env, "account", "set", "2001", "--transfer", "off"))[0] == 0
    _, out, _ = await cli(env, "simulate", "15551230000", "--primary-status", "BUSY")
    assert "  note    transfer of account 2001 is off: none of its DIDs forwards" in out
    assert (await cli(env, "account", "set", "2001", "--transfer", "on"))[0] == 0
    _, out, _ = await cli(env, "simulate", "15551230000", "--primary-status", "BUSY")
    assert "  note " not in out
    _, out, _ = await cli(env, "simulate", "15550000000", "--primary-status", "BUSY")
    assert out.splitlines()[0].endswith("; the primary is not dialled, a transfer leg ends ANSWER")
    assert "  note    DID 15550000000 is not in the database" in out
    assert (await cli(env, "transfer", "set", "15551230000", "--always", "pstn:+15550009999"))[0] == 0
    _, out, _ = await cli(env, "simulate", "15551230000", "--primary-status", "BUSY")
    assert "; the primary is not dialled," in out.splitlines()[0]


async def test_simulate_shows_each_member_of_a_ring_all_step_and_a_confirmed_step(tmp_path: Path) -> None:
    """A confirmed ring-all step: what each Local channel dials, the U() prompt, and a busy step that
    hands the call to the next one."""
    env = serve_env(tmp_path, free_port())
    await sample_did(env)
    busy = "endpoint:desk2&pstn:+15557654321/25/confirm,pstn:+15550001111/confirm"
    assert (await cli(env, "transfer", "set", "15551230000", "--busy", busy))[0] == 0
    code, out, _ = await cli(
        env, "simulate", "15551230000", "--primary-status", "BUSY", "--transfer-status", "BUSY"
    )
    assert code == 0, out
    assert "  ring all PJSIP/desk2 & PJSIP/+15557654321@pstn, the callee presses 1\n" in out
    assert "  dial    Local/1@did-failover-member&Local/2@did-failover-member,25 -> BUSY" in out
    assert "  dial    PJSIP/+15550001111@pstn,30,U(did-failover-confirm^15551230000) -> BUSY" in out

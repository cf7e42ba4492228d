"""What the benchmark's database holds, and the command sequence a did-failover call sends, for the peers."""

from __future__ import annotations

FIRST_DID = 15551230000
DIDS = 200
"""DIDs 15551230000 .. 15551230199, all on customer account 2001, transfer on."""
RESELLER = "2000"
ACCOUNT = "2001"
BUSY_DEST = "pstn:+15557654321"
NO_ANSWER_DEST = "sip:voicemail@pbx.example.com"
RING_TIMEOUT = 20
TRANSFER_TIMEOUT = 30


def did(index: int) -> str:
    """The benchmark's DID number `index`."""
    return str(FIRST_DID + index)


def primary_dest(index: int) -> str:
    """The primary destination of DID `index`."""
    return f"endpoint:desk-{index}"


# The peers send, byte for byte, what did-failover sends for the same call (checked by the load generator).
COUNTERS = b"GET FULL VARIABLE ${DID_FAILOVER_HOPS},${REDIRECTING(count)}\n"
STATUS = b"GET FULL VARIABLE ${DIALSTATUS},${HANGUPCAUSE},${ANSWEREDTIME_MS}\n"


def prepare(hops: int) -> bytes:
    """MSet of the hop counter and the accountcode."""
    return f'EXEC MSet "__DID_FAILOVER_HOPS={hops + 1},CHANNEL(accountcode)={ACCOUNT}"\n'.encode()


def dial_primary(number: str) -> bytes:
    """Dial of the primary leg of DID `number`."""
    return f'EXEC Dial "PJSIP/desk-{int(number) - FIRST_DID},{RING_TIMEOUT}"\n'.encode()


def redirecting(number: str, reason: str, count: int) -> bytes:
    """MSet of REDIRECTING before a forwarded leg."""
    return (
        f'EXEC MSet "REDIRECTING(from-num,i)={number},REDIRECTING(reason,i)={reason},'
        f'REDIRECTING(count,i)={count}"\n'
    ).encode()


DIAL_BUSY = f'EXEC Dial "PJSIP/{BUSY_DEST[5:]}@pstn,{TRANSFER_TIMEOUT}"\n'.encode()
DIAL_NO_ANSWER = f'EXEC Dial "PJSIP/did-failover/{NO_ANSWER_DEST},{TRANSFER_TIMEOUT}"\n'.encode()


def result(result: str, leg: str, dialstatus: str) -> bytes:
    """The final MSet telling the dialplan what happened (step 1 of the forward list when forwarded)."""
    step = "1" if leg not in ("", "PRIMARY") else ""
    return (
        f'EXEC MSet "DID_FAILOVER_RESULT={result},DID_FAILOVER_LEG={leg},DID_FAILOVER_STEP={step},'
        f'DID_FAILOVER_DIALSTATUS={dialstatus}"\n'
    ).encode()


def next_step(status_reply: str) -> tuple[str, str, bytes | None]:
    """From a DIALSTATUS reply's data: (reason, leg, Dial line) of the transfer, or the primary's end."""
    status, _, cause = status_reply.partition(",")
    if status == "BUSY" or (status in ("CHANUNAVAIL", "CONGESTION") and cause in ("17", "21")):
        return "user-busy", "BUSY", DIAL_BUSY
    if status in ("NOANSWER", "CHANUNAVAIL", "CONGESTION"):
        return "no-answer", "NO_ANSWER", DIAL_NO_ANSWER
    return "", "PRIMARY", None


def reply_data(line: str) -> str:
    """The text in parentheses of a `200 result=1 (...)` reply."""
    start = line.find("(")
    return line[start + 1 : line.rfind(")")] if start >= 0 else ""

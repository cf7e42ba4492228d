"""The CSV import/export format of transfer settings: columns, and the all-or-nothing parser."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TextIO

from did_failover.admin.validation import (
    FORWARDS,
    caller_id_mode,
    destination,
    optional_forwards,
    optional_schedule,
    ring_total,
    seconds,
)
from did_failover.admin.views import TransferView
from did_failover.errors import InputError
from did_failover.numbers import account_number, did_number, whole_number
from did_failover.storage.records import (
    DEFAULT_CALLER_ID,
    DEFAULT_RING_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    AccountRow,
    DIDRow,
    NewDID,
    TransferRow,
)

CSV_COLUMNS = (
    "did",
    "account",
    "primary",
    "always",
    "busy",
    "no_answer",
    "unavailable",
    "timeout",
    "caller_id",
    "status",
    "after_hours",
    "schedule",
)
OPTIONAL_COLUMNS = frozenset({"after_hours", "schedule"})
"""Columns an import may leave out (files written before they existed): the DIDs keep their values."""
_CSV_REQUIRED = frozenset(CSV_COLUMNS) - {"account", "primary"} - OPTIONAL_COLUMNS


def write_csv(views: Sequence[TransferView], out: TextIO) -> None:
    """Write transfer settings in the export format (the one `parse_csv` reads back)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for v in views:
        writer.writerow(
            [
                v.did,
                v.account,
                v.primary,
                v.always or "",
                v.busy or "",
                v.no_answer or "",
                v.unavailable or "",
                v.transfer_timeout,
                v.caller_id,
                "on" if v.enabled else "off",
                v.after_hours or "",
                v.schedule or "",
            ]
        )


def delimiter(text: str) -> str:
    """`;` for a file whose header is separated by semicolons (as spreadsheets save CSV where the
    decimal mark is a comma), else `,`."""
    first = text.partition("\n")[0]
    return ";" if ";" in first and "," not in first else ","


def csv_header(text: str) -> list[str]:
    """The column names of a CSV file's first line, as `parse_csv` reads them."""
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter(text)), None)
    except csv.Error:
        return []
    return [cell.strip().lower() for cell in header or []]


def parse_csv(
    text: str, visible: dict[str, DIDRow], accounts: dict[str, AccountRow], updated_by: str, max_ring: int
) -> tuple[list[TransferRow], list[tuple[int, NewDID]], list[str]]:
    """The rows of an import, the DIDs it creates (with their lines), and the problems found, each
    problem naming its line.

    `visible` maps the DIDs the importer sees to their rows, `accounts` the accounts it sees. Commas
    or semicolons separate the cells (`delimiter`). A row of a file without the after_hours or
    schedule column has that field None. For a DID that exists, an account or primary that differs
    from the DID's is a problem: import changes its transfer settings only. A DID that does not
    exist is created when its row gives a customer account the importer sees and a primary. Reads
    time-zone files: off the event loop."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter(text))
    problems: list[str] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [], [f"line 1: {exc}"]
    if header is None:
        return [], [], [f"line 1: empty file; expected the header {','.join(CSV_COLUMNS)}"]
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = sorted(_CSV_REQUIRED - set(columns))
    if unknown or missing or len(set(columns)) != len(columns):
        return (
            [],
            [],
            [
                f"line 1: the header must be {','.join(CSV_COLUMNS)}"
                f" (unknown: {','.join(unknown) or '-'}; missing: {','.join(missing) or '-'})"
            ],
        )
    rows: list[TransferRow] = []
    new: list[tuple[int, NewDID]] = []
    seen: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {reader.line_num}: {exc}")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            problems.append(f"line {line}: expected {len(columns)} cells, got {len(cells)}")
            continue
        record = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
        try:
            row, created = _csv_row(record, line, visible, accounts, updated_by, max_ring)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if row.did in seen:
            problems.append(f"line {line}: DID {row.did} is already on line {seen[row.did]}")
            continue
        seen[row.did] = line
        rows.append(row)
        if created is not None:
            new.append((line, created))
    return rows, new, problems


def _csv_row(
    record: dict[str, str],
    line: int,
    visible: dict[str, DIDRow],
    accounts: dict[str, AccountRow],
    updated_by: str,
    max_ring: int,
) -> tuple[TransferRow, NewDID | None]:
    """One checked CSV record as a TransferRow, and the DID it creates; InputError naming the line
    otherwise."""
    where = f"line {line}"
    number = did_number(record["did"], f"{where}: did")
    stored = visible.get(number)
    created = None
    if stored is None:
        created = _new_did(record, number, accounts, where)
        ring_timeout = DEFAULT_RING_TIMEOUT
    else:
        _unchanged(record, stored, where)
        ring_timeout = stored.ring_timeout
    destinations = {c: optional_forwards(record.get(c, ""), f"{where}: {c}") for c in FORWARDS}
    schedule = optional_schedule(record.get("schedule", ""), f"{where}: schedule")
    timeout_text = record["timeout"] or str(DEFAULT_TRANSFER_TIMEOUT)
    timeout_number = whole_number(timeout_text, 9)
    if timeout_number is None:
        raise InputError(
            f"{where}: timeout: must be a whole number of seconds 1..300, got {timeout_text[:20]!r}"
        )
    timeout = seconds(timeout_number, f"{where}: timeout")
    caller_id = caller_id_mode(record["caller_id"] or DEFAULT_CALLER_ID, f"{where}: caller_id")
    status = record["status"].lower()
    if status not in ("on", "off"):
        raise InputError(f"{where}: status: must be on or off, got {record['status']!r}")
    try:
        ring_total(ring_timeout, timeout, destinations, max_ring)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    settings = TransferRow(
        did=number,
        enabled=status == "on",
        transfer_timeout=timeout,
        caller_id=caller_id,
        updated_by=updated_by,
        always=destinations["always"],
        busy=destinations["busy"],
        no_answer=destinations["no_answer"],
        unavailable=destinations["unavailable"],
        after_hours=destinations["after_hours"],
        schedule=schedule,
    )
    return settings, created


def _new_did(record: dict[str, str], number: str, accounts: dict[str, AccountRow], where: str) -> NewDID:
    """The DID a row creates: its account must be a customer the importer sees, its primary valid."""
    given, primary = record.get("account", ""), record.get("primary", "")
    if not given or not primary:
        raise InputError(f"{where}: DID {number} not found; give its account and primary to create it")
    account = accounts.get(account_number(given, f"{where}: account"))
    if account is None:
        raise InputError(f"{where}: account: account {given} not found")
    if account.type != "customer":
        raise InputError(
            f"{where}: account: account {given} is a {account.type} account; DIDs belong to customers"
        )
    return NewDID(number, account.number, destination(primary, f"{where}: primary"))


def _unchanged(record: dict[str, str], stored: DIDRow, where: str) -> None:
    """Refuse a record whose account or primary is not the DID's: import applies transfer settings
    only, and an edit it did not apply must not be reported as imported. An empty cell is left alone."""
    given = record.get("account", "")
    if given and account_number(given, f"{where}: account") != stored.account:
        raise InputError(
            f"{where}: account: import does not move DID {stored.number} (account {stored.account}, the"
            f" file says {given[:20]!r}): move it with 'did set', or put {stored.account} back"
        )
    given = record.get("primary", "")
    if given and destination(given, f"{where}: primary") != stored.primary:
        raise InputError(
            f"{where}: primary: import does not change the primary destination of DID {stored.number}"
            f" ({stored.primary}, the file says {given[:40]!r}): change it with 'did set', or put it back"
        )

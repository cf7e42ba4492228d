"""What `db init` changes in a database of an older schema version, per back end, before it runs the
schema file (which creates what is missing as it is now): see SQLRepository.init_schema."""

from __future__ import annotations

_EXACT_NAME = "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"  # users.username, schema 4

MYSQL_VERSION_3_COLUMNS = (
    (
        "did_transfers",
        "after_hours_destination",
        "ALTER TABLE did_transfers MODIFY always_destination VARCHAR(1300) NULL,"
        " MODIFY busy_destination VARCHAR(1300) NULL, MODIFY no_answer_destination VARCHAR(1300) NULL,"
        " MODIFY unavailable_destination VARCHAR(1300) NULL,"
        " ADD COLUMN after_hours_destination VARCHAR(1300) NULL AFTER unavailable_destination,"
        " ADD COLUMN schedule VARCHAR(2000) NULL AFTER after_hours_destination",
    ),
    ("call_log", "legs", "ALTER TABLE call_log ADD COLUMN legs VARCHAR(2000) NULL"),
)
MYSQL_VERSION_4_STATEMENTS = (("users", f"ALTER TABLE users MODIFY username {_EXACT_NAME}"),)
MYSQL_VERSION_5_STATEMENTS = (
    (
        "call_log",
        "DELETE c FROM call_log c JOIN call_log k"
        " ON k.uniqueid = c.uniqueid AND k.started_at = c.started_at AND k.id < c.id",
        None,
    ),
    (
        "call_log",
        "ALTER TABLE call_log ADD UNIQUE KEY ux_call_log_call (uniqueid, started_at)",
        "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE()"
        " AND table_name = 'call_log' AND index_name = 'ux_call_log_call'",
    ),
)

_GRID_KEYS = ("account_key", "always_key", "busy_key", "no_answer_key", "unavailable_key", "status_key")
"""The sort keys schema 6 keeps on dids (the schema files say what each holds)."""
MYSQL_VERSION_6_COLUMNS = (
    (
        "dids",
        "account_key",
        "ALTER TABLE dids ADD COLUMN account_key VARCHAR(32) NOT NULL DEFAULT '',"
        + "".join(f" ADD COLUMN {key} VARCHAR(64) NOT NULL DEFAULT ''," for key in _GRID_KEYS[1:-1])
        + " ADD COLUMN status_key VARCHAR(1) NOT NULL DEFAULT '',"
        " ADD KEY ix_dids_grid_number (number, account_id),"
        " ADD KEY ix_dids_grid_account (account_key, number, account_id),"
        " ADD KEY ix_dids_grid_primary (primary_destination, number, account_id),"
        + ",".join(f" ADD KEY ix_dids_grid_{key[:-4]} ({key}, number, account_id)" for key in _GRID_KEYS[1:]),
    ),
)
"""What turns dids of a schema older than 6 into 6 (the schema file then fills the keys)."""


SQLITE_VERSION_3_COLUMNS = (
    (
        "did_transfers",
        "after_hours_destination",
        "ALTER TABLE did_transfers ADD COLUMN after_hours_destination TEXT NULL",
    ),
    ("did_transfers", "schedule", "ALTER TABLE did_transfers ADD COLUMN schedule TEXT NULL"),
    ("call_log", "legs", "ALTER TABLE call_log ADD COLUMN legs TEXT NULL"),
)
SQLITE_VERSION_5_STATEMENTS = (
    (
        "call_log",
        "DELETE FROM call_log WHERE uniqueid IS NOT NULL AND id NOT IN"
        " (SELECT MIN(id) FROM call_log WHERE uniqueid IS NOT NULL GROUP BY uniqueid, started_at)",
        None,
    ),
)
"""SQLite's schema file then creates the unique index itself."""
SQLITE_VERSION_6_COLUMNS = tuple(
    ("dids", key, f"ALTER TABLE dids ADD COLUMN {key} TEXT NOT NULL DEFAULT ''") for key in _GRID_KEYS
)
"""SQLite's schema file then creates the indexes and fills the keys."""

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

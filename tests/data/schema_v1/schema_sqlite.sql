-- did-failover schema for SQLite: the same tables and columns as schema.sql (MySQL/MariaDB).
-- Idempotent; `did-failover db init` runs it. Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS'.

CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('admin', 'reseller', 'customer')),
    reseller_id INTEGER NULL REFERENCES accounts (id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    transfer_enabled INTEGER NOT NULL DEFAULT 1 CHECK (transfer_enabled IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS ix_accounts_reseller ON accounts (reseller_id);

CREATE TABLE IF NOT EXISTS dids (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    primary_destination TEXT NOT NULL,
    ring_timeout INTEGER NOT NULL DEFAULT 30 CHECK (ring_timeout BETWEEN 1 AND 300),
    max_channels INTEGER NOT NULL DEFAULT 0 CHECK (max_channels >= 0),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS ix_dids_account ON dids (account_id);

CREATE TABLE IF NOT EXISTS did_transfers (
    did_id INTEGER PRIMARY KEY REFERENCES dids (id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    always_destination TEXT NULL,
    busy_destination TEXT NULL,
    no_answer_destination TEXT NULL,
    unavailable_destination TEXT NULL,
    timeout INTEGER NOT NULL DEFAULT 30 CHECK (timeout BETWEEN 1 AND 300),
    caller_id TEXT NOT NULL DEFAULT 'keep' CHECK (caller_id IN ('keep', 'did')),
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- One row per routed call. No foreign key to dids: the history survives the removal of a DID.
CREATE TABLE IF NOT EXISTS call_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    did TEXT NOT NULL,
    account_number TEXT NULL,
    caller TEXT NULL,
    primary_destination TEXT NULL,
    primary_dialstatus TEXT NULL,
    transfer_condition TEXT NULL,
    transfer_destination TEXT NULL,
    transfer_dialstatus TEXT NULL,
    result TEXT NOT NULL,
    leg TEXT NULL,
    answered_at TEXT NULL,
    ended_at TEXT NULL,
    hangup_cause INTEGER NULL,
    billsec INTEGER NULL,
    uniqueid TEXT NULL
);
CREATE INDEX IF NOT EXISTS ix_call_log_started_at ON call_log (started_at);
CREATE INDEX IF NOT EXISTS ix_call_log_did ON call_log (did, started_at);

CREATE TABLE IF NOT EXISTS schema_version (
    id INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version INTEGER NOT NULL
);

INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 1);

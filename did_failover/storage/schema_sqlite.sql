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

-- The DIDs Call Transfer page's sort keys (schema 6), one row per DID, kept by the tr_grid_*
-- triggers below (never written by did-failover itself): the DID's number and account, the
-- account's number, the primary, the first 64 characters of each forward list and the transfer
-- switch ('' none, '0' off, '1' on). One index per sort order, each ending with account_id so that a
-- reseller's page is filtered inside the index. A table of its own, so that no statement a sysadmin
-- writes on dids or did_transfers is one whose trigger writes a table it reads.
CREATE TABLE IF NOT EXISTS did_grid (
    did_id INTEGER PRIMARY KEY,
    number TEXT NOT NULL,
    account_id INTEGER NOT NULL,
    account_key TEXT NOT NULL DEFAULT '',
    primary_key TEXT NOT NULL DEFAULT '',
    always_key TEXT NOT NULL DEFAULT '',
    busy_key TEXT NOT NULL DEFAULT '',
    no_answer_key TEXT NOT NULL DEFAULT '',
    unavailable_key TEXT NOT NULL DEFAULT '',
    status_key TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ix_did_grid_account_id ON did_grid (account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_number ON did_grid (number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_account ON did_grid (account_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_primary ON did_grid (primary_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_always ON did_grid (always_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_busy ON did_grid (busy_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_no_answer ON did_grid (no_answer_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_unavailable ON did_grid (unavailable_key, number, account_id);
CREATE INDEX IF NOT EXISTS ix_did_grid_status ON did_grid (status_key, number, account_id);

-- How many DIDs each account holds (schema 6, kept by the tr_grid_* triggers): the grid's count
-- without counting a million rows.
CREATE TABLE IF NOT EXISTS account_dids (
    account_id INTEGER PRIMARY KEY,
    dids INTEGER NOT NULL DEFAULT 0
);

-- Every ending of 3 digits or more of every DID's number (schema 6, kept by the tr_grid_* triggers):
-- a search for part of a number is a range of this index, not a scan of every DID.
CREATE TABLE IF NOT EXISTS did_suffixes (
    suffix TEXT NOT NULL,
    did_id INTEGER NOT NULL,
    PRIMARY KEY (suffix, did_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_did_suffixes_did ON did_suffixes (did_id);

-- The positions a suffix of a DID's number starts at (1 to 18: numbers have 3 to 20 digits).
CREATE TABLE IF NOT EXISTS suffix_positions (
    n INTEGER PRIMARY KEY
);
INSERT OR IGNORE INTO suffix_positions (n) VALUES
    (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18);

CREATE TABLE IF NOT EXISTS did_transfers (
    did_id INTEGER PRIMARY KEY REFERENCES dids (id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    always_destination TEXT NULL,
    busy_destination TEXT NULL,
    no_answer_destination TEXT NULL,
    unavailable_destination TEXT NULL,
    after_hours_destination TEXT NULL,
    schedule TEXT NULL,
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
    uniqueid TEXT NULL,
    legs TEXT NULL
);
CREATE INDEX IF NOT EXISTS ix_call_log_started_at ON call_log (started_at);
CREATE INDEX IF NOT EXISTS ix_call_log_did ON call_log (did, started_at);
-- One row per call: a batch sent again (its commit was made but not confirmed) adds nothing.
CREATE UNIQUE INDEX IF NOT EXISTS ux_call_log_call ON call_log (uniqueid, started_at);

-- Logins of the web page and the API. A reseller or customer user belongs to an account of
-- that type; an admin user to none. Passwords only as argon2id hashes.
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reseller', 'customer')),
    account_id INTEGER NULL REFERENCES accounts (id),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK ((role = 'admin') = (account_id IS NULL))
);
CREATE INDEX IF NOT EXISTS ix_users_account ON users (account_id);

-- Web sessions, kept on the server: id is the SHA-256 (hex) of the cookie's token, never the
-- token itself. Removing a user's rows ends every session of that user at once.
CREATE TABLE IF NOT EXISTS web_sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_web_sessions_user ON web_sessions (user_id);
CREATE INDEX IF NOT EXISTS ix_web_sessions_last_seen ON web_sessions (last_seen_at);

-- API tokens (`Authorization: Bearer TOKEN`): only the SHA-256 of each token is kept. A token
-- belongs to a user; removing the user removes its tokens.
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NULL
);
CREATE INDEX IF NOT EXISTS ix_api_tokens_user ON api_tokens (user_id);

-- Failed logins of the web page and the API, for the throttle every web process shares: a row per
-- failure and bucket, the bucket being the SHA-256 of `user:NAME` or `addr:ADDRESS` (never the name
-- itself). Rows older than the throttle's window are deleted as new failures come.
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_login_failures_bucket ON login_failures (bucket, failed_at);
CREATE INDEX IF NOT EXISTS ix_login_failures_failed_at ON login_failures (failed_at);

-- Secrets the web process generates once (e.g. the key that signs the login form's CSRF token).
CREATE TABLE IF NOT EXISTS web_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Webhook subscriptions (schema 7): where to POST which events, signed with `secret` (Standard
-- Webhooks); reseller_id NULL is the admin's (every event), else only that reseller's customers'.
-- delivered_seq is how far the subscription has confirmed; a failed delivery sets next_attempt_at
-- (a growing pause) and failing_since; a delivering process holds the row for lease_until.
-- After a rotation the replaced secret (previous_secret) signs too, until previous_until.
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL,
    call_ended INTEGER NOT NULL DEFAULT 0 CHECK (call_ended IN (0, 1)),
    change_made INTEGER NOT NULL DEFAULT 0 CHECK (change_made IN (0, 1)),
    reseller_id INTEGER NULL REFERENCES accounts (id),
    secret TEXT NOT NULL,
    previous_secret TEXT NULL,
    previous_until TEXT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    delivered_at TEXT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NULL,
    failing_since TEXT NULL,
    last_error TEXT NULL,
    lease_owner TEXT NULL,
    lease_until TEXT NULL
);
CREATE INDEX IF NOT EXISTS ix_webhooks_reseller ON webhooks (reseller_id);

-- The events webhooks deliver (schema 7): a row per change-log or call-log row, written by the
-- tr_webhook_* triggers below while any subscription wants its kind, with the account and its
-- reseller at that moment. seq is given in commit order by one sequencer at a time (the
-- webhook_sequencer row), with the event's JSON; subscriptions deliver in seq order.
CREATE TABLE IF NOT EXISTS webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NULL UNIQUE,
    kind TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    account TEXT NULL,
    reseller TEXT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NULL
);

-- The last seq given (one row): the sequencer's lock and every subscription's upper bound.
CREATE TABLE IF NOT EXISTS webhook_sequencer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO webhook_sequencer (id, last_seq) VALUES (1, 0);


-- Every change to accounts, dids, did_transfers and users, one row per field, written by the triggers
-- below (so rows edited by hand are kept too). actor is read from change_actor, which
-- did-failover fills inside its own write transactions and empties before they commit; a row
-- edited by hand finds it empty and is recorded as 'sql'. Running servers poll it by id.
CREATE TABLE IF NOT EXISTS change_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    account TEXT NULL,
    did TEXT NULL,
    username TEXT NULL,
    field TEXT NOT NULL,
    old_value TEXT NULL,
    new_value TEXT NULL
);
CREATE INDEX IF NOT EXISTS ix_change_log_changed_at ON change_log (changed_at);
CREATE INDEX IF NOT EXISTS ix_change_log_did ON change_log (did, id);
CREATE INDEX IF NOT EXISTS ix_change_log_account ON change_log (account, id);

-- SQLite has no session variables: the actor of the transaction in progress (never committed).
CREATE TABLE IF NOT EXISTS change_actor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    actor TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_version (
    id INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version INTEGER NOT NULL
);

-- BEGIN change-log triggers: generated by scripts/schema_triggers.py, do not edit by hand
DROP TRIGGER IF EXISTS tr_accounts_insert;
CREATE TRIGGER tr_accounts_insert AFTER INSERT ON accounts FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'number', NULL, CAST(NEW.number AS TEXT)
    WHERE NEW.number IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'name', NULL, CAST(NEW.name AS TEXT)
    WHERE NEW.name IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'type', NULL, CAST(NEW.type AS TEXT)
    WHERE NEW.type IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'reseller', NULL, CAST((SELECT number FROM accounts WHERE id = NEW.reseller_id) AS TEXT)
    WHERE NEW.reseller_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'active', NULL, CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'transfer', NULL, CAST(CASE WHEN NEW.transfer_enabled THEN 'true' ELSE 'false' END AS TEXT)
    WHERE NEW.transfer_enabled IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_accounts_update;
CREATE TRIGGER tr_accounts_update AFTER UPDATE ON accounts FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'number', CAST(OLD.number AS TEXT), CAST(NEW.number AS TEXT)
    WHERE OLD.number IS NOT NEW.number
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'name', CAST(OLD.name AS TEXT), CAST(NEW.name AS TEXT)
    WHERE OLD.name IS NOT NEW.name
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'type', CAST(OLD.type AS TEXT), CAST(NEW.type AS TEXT)
    WHERE OLD.type IS NOT NEW.type
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'reseller', CAST((SELECT number FROM accounts WHERE id = OLD.reseller_id) AS TEXT), CAST((SELECT number FROM accounts WHERE id = NEW.reseller_id) AS TEXT)
    WHERE OLD.reseller_id IS NOT NEW.reseller_id
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE OLD.active IS NOT NEW.active
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'transfer', CAST(CASE WHEN OLD.transfer_enabled THEN 'true' ELSE 'false' END AS TEXT), CAST(CASE WHEN NEW.transfer_enabled THEN 'true' ELSE 'false' END AS TEXT)
    WHERE OLD.transfer_enabled IS NOT NEW.transfer_enabled;
END;

DROP TRIGGER IF EXISTS tr_accounts_delete;
CREATE TRIGGER tr_accounts_delete AFTER DELETE ON accounts FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'number', CAST(OLD.number AS TEXT), NULL
    WHERE OLD.number IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'name', CAST(OLD.name AS TEXT), NULL
    WHERE OLD.name IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'type', CAST(OLD.type AS TEXT), NULL
    WHERE OLD.type IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'reseller', CAST((SELECT number FROM accounts WHERE id = OLD.reseller_id) AS TEXT), NULL
    WHERE OLD.reseller_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), NULL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'transfer', CAST(CASE WHEN OLD.transfer_enabled THEN 'true' ELSE 'false' END AS TEXT), NULL
    WHERE OLD.transfer_enabled IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_dids_insert;
CREATE TRIGGER tr_dids_insert AFTER INSERT ON dids FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'number', NULL, CAST(NEW.number AS TEXT)
    WHERE NEW.number IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'account', NULL, CAST((SELECT number FROM accounts WHERE id = NEW.account_id) AS TEXT)
    WHERE NEW.account_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'active', NULL, CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'primary', NULL, CAST(NEW.primary_destination AS TEXT)
    WHERE NEW.primary_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'ring_timeout', NULL, CAST(NEW.ring_timeout AS TEXT)
    WHERE NEW.ring_timeout IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'max_channels', NULL, CAST(NEW.max_channels AS TEXT)
    WHERE NEW.max_channels IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_dids_update;
CREATE TRIGGER tr_dids_update AFTER UPDATE ON dids FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'number', CAST(OLD.number AS TEXT), CAST(NEW.number AS TEXT)
    WHERE OLD.number IS NOT NEW.number
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'account', CAST((SELECT number FROM accounts WHERE id = OLD.account_id) AS TEXT), CAST((SELECT number FROM accounts WHERE id = NEW.account_id) AS TEXT)
    WHERE OLD.account_id IS NOT NEW.account_id
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE OLD.active IS NOT NEW.active
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'primary', CAST(OLD.primary_destination AS TEXT), CAST(NEW.primary_destination AS TEXT)
    WHERE OLD.primary_destination IS NOT NEW.primary_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'ring_timeout', CAST(OLD.ring_timeout AS TEXT), CAST(NEW.ring_timeout AS TEXT)
    WHERE OLD.ring_timeout IS NOT NEW.ring_timeout
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'max_channels', CAST(OLD.max_channels AS TEXT), CAST(NEW.max_channels AS TEXT)
    WHERE OLD.max_channels IS NOT NEW.max_channels;
END;

DROP TRIGGER IF EXISTS tr_dids_delete;
CREATE TRIGGER tr_dids_delete AFTER DELETE ON dids FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'number', CAST(OLD.number AS TEXT), NULL
    WHERE OLD.number IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'account', CAST((SELECT number FROM accounts WHERE id = OLD.account_id) AS TEXT), NULL
    WHERE OLD.account_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), NULL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'primary', CAST(OLD.primary_destination AS TEXT), NULL
    WHERE OLD.primary_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'ring_timeout', CAST(OLD.ring_timeout AS TEXT), NULL
    WHERE OLD.ring_timeout IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'max_channels', CAST(OLD.max_channels AS TEXT), NULL
    WHERE OLD.max_channels IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_did_transfers_insert;
CREATE TRIGGER tr_did_transfers_insert AFTER INSERT ON did_transfers FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'transfer', NULL, CAST(CASE WHEN NEW.enabled THEN 'true' ELSE 'false' END AS TEXT)
    WHERE NEW.enabled IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'always', NULL, CAST(NEW.always_destination AS TEXT)
    WHERE NEW.always_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'busy', NULL, CAST(NEW.busy_destination AS TEXT)
    WHERE NEW.busy_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'no_answer', NULL, CAST(NEW.no_answer_destination AS TEXT)
    WHERE NEW.no_answer_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'unavailable', NULL, CAST(NEW.unavailable_destination AS TEXT)
    WHERE NEW.unavailable_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'after_hours', NULL, CAST(NEW.after_hours_destination AS TEXT)
    WHERE NEW.after_hours_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'schedule', NULL, CAST(NEW.schedule AS TEXT)
    WHERE NEW.schedule IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'timeout', NULL, CAST(NEW.timeout AS TEXT)
    WHERE NEW.timeout IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'caller_id', NULL, CAST(NEW.caller_id AS TEXT)
    WHERE NEW.caller_id IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_did_transfers_update;
CREATE TRIGGER tr_did_transfers_update AFTER UPDATE ON did_transfers FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'transfer', CAST(CASE WHEN OLD.enabled THEN 'true' ELSE 'false' END AS TEXT), CAST(CASE WHEN NEW.enabled THEN 'true' ELSE 'false' END AS TEXT)
    WHERE OLD.enabled IS NOT NEW.enabled
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'always', CAST(OLD.always_destination AS TEXT), CAST(NEW.always_destination AS TEXT)
    WHERE OLD.always_destination IS NOT NEW.always_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'busy', CAST(OLD.busy_destination AS TEXT), CAST(NEW.busy_destination AS TEXT)
    WHERE OLD.busy_destination IS NOT NEW.busy_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'no_answer', CAST(OLD.no_answer_destination AS TEXT), CAST(NEW.no_answer_destination AS TEXT)
    WHERE OLD.no_answer_destination IS NOT NEW.no_answer_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'unavailable', CAST(OLD.unavailable_destination AS TEXT), CAST(NEW.unavailable_destination AS TEXT)
    WHERE OLD.unavailable_destination IS NOT NEW.unavailable_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'after_hours', CAST(OLD.after_hours_destination AS TEXT), CAST(NEW.after_hours_destination AS TEXT)
    WHERE OLD.after_hours_destination IS NOT NEW.after_hours_destination
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'schedule', CAST(OLD.schedule AS TEXT), CAST(NEW.schedule AS TEXT)
    WHERE OLD.schedule IS NOT NEW.schedule
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'timeout', CAST(OLD.timeout AS TEXT), CAST(NEW.timeout AS TEXT)
    WHERE OLD.timeout IS NOT NEW.timeout
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'caller_id', CAST(OLD.caller_id AS TEXT), CAST(NEW.caller_id AS TEXT)
    WHERE OLD.caller_id IS NOT NEW.caller_id;
END;

DROP TRIGGER IF EXISTS tr_did_transfers_delete;
CREATE TRIGGER tr_did_transfers_delete AFTER DELETE ON did_transfers FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'transfer', CAST(CASE WHEN OLD.enabled THEN 'true' ELSE 'false' END AS TEXT), NULL
    WHERE OLD.enabled IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'always', CAST(OLD.always_destination AS TEXT), NULL
    WHERE OLD.always_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'busy', CAST(OLD.busy_destination AS TEXT), NULL
    WHERE OLD.busy_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'no_answer', CAST(OLD.no_answer_destination AS TEXT), NULL
    WHERE OLD.no_answer_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'unavailable', CAST(OLD.unavailable_destination AS TEXT), NULL
    WHERE OLD.unavailable_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'after_hours', CAST(OLD.after_hours_destination AS TEXT), NULL
    WHERE OLD.after_hours_destination IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'schedule', CAST(OLD.schedule AS TEXT), NULL
    WHERE OLD.schedule IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'timeout', CAST(OLD.timeout AS TEXT), NULL
    WHERE OLD.timeout IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'caller_id', CAST(OLD.caller_id AS TEXT), NULL
    WHERE OLD.caller_id IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_users_insert;
CREATE TRIGGER tr_users_insert AFTER INSERT ON users FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'username', NULL, CAST(NEW.username AS TEXT)
    WHERE NEW.username IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'role', NULL, CAST(NEW.role AS TEXT)
    WHERE NEW.role IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'account', NULL, CAST((SELECT number FROM accounts WHERE id = NEW.account_id) AS TEXT)
    WHERE NEW.account_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'active', NULL, CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'password', NULL, CAST('********' AS TEXT)
    WHERE NEW.password_hash IS NOT NULL;
END;

DROP TRIGGER IF EXISTS tr_users_update;
CREATE TRIGGER tr_users_update AFTER UPDATE ON users FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'username', CAST(OLD.username AS TEXT), CAST(NEW.username AS TEXT)
    WHERE OLD.username IS NOT NEW.username
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'role', CAST(OLD.role AS TEXT), CAST(NEW.role AS TEXT)
    WHERE OLD.role IS NOT NEW.role
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'account', CAST((SELECT number FROM accounts WHERE id = OLD.account_id) AS TEXT), CAST((SELECT number FROM accounts WHERE id = NEW.account_id) AS TEXT)
    WHERE OLD.account_id IS NOT NEW.account_id
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), CAST(CASE WHEN NEW.active THEN 'true' ELSE 'false' END AS TEXT)
    WHERE OLD.active IS NOT NEW.active
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'password', CAST('********' AS TEXT), CAST('********' AS TEXT)
    WHERE OLD.password_hash IS NOT NEW.password_hash;
END;

DROP TRIGGER IF EXISTS tr_users_delete;
CREATE TRIGGER tr_users_delete AFTER DELETE ON users FOR EACH ROW
BEGIN
    INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'username', CAST(OLD.username AS TEXT), NULL
    WHERE OLD.username IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'role', CAST(OLD.role AS TEXT), NULL
    WHERE OLD.role IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'account', CAST((SELECT number FROM accounts WHERE id = OLD.account_id) AS TEXT), NULL
    WHERE OLD.account_id IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'active', CAST(CASE WHEN OLD.active THEN 'true' ELSE 'false' END AS TEXT), NULL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), COALESCE((SELECT actor FROM change_actor WHERE id = 1), 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'password', CAST('********' AS TEXT), NULL
    WHERE OLD.password_hash IS NOT NULL;
END;

-- END change-log triggers

-- The grid's keys, counts and suffixes (schema 6), kept from the rows themselves so that rows edited
-- by hand keep them too. Filled once for the DIDs of an older schema (the statements after these
-- triggers; each does nothing once done).
DROP TRIGGER IF EXISTS tr_grid_dids_insert;
CREATE TRIGGER tr_grid_dids_insert AFTER INSERT ON dids FOR EACH ROW
BEGIN
    INSERT INTO did_grid (did_id, number, account_id, account_key, primary_key)
        VALUES (NEW.id, NEW.number, NEW.account_id, (SELECT number FROM accounts WHERE id = NEW.account_id),
            NEW.primary_destination);
    INSERT INTO account_dids (account_id, dids) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET dids = dids + 1;
    INSERT INTO did_suffixes (suffix, did_id)
        SELECT substr(NEW.number, n), NEW.id FROM suffix_positions WHERE n <= length(NEW.number) - 2;
END;

DROP TRIGGER IF EXISTS tr_grid_dids_update;
CREATE TRIGGER tr_grid_dids_update AFTER UPDATE ON dids FOR EACH ROW
BEGIN
    UPDATE did_grid SET number = NEW.number, account_id = NEW.account_id,
        account_key = (SELECT number FROM accounts WHERE id = NEW.account_id), primary_key = NEW.primary_destination
    WHERE did_id = NEW.id;
END;

DROP TRIGGER IF EXISTS tr_grid_dids_account;
CREATE TRIGGER tr_grid_dids_account AFTER UPDATE OF account_id ON dids FOR EACH ROW
WHEN OLD.account_id IS NOT NEW.account_id
BEGIN
    UPDATE account_dids SET dids = dids - 1 WHERE account_id = OLD.account_id;
    INSERT INTO account_dids (account_id, dids) VALUES (NEW.account_id, 1)
        ON CONFLICT (account_id) DO UPDATE SET dids = dids + 1;
END;

DROP TRIGGER IF EXISTS tr_grid_dids_number;
CREATE TRIGGER tr_grid_dids_number AFTER UPDATE OF number ON dids FOR EACH ROW
WHEN OLD.number IS NOT NEW.number
BEGIN
    DELETE FROM did_suffixes WHERE did_id = OLD.id;
    INSERT INTO did_suffixes (suffix, did_id)
        SELECT substr(NEW.number, n), NEW.id FROM suffix_positions WHERE n <= length(NEW.number) - 2;
END;

DROP TRIGGER IF EXISTS tr_grid_dids_delete;
CREATE TRIGGER tr_grid_dids_delete AFTER DELETE ON dids FOR EACH ROW
BEGIN
    DELETE FROM did_grid WHERE did_id = OLD.id;
    UPDATE account_dids SET dids = dids - 1 WHERE account_id = OLD.account_id;
    DELETE FROM did_suffixes WHERE did_id = OLD.id;
END;

DROP TRIGGER IF EXISTS tr_grid_accounts_number;
CREATE TRIGGER tr_grid_accounts_number AFTER UPDATE OF number ON accounts FOR EACH ROW
WHEN OLD.number IS NOT NEW.number
BEGIN
    UPDATE did_grid SET account_key = NEW.number WHERE account_id = NEW.id;
END;

DROP TRIGGER IF EXISTS tr_grid_transfers_insert;
CREATE TRIGGER tr_grid_transfers_insert AFTER INSERT ON did_transfers FOR EACH ROW
BEGIN
    UPDATE did_grid SET always_key = substr(COALESCE(NEW.always_destination, ''), 1, 64),
        busy_key = substr(COALESCE(NEW.busy_destination, ''), 1, 64),
        no_answer_key = substr(COALESCE(NEW.no_answer_destination, ''), 1, 64),
        unavailable_key = substr(COALESCE(NEW.unavailable_destination, ''), 1, 64),
        status_key = CASE WHEN NEW.enabled THEN '1' ELSE '0' END
    WHERE did_id = NEW.did_id;
END;

DROP TRIGGER IF EXISTS tr_grid_transfers_update;
CREATE TRIGGER tr_grid_transfers_update AFTER UPDATE ON did_transfers FOR EACH ROW
BEGIN
    UPDATE did_grid SET always_key = substr(COALESCE(NEW.always_destination, ''), 1, 64),
        busy_key = substr(COALESCE(NEW.busy_destination, ''), 1, 64),
        no_answer_key = substr(COALESCE(NEW.no_answer_destination, ''), 1, 64),
        unavailable_key = substr(COALESCE(NEW.unavailable_destination, ''), 1, 64),
        status_key = CASE WHEN NEW.enabled THEN '1' ELSE '0' END
    WHERE did_id = NEW.did_id;
END;

DROP TRIGGER IF EXISTS tr_grid_transfers_delete;
CREATE TRIGGER tr_grid_transfers_delete AFTER DELETE ON did_transfers FOR EACH ROW
BEGIN
    UPDATE did_grid SET always_key = '', busy_key = '', no_answer_key = '', unavailable_key = '', status_key = ''
    WHERE did_id = OLD.did_id;
END;

-- The DIDs of a schema older than 6: their keys, counts and suffixes, once.
INSERT INTO did_grid (did_id, number, account_id, account_key, primary_key, always_key, busy_key, no_answer_key,
        unavailable_key, status_key)
    SELECT d.id, d.number, d.account_id, a.number, d.primary_destination,
        substr(COALESCE(t.always_destination, ''), 1, 64), substr(COALESCE(t.busy_destination, ''), 1, 64),
        substr(COALESCE(t.no_answer_destination, ''), 1, 64), substr(COALESCE(t.unavailable_destination, ''), 1, 64),
        CASE WHEN t.did_id IS NULL THEN '' WHEN t.enabled THEN '1' ELSE '0' END
    FROM dids d JOIN accounts a ON a.id = d.account_id LEFT JOIN did_transfers t ON t.did_id = d.id
    WHERE NOT EXISTS (SELECT 1 FROM did_grid);
INSERT INTO account_dids (account_id, dids)
    SELECT account_id, COUNT(*) FROM dids WHERE NOT EXISTS (SELECT 1 FROM account_dids) GROUP BY account_id;
INSERT INTO did_suffixes (suffix, did_id)
    SELECT substr(d.number, p.n), d.id FROM dids d JOIN suffix_positions p ON p.n <= length(d.number) - 2
    WHERE NOT EXISTS (SELECT 1 FROM did_suffixes);

-- Webhook events (schema 7): a row per new change-log or call-log row while a subscription wants
-- that kind, with the reseller of its account now (a reseller's subscription gets its customers').
DROP TRIGGER IF EXISTS tr_webhook_change;
CREATE TRIGGER tr_webhook_change AFTER INSERT ON change_log FOR EACH ROW
WHEN EXISTS (SELECT 1 FROM webhooks WHERE change_made = 1)
BEGIN
    INSERT INTO webhook_events (kind, source_id, account, reseller, created_at)
    VALUES ('change.made', NEW.id, NEW.account, (SELECT r.number FROM accounts a JOIN accounts r ON r.id = a.reseller_id WHERE a.number = NEW.account), NEW.changed_at);
END;

DROP TRIGGER IF EXISTS tr_webhook_call;
CREATE TRIGGER tr_webhook_call AFTER INSERT ON call_log FOR EACH ROW
WHEN EXISTS (SELECT 1 FROM webhooks WHERE call_ended = 1)
BEGIN
    INSERT INTO webhook_events (kind, source_id, account, reseller, created_at)
    VALUES ('call.ended', NEW.id, NEW.account_number, (SELECT r.number FROM accounts a JOIN accounts r ON r.id = a.reseller_id WHERE a.number = NEW.account_number),
        COALESCE(NEW.ended_at, NEW.started_at));
END;

-- The version last: a schema whose triggers could not be created (no TRIGGER privilege, or binary
-- logging without SUPER) is not taken for a finished one; `db init` then says why and runs again.
INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 7);
-- Versions 1 to 3 become 4 in place. 2 added users, web sessions, API tokens and the change log;
-- 3 added after_hours_destination, schedule and call_log.legs (`did-failover db init` adds those
-- columns before it runs this file); 4 added login_failures; 5 made a call's row unique (uniqueid,
-- started_at; `db init` folds the duplicates an older version could write before this file runs); 6
-- added the grid's keys (did_grid), account_dids and did_suffixes, filled from the rows there; 7
-- added webhooks, webhook_events and webhook_sequencer.
UPDATE schema_version SET version = 7 WHERE id = 1 AND version < 7;

-- did-failover schema for MySQL 8 / MariaDB 10.11 (InnoDB, utf8mb4).
-- Idempotent: run it by hand (mysql DB < schema.sql) or with `did-failover db init`.
-- fastagi/schema_mysql.sql is the copy the package runs; the top-level schema.sql is identical.
-- Timestamps are UTC (did-failover sets time_zone = '+00:00' on its connections).

CREATE TABLE IF NOT EXISTS accounts (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    number VARCHAR(32) NOT NULL,
    name VARCHAR(100) NOT NULL,
    type ENUM('admin', 'reseller', 'customer') NOT NULL,
    reseller_id INT UNSIGNED NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    transfer_enabled TINYINT(1) NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_accounts_number (number),
    KEY ix_accounts_reseller (reseller_id),
    CONSTRAINT fk_accounts_reseller FOREIGN KEY (reseller_id) REFERENCES accounts (id),
    CONSTRAINT ck_accounts_active CHECK (active IN (0, 1)),
    CONSTRAINT ck_accounts_transfer CHECK (transfer_enabled IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS dids (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    number VARCHAR(20) NOT NULL,
    account_id INT UNSIGNED NOT NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    primary_destination VARCHAR(255) NOT NULL,
    ring_timeout INT NOT NULL DEFAULT 30,
    max_channels INT NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_dids_number (number),
    KEY ix_dids_account (account_id),
    CONSTRAINT fk_dids_account FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT ck_dids_active CHECK (active IN (0, 1)),
    CONSTRAINT ck_dids_ring_timeout CHECK (ring_timeout BETWEEN 1 AND 300),
    CONSTRAINT ck_dids_max_channels CHECK (max_channels >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The DIDs Call Transfer page's sort keys (schema 6), one row per DID, kept by the tr_grid_*
-- triggers below (never written by did-failover itself): the DID's number and account, the
-- account's number, the primary, the first 64 characters of each forward list and the transfer
-- switch ('' none, '0' off, '1' on). One index per sort order, each ending with account_id so that a
-- reseller's page is filtered inside the index. A table of its own: MySQL refuses a statement whose
-- trigger writes a table the statement reads, and no statement a sysadmin writes reads this one.
CREATE TABLE IF NOT EXISTS did_grid (
    did_id INT UNSIGNED NOT NULL,
    number VARCHAR(20) NOT NULL,
    account_id INT UNSIGNED NOT NULL,
    account_key VARCHAR(32) NOT NULL DEFAULT '',
    primary_key VARCHAR(255) NOT NULL DEFAULT '',
    always_key VARCHAR(64) NOT NULL DEFAULT '',
    busy_key VARCHAR(64) NOT NULL DEFAULT '',
    no_answer_key VARCHAR(64) NOT NULL DEFAULT '',
    unavailable_key VARCHAR(64) NOT NULL DEFAULT '',
    status_key VARCHAR(1) NOT NULL DEFAULT '',
    PRIMARY KEY (did_id),
    KEY ix_did_grid_account_id (account_id),
    KEY ix_did_grid_number (number, account_id),
    KEY ix_did_grid_account (account_key, number, account_id),
    KEY ix_did_grid_primary (primary_key, number, account_id),
    KEY ix_did_grid_always (always_key, number, account_id),
    KEY ix_did_grid_busy (busy_key, number, account_id),
    KEY ix_did_grid_no_answer (no_answer_key, number, account_id),
    KEY ix_did_grid_unavailable (unavailable_key, number, account_id),
    KEY ix_did_grid_status (status_key, number, account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- How many DIDs each account holds (schema 6, kept by the tr_grid_* triggers): the grid's count
-- without counting a million rows.
CREATE TABLE IF NOT EXISTS account_dids (
    account_id INT UNSIGNED NOT NULL,
    dids INT NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every ending of 3 digits or more of every DID's number (schema 6, kept by the tr_grid_* triggers):
-- a search for part of a number is a range of this index, not a scan of every DID.
CREATE TABLE IF NOT EXISTS did_suffixes (
    suffix VARCHAR(20) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    did_id INT UNSIGNED NOT NULL,
    PRIMARY KEY (suffix, did_id),
    KEY ix_did_suffixes_did (did_id)
) ENGINE=InnoDB;

-- The positions a suffix of a DID's number starts at (1 to 18: numbers have 3 to 20 digits).
CREATE TABLE IF NOT EXISTS suffix_positions (
    n TINYINT UNSIGNED NOT NULL,
    PRIMARY KEY (n)
) ENGINE=InnoDB;
INSERT IGNORE INTO suffix_positions (n) VALUES
    (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18);

CREATE TABLE IF NOT EXISTS did_transfers (
    did_id INT UNSIGNED NOT NULL,
    enabled TINYINT(1) NOT NULL DEFAULT 1,
    always_destination VARCHAR(1300) NULL,
    busy_destination VARCHAR(1300) NULL,
    no_answer_destination VARCHAR(1300) NULL,
    unavailable_destination VARCHAR(1300) NULL,
    after_hours_destination VARCHAR(1300) NULL,
    schedule VARCHAR(2000) NULL,
    timeout INT NOT NULL DEFAULT 30,
    caller_id ENUM('keep', 'did') NOT NULL DEFAULT 'keep',
    updated_by VARCHAR(64) NOT NULL DEFAULT '',
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (did_id),
    CONSTRAINT fk_did_transfers_did FOREIGN KEY (did_id) REFERENCES dids (id) ON DELETE CASCADE,
    CONSTRAINT ck_did_transfers_enabled CHECK (enabled IN (0, 1)),
    CONSTRAINT ck_did_transfers_timeout CHECK (timeout BETWEEN 1 AND 300)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per routed call. No foreign key to dids: the history survives the removal of a DID.
CREATE TABLE IF NOT EXISTS call_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    started_at DATETIME(3) NOT NULL,
    did VARCHAR(20) NOT NULL,
    account_number VARCHAR(32) NULL,
    caller VARCHAR(80) NULL,
    primary_destination VARCHAR(255) NULL,
    primary_dialstatus VARCHAR(16) NULL,
    transfer_condition VARCHAR(16) NULL,
    transfer_destination VARCHAR(255) NULL,
    transfer_dialstatus VARCHAR(16) NULL,
    result VARCHAR(32) NOT NULL,
    leg VARCHAR(16) NULL,
    answered_at DATETIME(3) NULL,
    ended_at DATETIME(3) NULL,
    hangup_cause INT NULL,
    billsec INT NULL,
    uniqueid VARCHAR(64) NULL,
    legs VARCHAR(2000) NULL,
    PRIMARY KEY (id),
    KEY ix_call_log_started_at (started_at),
    KEY ix_call_log_did (did, started_at),
    UNIQUE KEY ux_call_log_call (uniqueid, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Logins of the web page and the API. A reseller or customer user belongs to an account of
-- that type; an admin user to none. Passwords only as argon2id hashes.
CREATE TABLE IF NOT EXISTS users (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    username VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    role ENUM('admin', 'reseller', 'customer') NOT NULL,
    account_id INT UNSIGNED NULL,
    password_hash VARCHAR(255) NOT NULL,
    active TINYINT(1) NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_username (username),
    KEY ix_users_account (account_id),
    CONSTRAINT fk_users_account FOREIGN KEY (account_id) REFERENCES accounts (id),
    CONSTRAINT ck_users_active CHECK (active IN (0, 1)),
    CONSTRAINT ck_users_account CHECK ((role = 'admin') = (account_id IS NULL))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Web sessions, kept on the server: id is the SHA-256 (hex) of the cookie's token, never the
-- token itself. Removing a user's rows ends every session of that user at once.
CREATE TABLE IF NOT EXISTS web_sessions (
    id CHAR(64) NOT NULL,
    user_id INT UNSIGNED NOT NULL,
    csrf_token VARCHAR(64) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    last_seen_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_web_sessions_user (user_id),
    KEY ix_web_sessions_last_seen (last_seen_at),
    CONSTRAINT fk_web_sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- API tokens (`Authorization: Bearer TOKEN`): only the SHA-256 of each token is kept. A token
-- belongs to a user; removing the user removes its tokens.
CREATE TABLE IF NOT EXISTS api_tokens (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id INT UNSIGNED NOT NULL,
    name VARCHAR(64) NOT NULL,
    token_hash CHAR(64) NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_api_tokens_hash (token_hash),
    KEY ix_api_tokens_user (user_id),
    CONSTRAINT fk_api_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed logins of the web page and the API, for the throttle every web process shares: a row per
-- failure and bucket, the bucket being the SHA-256 of `user:NAME` or `addr:ADDRESS` (never the name
-- itself). Rows older than the throttle's window are deleted as new failures come.
CREATE TABLE IF NOT EXISTS login_failures (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    bucket CHAR(64) NOT NULL,
    failed_at DATETIME(3) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_login_failures_bucket (bucket, failed_at),
    KEY ix_login_failures_failed_at (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=ascii COLLATE=ascii_bin;

-- Secrets the web process generates once (e.g. the key that signs the login form's CSRF token).
CREATE TABLE IF NOT EXISTS web_secrets (
    name VARCHAR(32) NOT NULL,
    value VARCHAR(128) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Webhook subscriptions (schema 7): where to POST which events, signed with `secret` (Standard
-- Webhooks); reseller_id NULL is the admin's (every event), else only that reseller's customers'.
-- delivered_seq is how far the subscription has confirmed; a failed delivery sets next_attempt_at
-- (a growing pause) and failing_since; a delivering process holds the row for lease_until.
-- After a rotation the replaced secret (previous_secret) signs too, until previous_until.
CREATE TABLE IF NOT EXISTS webhooks (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    url VARCHAR(2000) NOT NULL,
    call_ended TINYINT(1) NOT NULL DEFAULT 0,
    change_made TINYINT(1) NOT NULL DEFAULT 0,
    reseller_id INT UNSIGNED NULL,
    secret VARCHAR(128) NOT NULL,
    previous_secret VARCHAR(128) NULL,
    previous_until DATETIME(3) NULL,
    created_by VARCHAR(64) NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    delivered_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
    delivered_at DATETIME NULL,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(3) NULL,
    failing_since DATETIME NULL,
    last_error VARCHAR(255) NULL,
    lease_owner VARCHAR(64) NULL,
    lease_until DATETIME(3) NULL,
    PRIMARY KEY (id),
    KEY ix_webhooks_reseller (reseller_id),
    CONSTRAINT fk_webhooks_reseller FOREIGN KEY (reseller_id) REFERENCES accounts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The events webhooks deliver (schema 7): a row per change-log or call-log row, written by the
-- tr_webhook_* triggers below while any subscription wants its kind, with the account and its
-- reseller at that moment. seq is given in commit order by one sequencer at a time (the
-- webhook_sequencer row), with the event's JSON; subscriptions deliver in seq order.
CREATE TABLE IF NOT EXISTS webhook_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    seq BIGINT UNSIGNED NULL,
    kind VARCHAR(16) NOT NULL,
    source_id BIGINT UNSIGNED NOT NULL,
    account VARCHAR(32) NULL,
    reseller VARCHAR(32) NULL,
    created_at DATETIME(3) NOT NULL,
    payload TEXT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_webhook_events_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The last seq given (one row): the sequencer's lock and every subscription's upper bound.
CREATE TABLE IF NOT EXISTS webhook_sequencer (
    id INT NOT NULL,
    last_seq BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT ck_webhook_sequencer_one_row CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT IGNORE INTO webhook_sequencer (id, last_seq) VALUES (1, 0);

-- Every change to accounts, dids, did_transfers and users, one row per field, written by the triggers
-- below (so rows edited by hand are kept too). actor is what did-failover sets in the session
-- variable @did_failover_actor around its writes (cli:USER, later web:USER), or 'sql' when unset.
-- Running servers poll it (by id) to apply changes to the very next call.
CREATE TABLE IF NOT EXISTS change_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    changed_at DATETIME(3) NOT NULL,
    actor VARCHAR(64) NOT NULL,
    action VARCHAR(8) NOT NULL,
    subject VARCHAR(8) NOT NULL,
    account VARCHAR(32) NULL,
    did VARCHAR(20) NULL,
    username VARCHAR(64) NULL,
    field VARCHAR(32) NOT NULL,
    old_value VARCHAR(255) NULL,
    new_value VARCHAR(255) NULL,
    PRIMARY KEY (id),
    KEY ix_change_log_changed_at (changed_at),
    KEY ix_change_log_did (did, id),
    KEY ix_change_log_account (account, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS schema_version (
    id TINYINT UNSIGNED NOT NULL DEFAULT 1,
    version INT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT ck_schema_version_one_row CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- BEGIN change-log triggers: generated by scripts/schema_triggers.py, do not edit by hand
DROP TRIGGER IF EXISTS tr_accounts_insert;
CREATE TRIGGER tr_accounts_insert AFTER INSERT ON accounts FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'number', NULL, CONVERT(NEW.number USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.number IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'name', NULL, CONVERT(NEW.name USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.name IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'type', NULL, CONVERT(NEW.type USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.type IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'reseller', NULL, CONVERT((SELECT number FROM accounts WHERE id = NEW.reseller_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.reseller_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'active', NULL, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'account',
        NEW.number, NULL, NULL,
        'transfer', NULL, CONVERT(CASE WHEN NEW.transfer_enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.transfer_enabled IS NOT NULL;

DROP TRIGGER IF EXISTS tr_accounts_update;
CREATE TRIGGER tr_accounts_update AFTER UPDATE ON accounts FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'number', CONVERT(OLD.number USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.number USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.number <=> NEW.number)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'name', CONVERT(OLD.name USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.name USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.name <=> NEW.name)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'type', CONVERT(OLD.type USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.type USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.type <=> NEW.type)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'reseller', CONVERT((SELECT number FROM accounts WHERE id = OLD.reseller_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT((SELECT number FROM accounts WHERE id = NEW.reseller_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.reseller_id <=> NEW.reseller_id)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.active <=> NEW.active)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'account',
        NEW.number, NULL, NULL,
        'transfer', CONVERT(CASE WHEN OLD.transfer_enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(CASE WHEN NEW.transfer_enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.transfer_enabled <=> NEW.transfer_enabled);

DROP TRIGGER IF EXISTS tr_accounts_delete;
CREATE TRIGGER tr_accounts_delete AFTER DELETE ON accounts FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'number', CONVERT(OLD.number USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.number IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'name', CONVERT(OLD.name USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.name IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'type', CONVERT(OLD.type USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.type IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'reseller', CONVERT((SELECT number FROM accounts WHERE id = OLD.reseller_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.reseller_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'account',
        OLD.number, NULL, NULL,
        'transfer', CONVERT(CASE WHEN OLD.transfer_enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.transfer_enabled IS NOT NULL;

DROP TRIGGER IF EXISTS tr_dids_insert;
CREATE TRIGGER tr_dids_insert AFTER INSERT ON dids FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'number', NULL, CONVERT(NEW.number USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.number IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'account', NULL, CONVERT((SELECT number FROM accounts WHERE id = NEW.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.account_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'active', NULL, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'primary', NULL, CONVERT(NEW.primary_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.primary_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'ring_timeout', NULL, CONVERT(NEW.ring_timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.ring_timeout IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'max_channels', NULL, CONVERT(NEW.max_channels USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.max_channels IS NOT NULL;

DROP TRIGGER IF EXISTS tr_dids_update;
CREATE TRIGGER tr_dids_update AFTER UPDATE ON dids FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'number', CONVERT(OLD.number USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.number USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.number <=> NEW.number)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'account', CONVERT((SELECT number FROM accounts WHERE id = OLD.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT((SELECT number FROM accounts WHERE id = NEW.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.account_id <=> NEW.account_id)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.active <=> NEW.active)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'primary', CONVERT(OLD.primary_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.primary_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.primary_destination <=> NEW.primary_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'ring_timeout', CONVERT(OLD.ring_timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.ring_timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.ring_timeout <=> NEW.ring_timeout)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'did',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NEW.number, NULL,
        'max_channels', CONVERT(OLD.max_channels USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.max_channels USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.max_channels <=> NEW.max_channels);

DROP TRIGGER IF EXISTS tr_dids_delete;
CREATE TRIGGER tr_dids_delete AFTER DELETE ON dids FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'number', CONVERT(OLD.number USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.number IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'account', CONVERT((SELECT number FROM accounts WHERE id = OLD.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.account_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'primary', CONVERT(OLD.primary_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.primary_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'ring_timeout', CONVERT(OLD.ring_timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.ring_timeout IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'did',
        (SELECT number FROM accounts WHERE id = OLD.account_id), OLD.number, NULL,
        'max_channels', CONVERT(OLD.max_channels USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.max_channels IS NOT NULL;

DROP TRIGGER IF EXISTS tr_did_transfers_insert;
CREATE TRIGGER tr_did_transfers_insert AFTER INSERT ON did_transfers FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'transfer', NULL, CONVERT(CASE WHEN NEW.enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.enabled IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'always', NULL, CONVERT(NEW.always_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.always_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'busy', NULL, CONVERT(NEW.busy_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.busy_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'no_answer', NULL, CONVERT(NEW.no_answer_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.no_answer_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'unavailable', NULL, CONVERT(NEW.unavailable_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.unavailable_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'after_hours', NULL, CONVERT(NEW.after_hours_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.after_hours_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'schedule', NULL, CONVERT(NEW.schedule USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.schedule IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'timeout', NULL, CONVERT(NEW.timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.timeout IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'caller_id', NULL, CONVERT(NEW.caller_id USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.caller_id IS NOT NULL;

DROP TRIGGER IF EXISTS tr_did_transfers_update;
CREATE TRIGGER tr_did_transfers_update AFTER UPDATE ON did_transfers FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'transfer', CONVERT(CASE WHEN OLD.enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(CASE WHEN NEW.enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.enabled <=> NEW.enabled)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'always', CONVERT(OLD.always_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.always_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.always_destination <=> NEW.always_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'busy', CONVERT(OLD.busy_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.busy_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.busy_destination <=> NEW.busy_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'no_answer', CONVERT(OLD.no_answer_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.no_answer_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.no_answer_destination <=> NEW.no_answer_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'unavailable', CONVERT(OLD.unavailable_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.unavailable_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.unavailable_destination <=> NEW.unavailable_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'after_hours', CONVERT(OLD.after_hours_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.after_hours_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.after_hours_destination <=> NEW.after_hours_destination)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'schedule', CONVERT(OLD.schedule USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.schedule USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.schedule <=> NEW.schedule)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'timeout', CONVERT(OLD.timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.timeout <=> NEW.timeout)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = NEW.did_id), (SELECT number FROM dids WHERE id = NEW.did_id), NULL,
        'caller_id', CONVERT(OLD.caller_id USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.caller_id USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.caller_id <=> NEW.caller_id);

DROP TRIGGER IF EXISTS tr_did_transfers_delete;
CREATE TRIGGER tr_did_transfers_delete AFTER DELETE ON did_transfers FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'transfer', CONVERT(CASE WHEN OLD.enabled THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.enabled IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'always', CONVERT(OLD.always_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.always_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'busy', CONVERT(OLD.busy_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.busy_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'no_answer', CONVERT(OLD.no_answer_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.no_answer_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'unavailable', CONVERT(OLD.unavailable_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.unavailable_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'after_hours', CONVERT(OLD.after_hours_destination USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.after_hours_destination IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'schedule', CONVERT(OLD.schedule USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.schedule IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'timeout', CONVERT(OLD.timeout USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.timeout IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'transfer',
        (SELECT a.number FROM dids d JOIN accounts a ON a.id = d.account_id WHERE d.id = OLD.did_id), (SELECT number FROM dids WHERE id = OLD.did_id), NULL,
        'caller_id', CONVERT(OLD.caller_id USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.caller_id IS NOT NULL;

DROP TRIGGER IF EXISTS tr_users_insert;
CREATE TRIGGER tr_users_insert AFTER INSERT ON users FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'username', NULL, CONVERT(NEW.username USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.username IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'role', NULL, CONVERT(NEW.role USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.role IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'account', NULL, CONVERT((SELECT number FROM accounts WHERE id = NEW.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.account_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'active', NULL, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'add', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'password', NULL, CONVERT('********' USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NEW.password_hash IS NOT NULL;

DROP TRIGGER IF EXISTS tr_users_update;
CREATE TRIGGER tr_users_update AFTER UPDATE ON users FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'username', CONVERT(OLD.username USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.username USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.username <=> NEW.username)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'role', CONVERT(OLD.role USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(NEW.role USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.role <=> NEW.role)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'account', CONVERT((SELECT number FROM accounts WHERE id = OLD.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT((SELECT number FROM accounts WHERE id = NEW.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.account_id <=> NEW.account_id)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT(CASE WHEN NEW.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.active <=> NEW.active)
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'set', 'user',
        (SELECT number FROM accounts WHERE id = NEW.account_id), NULL, NEW.username,
        'password', CONVERT('********' USING utf8mb4) COLLATE utf8mb4_unicode_ci, CONVERT('********' USING utf8mb4) COLLATE utf8mb4_unicode_ci FROM DUAL
    WHERE NOT (OLD.password_hash <=> NEW.password_hash);

DROP TRIGGER IF EXISTS tr_users_delete;
CREATE TRIGGER tr_users_delete AFTER DELETE ON users FOR EACH ROW
INSERT INTO change_log (changed_at, actor, action, subject, account, did, username, field, old_value, new_value)
    SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'username', CONVERT(OLD.username USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.username IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'role', CONVERT(OLD.role USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.role IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'account', CONVERT((SELECT number FROM accounts WHERE id = OLD.account_id) USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.account_id IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'active', CONVERT(CASE WHEN OLD.active THEN 'true' ELSE 'false' END USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.active IS NOT NULL
    UNION ALL SELECT UTC_TIMESTAMP(3), COALESCE(@did_failover_actor, 'sql'), 'remove', 'user',
        (SELECT number FROM accounts WHERE id = OLD.account_id), NULL, OLD.username,
        'password', CONVERT('********' USING utf8mb4) COLLATE utf8mb4_unicode_ci, NULL FROM DUAL
    WHERE OLD.password_hash IS NOT NULL;

-- END change-log triggers

-- The grid's keys, counts and suffixes (schema 6), kept from the rows themselves so that rows edited
-- by hand keep them too; one statement each, so that this file runs in the mysql client as it is.
-- Filled once for the DIDs of an older schema (the statements after these triggers; each does
-- nothing once done).
DROP TRIGGER IF EXISTS tr_grid_dids_insert;
CREATE TRIGGER tr_grid_dids_insert AFTER INSERT ON dids FOR EACH ROW
INSERT INTO did_grid (did_id, number, account_id, account_key, primary_key)
    VALUES (NEW.id, NEW.number, NEW.account_id, (SELECT number FROM accounts WHERE id = NEW.account_id),
        NEW.primary_destination);

DROP TRIGGER IF EXISTS tr_grid_dids_count;
CREATE TRIGGER tr_grid_dids_count AFTER INSERT ON dids FOR EACH ROW
INSERT INTO account_dids (account_id, dids) VALUES (NEW.account_id, 1) ON DUPLICATE KEY UPDATE dids = dids + 1;

DROP TRIGGER IF EXISTS tr_grid_dids_suffixes;
CREATE TRIGGER tr_grid_dids_suffixes AFTER INSERT ON dids FOR EACH ROW
INSERT INTO did_suffixes (suffix, did_id)
    SELECT SUBSTRING(NEW.number, n), NEW.id FROM suffix_positions WHERE n <= CHAR_LENGTH(NEW.number) - 2;

DROP TRIGGER IF EXISTS tr_grid_dids_update;
CREATE TRIGGER tr_grid_dids_update AFTER UPDATE ON dids FOR EACH ROW
UPDATE did_grid SET number = NEW.number, account_id = NEW.account_id,
        account_key = (SELECT number FROM accounts WHERE id = NEW.account_id), primary_key = NEW.primary_destination
    WHERE did_id = NEW.id;

DROP TRIGGER IF EXISTS tr_grid_dids_move;
CREATE TRIGGER tr_grid_dids_move AFTER UPDATE ON dids FOR EACH ROW
INSERT INTO account_dids (account_id, dids)
    SELECT NEW.account_id, 1 FROM DUAL WHERE NOT NEW.account_id <=> OLD.account_id
    UNION ALL SELECT OLD.account_id, -1 FROM DUAL WHERE NOT NEW.account_id <=> OLD.account_id
    ON DUPLICATE KEY UPDATE dids = dids + VALUES(dids);

DROP TRIGGER IF EXISTS tr_grid_dids_renumber;
CREATE TRIGGER tr_grid_dids_renumber AFTER UPDATE ON dids FOR EACH ROW
DELETE FROM did_suffixes WHERE did_id = OLD.id AND NOT NEW.number <=> OLD.number;

DROP TRIGGER IF EXISTS tr_grid_dids_renumbered;
CREATE TRIGGER tr_grid_dids_renumbered AFTER UPDATE ON dids FOR EACH ROW FOLLOWS tr_grid_dids_renumber
INSERT INTO did_suffixes (suffix, did_id)
    SELECT SUBSTRING(NEW.number, n), NEW.id FROM suffix_positions
    WHERE n <= CHAR_LENGTH(NEW.number) - 2 AND NOT NEW.number <=> OLD.number;

DROP TRIGGER IF EXISTS tr_grid_dids_delete;
CREATE TRIGGER tr_grid_dids_delete AFTER DELETE ON dids FOR EACH ROW
DELETE FROM did_grid WHERE did_id = OLD.id;

DROP TRIGGER IF EXISTS tr_grid_dids_uncount;
CREATE TRIGGER tr_grid_dids_uncount AFTER DELETE ON dids FOR EACH ROW
UPDATE account_dids SET dids = dids - 1 WHERE account_id = OLD.account_id;

DROP TRIGGER IF EXISTS tr_grid_dids_forget;
CREATE TRIGGER tr_grid_dids_forget AFTER DELETE ON dids FOR EACH ROW
DELETE FROM did_suffixes WHERE did_id = OLD.id;

DROP TRIGGER IF EXISTS tr_grid_accounts_number;
CREATE TRIGGER tr_grid_accounts_number AFTER UPDATE ON accounts FOR EACH ROW
UPDATE did_grid SET account_key = NEW.number WHERE account_id = NEW.id AND NOT NEW.number <=> OLD.number;

DROP TRIGGER IF EXISTS tr_grid_transfers_insert;
CREATE TRIGGER tr_grid_transfers_insert AFTER INSERT ON did_transfers FOR EACH ROW
UPDATE did_grid SET always_key = LEFT(COALESCE(NEW.always_destination, ''), 64),
        busy_key = LEFT(COALESCE(NEW.busy_destination, ''), 64),
        no_answer_key = LEFT(COALESCE(NEW.no_answer_destination, ''), 64),
        unavailable_key = LEFT(COALESCE(NEW.unavailable_destination, ''), 64),
        status_key = IF(NEW.enabled, '1', '0')
    WHERE did_id = NEW.did_id;

DROP TRIGGER IF EXISTS tr_grid_transfers_update;
CREATE TRIGGER tr_grid_transfers_update AFTER UPDATE ON did_transfers FOR EACH ROW
UPDATE did_grid SET always_key = LEFT(COALESCE(NEW.always_destination, ''), 64),
        busy_key = LEFT(COALESCE(NEW.busy_destination, ''), 64),
        no_answer_key = LEFT(COALESCE(NEW.no_answer_destination, ''), 64),
        unavailable_key = LEFT(COALESCE(NEW.unavailable_destination, ''), 64),
        status_key = IF(NEW.enabled, '1', '0')
    WHERE did_id = NEW.did_id;

DROP TRIGGER IF EXISTS tr_grid_transfers_delete;
CREATE TRIGGER tr_grid_transfers_delete AFTER DELETE ON did_transfers FOR EACH ROW
UPDATE did_grid SET always_key = '', busy_key = '', no_answer_key = '', unavailable_key = '', status_key = ''
    WHERE did_id = OLD.did_id;

-- The DIDs of a schema older than 6: their keys, counts and suffixes, once.
INSERT INTO did_grid (did_id, number, account_id, account_key, primary_key, always_key, busy_key, no_answer_key,
        unavailable_key, status_key)
    SELECT d.id, d.number, d.account_id, a.number, d.primary_destination,
        LEFT(COALESCE(t.always_destination, ''), 64), LEFT(COALESCE(t.busy_destination, ''), 64),
        LEFT(COALESCE(t.no_answer_destination, ''), 64), LEFT(COALESCE(t.unavailable_destination, ''), 64),
        CASE WHEN t.did_id IS NULL THEN '' WHEN t.enabled THEN '1' ELSE '0' END
    FROM dids d JOIN accounts a ON a.id = d.account_id LEFT JOIN did_transfers t ON t.did_id = d.id
    WHERE NOT EXISTS (SELECT 1 FROM did_grid);
INSERT INTO account_dids (account_id, dids)
    SELECT account_id, COUNT(*) FROM dids WHERE NOT EXISTS (SELECT 1 FROM account_dids) GROUP BY account_id;
INSERT INTO did_suffixes (suffix, did_id)
    SELECT SUBSTRING(d.number, p.n), d.id FROM dids d JOIN suffix_positions p ON p.n <= CHAR_LENGTH(d.number) - 2
    WHERE NOT EXISTS (SELECT 1 FROM did_suffixes);

-- Webhook events (schema 7): a row per new change-log or call-log row while a subscription wants
-- that kind, with the reseller of its account now (a reseller's subscription gets its customers').
DROP TRIGGER IF EXISTS tr_webhook_change;
CREATE TRIGGER tr_webhook_change AFTER INSERT ON change_log FOR EACH ROW
INSERT INTO webhook_events (kind, source_id, account, reseller, created_at)
    SELECT 'change.made', NEW.id, NEW.account, (SELECT r.number FROM accounts a JOIN accounts r ON r.id = a.reseller_id WHERE a.number = NEW.account), NEW.changed_at
    FROM DUAL WHERE EXISTS (SELECT 1 FROM webhooks WHERE change_made = 1);

DROP TRIGGER IF EXISTS tr_webhook_call;
CREATE TRIGGER tr_webhook_call AFTER INSERT ON call_log FOR EACH ROW
INSERT INTO webhook_events (kind, source_id, account, reseller, created_at)
    SELECT 'call.ended', NEW.id, NEW.account_number, (SELECT r.number FROM accounts a JOIN accounts r ON r.id = a.reseller_id WHERE a.number = NEW.account_number),
        COALESCE(NEW.ended_at, NEW.started_at)
    FROM DUAL WHERE EXISTS (SELECT 1 FROM webhooks WHERE call_ended = 1);

-- The version last: a schema whose triggers could not be created (no TRIGGER privilege, or binary
-- logging without SUPER) is not taken for a finished one; `db init` then says why and runs again.
INSERT IGNORE INTO schema_version (id, version) VALUES (1, 7);
-- Versions 1 to 6 become 7 in place. 2 added users, web sessions, API tokens and the change log;
-- 3 widened the destination columns to forward lists and added after_hours_destination, schedule
-- and call_log.legs; 4 added login_failures and made users.username utf8mb4_bin (compared exactly:
-- no case, accent or trailing-space folding); 5 made a call's row unique (ux_call_log_call, after
-- folding the duplicates an older version could write); 6 added the grid's keys (did_grid),
-- account_dids and did_suffixes, which this file fills; 7 added webhooks, webhook_events and
-- webhook_sequencer. `did-failover db init` makes the changes of 3
-- to 5 before it runs this file; by hand: the statements in CHANGELOG.md.
UPDATE schema_version SET version = 7 WHERE id = 1 AND version < 7;

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

CREATE TABLE IF NOT EXISTS did_transfers (
    did_id INT UNSIGNED NOT NULL,
    enabled TINYINT(1) NOT NULL DEFAULT 1,
    always_destination VARCHAR(255) NULL,
    busy_destination VARCHAR(255) NULL,
    no_answer_destination VARCHAR(255) NULL,
    unavailable_destination VARCHAR(255) NULL,
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
    PRIMARY KEY (id),
    KEY ix_call_log_started_at (started_at),
    KEY ix_call_log_did (did, started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS schema_version (
    id TINYINT UNSIGNED NOT NULL DEFAULT 1,
    version INT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT ck_schema_version_one_row CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO schema_version (id, version) VALUES (1, 1);

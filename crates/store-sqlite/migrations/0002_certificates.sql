-- trustdesk schema 2: uploaded certificates (CAS) and the audit trail.

ALTER TABLE accounts ADD COLUMN certificate_count INTEGER NOT NULL DEFAULT 0;

CREATE TABLE certificates (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- CertId: grows, never reused
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    name                TEXT    NOT NULL,                  -- unique per account, exact match
    common_name         TEXT    NOT NULL,
    sans                TEXT    NOT NULL,                  -- JSON array of strings
    issuer              TEXT    NOT NULL,
    subject             TEXT    NOT NULL,
    organization        TEXT    NOT NULL,
    province            TEXT    NOT NULL,
    city                TEXT    NOT NULL,
    country             TEXT    NOT NULL,
    serial              TEXT    NOT NULL,
    sha1_fingerprint    TEXT    NOT NULL,
    sha256_fingerprint  TEXT    NOT NULL,
    key_algorithm       TEXT    NOT NULL,
    not_before          INTEGER NOT NULL,
    not_after           INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    cert_pem            TEXT    NOT NULL,                  -- leaf, then chain
    key_sealed          BLOB    NOT NULL                   -- envelope-encrypted, see trustdesk-secrets
);
-- Also the listing index: its entries are (account_id, name, rowid), so
-- the id order of a page comes from a second, narrow index.
CREATE UNIQUE INDEX certificates_account_name ON certificates (account_id, name);
CREATE INDEX certificates_account_id ON certificates (account_id, id);

CREATE TRIGGER certificates_count_insert AFTER INSERT ON certificates BEGIN
    UPDATE accounts SET certificate_count = certificate_count + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER certificates_count_delete AFTER DELETE ON certificates BEGIN
    UPDATE accounts SET certificate_count = certificate_count - 1 WHERE id = OLD.account_id;
END;

-- Append-only. Never holds secret values.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    account_id     INTEGER NOT NULL,
    actor          TEXT    NOT NULL,   -- 'root' or 'user/<UserId>'
    access_key_id  TEXT    NOT NULL,
    action         TEXT    NOT NULL,   -- the permission exercised
    resource       TEXT    NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('success', 'denied', 'not_found')),
    request_id     TEXT    NOT NULL
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);

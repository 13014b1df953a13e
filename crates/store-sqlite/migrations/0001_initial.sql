-- trustdesk schema 1: accounts, RAM users, access keys, signature nonces.
-- Times are INTEGER unix seconds (vendor dates have whole seconds).

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,           -- 16-digit account id
    created_at  INTEGER NOT NULL,
    user_count  INTEGER NOT NULL DEFAULT 0     -- kept by triggers: O(1) user limit checks
);

CREATE TABLE users (
    seq               INTEGER PRIMARY KEY,     -- creation order; the listing cursor
    account_id        INTEGER NOT NULL REFERENCES accounts (id),
    user_id           INTEGER NOT NULL UNIQUE, -- 16-digit public id
    user_name         TEXT    NOT NULL,
    user_name_folded  TEXT    NOT NULL,        -- ASCII-lowercased: uniqueness is case-insensitive
    display_name      TEXT,
    mobile_phone      TEXT,
    email             TEXT,
    comments          TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_login_at     INTEGER
);
CREATE UNIQUE INDEX users_account_name ON users (account_id, user_name_folded);
CREATE INDEX users_account_seq ON users (account_id, seq);

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    UPDATE accounts SET user_count = user_count + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE accounts SET user_count = user_count - 1 WHERE id = OLD.account_id;
END;

CREATE TABLE access_keys (
    id             TEXT    PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts (id),
    user_id        INTEGER REFERENCES users (user_id),  -- NULL: the account's root identity
    status         TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
    secret_sealed  BLOB    NOT NULL,                    -- envelope-encrypted, see trustdesk-secrets
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
CREATE INDEX access_keys_owner ON access_keys (account_id, user_id);

-- A replayed request carries the same signed timestamp, hence the same
-- expires_at (timestamp + window), so keying on (expires_at, key, nonce)
-- still catches every replay while inserts land at the right edge of the
-- B-tree (timestamps grow): a batch of nonces dirties a few pages instead
-- of one random page per nonce. Purging expired nonces is a range delete.
CREATE TABLE nonces (
    expires_at     INTEGER NOT NULL,
    access_key_id  TEXT    NOT NULL,
    nonce          TEXT    NOT NULL,
    PRIMARY KEY (expires_at, access_key_id, nonce)
) WITHOUT ROWID;

-- trustdesk schema 4: CertCentral. Containers (the vendor's divisions), the
-- CertCentral side of a user (one record per identity: a user added through
-- either face is the same row of `users`) and API keys.

-- Container and API-key ids are JSON integers on the wire, chosen by the
-- store: AUTOINCREMENT, so that they grow and are never reused (an old
-- reference can never come to name a newer record).
CREATE TABLE containers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    parent_id    INTEGER REFERENCES containers (id),  -- NULL: the account's root
    name         TEXT    NOT NULL,
    description  TEXT,
    template_id  INTEGER NOT NULL,                    -- 5 for the root, 6 below it
    public_id    TEXT    NOT NULL,                    -- 32 lowercase hex characters
    ekey         TEXT    NOT NULL,                    -- opaque lowercase hex token
    is_active    INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL
);
-- Exactly one root per account (made with the account).
CREATE UNIQUE INDEX containers_root ON containers (account_id) WHERE parent_id IS NULL;
-- An account's containers in id order (the rowid, which ends every entry).
CREATE INDEX containers_account ON containers (account_id);

-- Every account gets its root container; an account created before this
-- migration gets one now, made as the bootstrap makes it.
INSERT INTO containers (account_id, parent_id, name, description, template_id, public_id, ekey,
                        is_active, created_at)
SELECT id, NULL, 'Root', NULL, 5, lower(hex(randomblob(16))), lower(hex(randomblob(16))), 1, created_at
FROM accounts ORDER BY id;

-- The CertCentral attributes of a user. NULL names: created through RAM;
-- CertCentral then shows first name = display_name, else user_name, and
-- last name = user_name (the store's searches and sorts use exactly these
-- derived values, see `query_users`).
ALTER TABLE users ADD COLUMN first_name TEXT;
ALTER TABLE users ADD COLUMN last_name TEXT;
ALTER TABLE users ADD COLUMN job_title TEXT;
ALTER TABLE users ADD COLUMN telephone TEXT;
-- AccessRole id, 1-5; RAM-created users are Standard Users (5).
ALTER TABLE users ADD COLUMN access_role INTEGER NOT NULL DEFAULT 5 CHECK (access_role BETWEEN 1 AND 5);
-- The user's container. Nullable only because SQLite cannot add a NOT NULL
-- column without a default; every user has one (set below for existing
-- users, given on every insert).
ALTER TABLE users ADD COLUMN container_id INTEGER REFERENCES containers (id);
-- JSON array of container ids the user is restricted to ([]: not restricted).
ALTER TABLE users ADD COLUMN container_assignments TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN user_type TEXT NOT NULL DEFAULT 'standard'
    CHECK (user_type IN ('standard', 'api_only'));
ALTER TABLE users ADD COLUMN saml_sso_only INTEGER NOT NULL DEFAULT 0;

UPDATE users SET container_id = (SELECT c.id FROM containers c
                                 WHERE c.account_id = users.account_id AND c.parent_id IS NULL);

-- CertCentral lists users of one type, by default in id order, with an exact
-- total: both the first page and the count of an unfiltered list walk this
-- index alone (the count without touching the table).
CREATE INDEX users_account_type_id ON users (account_id, user_type, user_id);

-- API keys. Only the SHA-256 of a key is kept; a request's key finds its row
-- through the unique index on it. A key dies with its user (ON DELETE
-- CASCADE): CertCentral's delete revokes the user's keys, and RAM's
-- DeleteUser, which still refuses while the user has RAM access keys,
-- takes the user's API keys with it.
CREATE TABLE api_keys (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    user_id          INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    key_hash         BLOB    NOT NULL UNIQUE,      -- SHA-256 of the key
    restricted_role  INTEGER NOT NULL,             -- KeyRole id: 0 (unrestricted), 100-103
    status           TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at       INTEGER NOT NULL,
    last_used_at     INTEGER
);
-- A user's keys: the per-user listing, and what the cascade looks up when a
-- user is deleted (without an index led by user_id, every user delete
-- would scan the whole table).
CREATE INDEX api_keys_user ON api_keys (user_id);
-- The account's keys in id order.
CREATE INDEX api_keys_account ON api_keys (account_id);

-- Deleting a user checks access_keys.user_id (foreign key); without an
-- index led by that column every delete scans the table.
CREATE INDEX access_keys_user ON access_keys (user_id);

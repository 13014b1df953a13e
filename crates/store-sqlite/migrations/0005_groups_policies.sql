-- trustdesk schema 5: RAM groups, custom policies with versions, and policy
-- attachments to users and groups.
--
-- accounts.policy_epoch grows with every change that can change an
-- authorization decision in the account. Triggers keep it, so it moves in
-- the same transaction as the change whatever statement made it (cascades
-- included); nodes compare it to drop cached policies.

ALTER TABLE accounts ADD COLUMN policy_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE groups (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT, -- creation order; the listing cursor
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    group_id           INTEGER NOT NULL UNIQUE,           -- 16-digit public id
    group_name         TEXT    NOT NULL,
    group_name_folded  TEXT    NOT NULL,                  -- unique ignoring ASCII case
    comments           TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_account_name ON groups (account_id, group_name_folded);

CREATE TABLE group_members (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,        -- joining order; the listing cursor
    group_seq  INTEGER NOT NULL REFERENCES groups (seq) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    joined_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX group_members_pair ON group_members (group_seq, user_id);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE policies (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    policy_name      TEXT    NOT NULL,                   -- exact case, unique per account
    description      TEXT,
    default_version  INTEGER NOT NULL DEFAULT 1,
    next_version     INTEGER NOT NULL DEFAULT 2,         -- version numbers are never reused
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX policies_account_name ON policies (account_id, policy_name);

CREATE TABLE policy_versions (
    policy_seq  INTEGER NOT NULL REFERENCES policies (seq) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    document    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (policy_seq, version)
) WITHOUT ROWID;

-- System policies are attached by name (their documents ship with the
-- code); custom ones by name too, and leave with their policy (DeletePolicy
-- detaches them explicitly when cascading).
CREATE TABLE policy_attachments (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,      -- attachment order
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    policy_type  TEXT    NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    policy_name  TEXT    NOT NULL,
    user_id      INTEGER REFERENCES users (user_id) ON DELETE CASCADE,
    group_seq    INTEGER REFERENCES groups (seq) ON DELETE CASCADE,
    attached_at  INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (group_seq IS NULL))
);
CREATE UNIQUE INDEX policy_attachments_user
    ON policy_attachments (user_id, policy_type, policy_name) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX policy_attachments_group
    ON policy_attachments (group_seq, policy_type, policy_name) WHERE group_seq IS NOT NULL;
CREATE INDEX policy_attachments_policy ON policy_attachments (account_id, policy_type, policy_name);

CREATE TRIGGER epoch_member_in AFTER INSERT ON group_members BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM groups WHERE seq = NEW.group_seq);
END;
CREATE TRIGGER epoch_member_out AFTER DELETE ON group_members BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM groups WHERE seq = OLD.group_seq);
END;
CREATE TRIGGER epoch_attach AFTER INSERT ON policy_attachments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_detach AFTER DELETE ON policy_attachments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;
CREATE TRIGGER epoch_version_in AFTER INSERT ON policy_versions BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM policies WHERE seq = NEW.policy_seq);
END;
CREATE TRIGGER epoch_version_out AFTER DELETE ON policy_versions BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM policies WHERE seq = OLD.policy_seq);
END;
CREATE TRIGGER epoch_default AFTER UPDATE OF default_version ON policies
WHEN OLD.default_version <> NEW.default_version BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_policy_out AFTER DELETE ON policies BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;
CREATE TRIGGER epoch_group_out AFTER DELETE ON groups BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;
-- A user's role is part of its identity policies too.
CREATE TRIGGER epoch_role AFTER UPDATE OF access_role ON users
WHEN OLD.access_role <> NEW.access_role BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;

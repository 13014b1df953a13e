-- trustdesk schema 5: RAM groups, custom policies with versions, and policy
-- attachments to users and groups.
--
-- accounts.policy_epoch grows with every change that can change an
-- authorization decision in the account. Triggers keep it, on every insert,
-- update and delete of the tables below (and on deleting a user, which
-- takes its memberships and attachments with it), so it moves in the same
-- transaction as the change whatever statement made it, cascades included.
-- Nodes compare it to drop cached policies. A change may move it by more
-- than one; only "it grew" means anything.
--
-- Limits are checked by the statement that inserts: groups per account and
-- memberships / attachments per target with an indexed COUNT over a
-- handful of rows; custom policies per account (up to 1,500) with
-- accounts.policy_count, kept by triggers like user_count.

ALTER TABLE accounts ADD COLUMN policy_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN policy_count INTEGER NOT NULL DEFAULT 0;

-- Group ids are public (16 digits, chosen by the service); seq is the
-- creation order and the listing cursor (AUTOINCREMENT: never reused, so a
-- cursor can never come to point at a newer group).
CREATE TABLE groups (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    group_id           INTEGER NOT NULL UNIQUE,
    group_name         TEXT    NOT NULL,
    group_name_folded  TEXT    NOT NULL,                  -- unique ignoring ASCII case
    comments           TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX groups_account_name ON groups (account_id, group_name_folded);
CREATE INDEX groups_account_seq ON groups (account_id, seq);

-- seq: joining order, the cursor of a group's member list.
CREATE TABLE group_members (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    group_seq  INTEGER NOT NULL REFERENCES groups (seq) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    joined_at  INTEGER NOT NULL
);
-- One membership per pair; led by the user: a user's groups (at most a
-- handful), its membership count, and the cascade when a user goes.
CREATE UNIQUE INDEX group_members_user ON group_members (user_id, group_seq);
-- A group's members in joining order (the rowid ends every entry), and the
-- cascade when a group goes.
CREATE INDEX group_members_group ON group_members (group_seq);

-- Custom policies. Versions are numbered per policy from next_version, so
-- a number is never reused; default_version names one of them (the code
-- keeps it pointing at an existing version: the default cannot be deleted).
CREATE TABLE policies (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    policy_name      TEXT    NOT NULL,                   -- exact case, unique per account
    description      TEXT,
    default_version  INTEGER NOT NULL DEFAULT 1,
    next_version     INTEGER NOT NULL DEFAULT 2,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX policies_account_name ON policies (account_id, policy_name);

CREATE TABLE policy_versions (
    policy_seq  INTEGER NOT NULL REFERENCES policies (seq) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    document    TEXT    NOT NULL,                        -- as the caller sent it
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (policy_seq, version)
) WITHOUT ROWID;

-- Attachments name their policy by type and name: system policies have no
-- rows (their documents ship with the code), and a custom policy's
-- attachments are removed by DeletePolicy when it cascades. The target is a
-- user or a group, never both; either going takes its attachments with it.
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
-- One attachment per (target, type, name). Not partial indexes: NULLs are
-- distinct in a unique index, and a partial one would be invisible to the
-- planner for `user_id = ?` lookups that do not repeat its WHERE, and to
-- ON CONFLICT. They also serve the per-target counts and the cascades.
CREATE UNIQUE INDEX policy_attachments_user ON policy_attachments (user_id, policy_type, policy_name);
CREATE UNIQUE INDEX policy_attachments_group ON policy_attachments (group_seq, policy_type, policy_name);
-- Who a policy is attached to; attachment counts; DeletePolicy's cascade.
CREATE INDEX policy_attachments_policy ON policy_attachments (account_id, policy_type, policy_name);

-- ---- the policy epoch (and the custom policy count) ----

CREATE TRIGGER epoch_group_in AFTER INSERT ON groups BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_group_up AFTER UPDATE ON groups BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;
CREATE TRIGGER epoch_group_out AFTER DELETE ON groups BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;

-- A membership's account is its group's. When the group itself is being
-- deleted its row may be gone already; epoch_group_out moves the epoch then.
CREATE TRIGGER epoch_member_in AFTER INSERT ON group_members BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM groups WHERE seq = NEW.group_seq);
END;
CREATE TRIGGER epoch_member_up AFTER UPDATE ON group_members BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id IN (SELECT account_id FROM groups WHERE seq IN (OLD.group_seq, NEW.group_seq));
END;
CREATE TRIGGER epoch_member_out AFTER DELETE ON group_members BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM groups WHERE seq = OLD.group_seq);
END;

CREATE TRIGGER epoch_policy_in AFTER INSERT ON policies BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1, policy_count = policy_count + 1
    WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_policy_up AFTER UPDATE ON policies BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;
CREATE TRIGGER epoch_policy_out AFTER DELETE ON policies BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1, policy_count = policy_count - 1
    WHERE id = OLD.account_id;
END;

-- A version's account is its policy's (gone already when the policy is
-- being deleted: epoch_policy_out moves the epoch then).
CREATE TRIGGER epoch_version_in AFTER INSERT ON policy_versions BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM policies WHERE seq = NEW.policy_seq);
END;
CREATE TRIGGER epoch_version_up AFTER UPDATE ON policy_versions BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id IN (SELECT account_id FROM policies WHERE seq IN (OLD.policy_seq, NEW.policy_seq));
END;
CREATE TRIGGER epoch_version_out AFTER DELETE ON policy_versions BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1
    WHERE id = (SELECT account_id FROM policies WHERE seq = OLD.policy_seq);
END;

CREATE TRIGGER epoch_attach AFTER INSERT ON policy_attachments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_attach_up AFTER UPDATE ON policy_attachments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;
CREATE TRIGGER epoch_detach AFTER DELETE ON policy_attachments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;

-- Deleting a user changes memberships and attachments (by cascade).
CREATE TRIGGER epoch_user_out AFTER DELETE ON users BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;
-- A user's CertCentral role is part of its identity policies too.
CREATE TRIGGER epoch_role AFTER UPDATE OF access_role ON users
WHEN OLD.access_role <> NEW.access_role BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;

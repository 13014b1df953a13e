-- trustdesk schema 6: accounts.policy_epoch also moves with what nodes
-- cache outside the policies.
--
-- Several nodes may share one database. Each keeps, per account, decrypted
-- access-key credentials (the key's status, its owner's name and access
-- role), CertCentral API-key callers (the key's status and restriction, its
-- owner's name, role, container and container assignments) and the list of
-- containers. A node drops its own entries when it changes them; to see
-- another node's changes it compares each entry with the account's
-- policy_epoch, re-read at most once a second. So the epoch now means
-- "anything a node caches for this account changed", and these triggers
-- move it, in the same transaction as the change, for every change such an
-- entry can hold (schema 5 already covers deleting a user and changing its
-- access role).
--
-- Only changes of what the caches hold move it: the usage flush writes
-- last_used_at of many keys every few seconds and must not empty every
-- node's caches, and an UPDATE that rewrites a column with its old value
-- (UpdateUser sends the whole row) changes nothing. Creating a key or a
-- user needs no trigger: nothing caches a key that does not exist.
-- Containers are never deleted.

CREATE TRIGGER epoch_access_key_status AFTER UPDATE OF status ON access_keys
WHEN OLD.status <> NEW.status BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_access_key_out AFTER DELETE ON access_keys BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;

CREATE TRIGGER epoch_api_key_up AFTER UPDATE OF status, restricted_role ON api_keys
WHEN OLD.status <> NEW.status OR OLD.restricted_role <> NEW.restricted_role BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
-- Also when a user's deletion takes its keys (ON DELETE CASCADE).
CREATE TRIGGER epoch_api_key_out AFTER DELETE ON api_keys BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = OLD.account_id;
END;

CREATE TRIGGER epoch_container_in AFTER INSERT ON containers BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;
CREATE TRIGGER epoch_container_up AFTER UPDATE ON containers BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id IN (OLD.account_id, NEW.account_id);
END;

-- What a cached credential or caller holds of its owner besides the access
-- role (epoch_role): the name (in the principal: resource names, denial
-- details), the container and the assignments (what it sees).
CREATE TRIGGER epoch_user_up AFTER UPDATE OF user_name, container_id, container_assignments ON users
WHEN OLD.user_name <> NEW.user_name
  OR OLD.container_id IS NOT NEW.container_id
  OR OLD.container_assignments <> NEW.container_assignments BEGIN
    UPDATE accounts SET policy_epoch = policy_epoch + 1 WHERE id = NEW.account_id;
END;

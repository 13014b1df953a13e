-- trustdesk schema 6 (PostgreSQL): accounts.policy_epoch also moves with
-- every change to what a node caches besides policies: access-key status
-- and deletion, API-key status, restriction and deletion, containers, and
-- the user fields cached credentials and callers carry (name, container,
-- assignments). Mirrors the SQLite store's 0006 trigger for trigger; see
-- there for what is left out and why (no insert of a key or user, no
-- last_used_at: usage flushes must not move it).

CREATE TRIGGER epoch_access_key_status AFTER UPDATE OF status ON access_keys
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION epoch_by_account();
CREATE TRIGGER epoch_access_key_out AFTER DELETE ON access_keys
    FOR EACH ROW EXECUTE FUNCTION epoch_by_account();
CREATE TRIGGER epoch_api_key_up AFTER UPDATE OF status, restricted_role ON api_keys
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR OLD.restricted_role IS DISTINCT FROM NEW.restricted_role)
    EXECUTE FUNCTION epoch_by_account();
CREATE TRIGGER epoch_api_key_out AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION epoch_by_account();
CREATE TRIGGER epoch_container AFTER INSERT OR UPDATE ON containers
    FOR EACH ROW EXECUTE FUNCTION epoch_by_account();
CREATE TRIGGER epoch_user_up AFTER UPDATE OF user_name, container_id, container_assignments ON users
    FOR EACH ROW WHEN (OLD.user_name IS DISTINCT FROM NEW.user_name
                       OR OLD.container_id IS DISTINCT FROM NEW.container_id
                       OR OLD.container_assignments IS DISTINCT FROM NEW.container_assignments)
    EXECUTE FUNCTION epoch_by_account();

-- trustdesk schema 3: an upload (certificate row + its audit event) as ONE
-- statement. The writer pays a round trip to sqlx's connection thread per
-- statement (~30-60 µs here); an upload was four (SAVEPOINT, two INSERTs,
-- RELEASE), now it is one: inserting into this view runs both inserts in
-- the trigger, and SQLite's statement atomicity undoes both if either
-- fails (a taken name, a missing account), so no savepoint is needed.
-- The id is chosen by the store (ids grow, never reused), so the audit
-- event can name it.

CREATE VIEW certificate_uploads AS
SELECT c.id, c.account_id, c.name, c.common_name, c.sans, c.issuer, c.subject, c.organization,
       c.province, c.city, c.country, c.serial, c.sha1_fingerprint, c.sha256_fingerprint,
       c.key_algorithm, c.not_before, c.not_after, c.created_at, c.cert_pem, c.key_sealed,
       a.at AS audit_at, a.actor AS audit_actor, a.access_key_id AS audit_access_key_id,
       a.action AS audit_action, a.resource AS audit_resource, a.request_id AS audit_request_id
FROM certificates c JOIN audit_events a ON 0;

CREATE TRIGGER certificate_uploads_insert INSTEAD OF INSERT ON certificate_uploads BEGIN
    INSERT INTO certificates (id, account_id, name, common_name, sans, issuer, subject, organization,
                              province, city, country, serial, sha1_fingerprint, sha256_fingerprint,
                              key_algorithm, not_before, not_after, created_at, cert_pem, key_sealed)
    VALUES (NEW.id, NEW.account_id, NEW.name, NEW.common_name, NEW.sans, NEW.issuer, NEW.subject,
            NEW.organization, NEW.province, NEW.city, NEW.country, NEW.serial, NEW.sha1_fingerprint,
            NEW.sha256_fingerprint, NEW.key_algorithm, NEW.not_before, NEW.not_after, NEW.created_at,
            NEW.cert_pem, NEW.key_sealed);
    INSERT INTO audit_events (at, account_id, actor, access_key_id, action, resource, outcome, request_id)
    VALUES (NEW.audit_at, NEW.account_id, NEW.audit_actor, NEW.audit_access_key_id, NEW.audit_action,
            NEW.audit_resource, 'success', NEW.audit_request_id);
END;

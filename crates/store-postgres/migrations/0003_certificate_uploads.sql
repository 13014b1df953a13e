-- trustdesk schema 3 (PostgreSQL). The SQLite store's migration 3 makes an
-- upload one statement (a view with an INSTEAD OF trigger) because its
-- writer pays a thread hop per statement. PostgreSQL has no such cost: an
-- upload is a transaction of two INSERTs, the certificate's id drawn from
-- its identity sequence first so that the audit event can name it. This
-- migration keeps the numbering aligned and records that choice.

COMMENT ON TABLE certificates IS
    'CAS uploads; an upload inserts its row and its audit event in one transaction';

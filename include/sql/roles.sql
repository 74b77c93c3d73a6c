-- Least-privilege grants for the joint context package: the one source of them, for an administrator (or a
-- database owner) to run with psql. It only grants; the login roles must exist first, e.g.
--
--   CREATE ROLE joint_context_reader LOGIN;   CREATE ROLE joint_context_writer LOGIN;
--   (or a single role for both connections: pass its name as both runtime_reader and historical_writer)
--
-- then:
--
--   psql "$ADMIN_DSN" -v ON_ERROR_STOP=1 -v runtime_db=runtime_db -v historical_db=historical_db \
--        -v runtime_reader=joint_context_reader -v historical_writer=joint_context_writer \
--        -f include/sql/roles.sql
--
-- Set each role's password (psql: \password joint_context_reader) and use the roles as the logins of the
-- Airflow connections: runtime_db -> runtime_reader, historical_db -> historical_writer. Grants are idempotent,
-- so the file may be run again.
-- What the package needs, and nothing more:
--   runtime_db:    read regimes.
--   historical_db: read text_embeddings, macro_events, news_articles; on joint_embeddings read, insert and delete
--                  (a write replaces a key's rows by DELETE + INSERT; the DELETE's WHERE needs SELECT), plus the
--                  id sequence. No UPDATE, TRUNCATE, DDL or write on any other table. Advisory locks and
--                  statement_timeout need no grant.
-- Applied by deploy/data-db/10-joint-context-databases.sh (one role for both) and by
-- tests/reliability/test_security.py (two roles), which runs the DAG as them.

\connect :"runtime_db"
GRANT CONNECT ON DATABASE :"runtime_db" TO :"runtime_reader";
GRANT USAGE ON SCHEMA public TO :"runtime_reader";
GRANT SELECT ON TABLE regimes TO :"runtime_reader";

\connect :"historical_db"
GRANT CONNECT ON DATABASE :"historical_db" TO :"historical_writer";
GRANT USAGE ON SCHEMA public TO :"historical_writer";
GRANT SELECT ON TABLE text_embeddings, macro_events, news_articles TO :"historical_writer";
GRANT SELECT, INSERT, DELETE ON TABLE joint_embeddings TO :"historical_writer";
GRANT USAGE ON SEQUENCE joint_embeddings_joint_id_seq TO :"historical_writer";

-- Least-privilege roles for the joint context package: a template for an administrator, run with psql:
--
--   psql "$ADMIN_DSN" -v runtime_db=runtime_db -v historical_db=historical_db \
--        -v runtime_reader=joint_context_reader -v historical_writer=joint_context_writer \
--        -f include/sql/roles.sql
--
-- then set each role's password (psql: \password joint_context_reader) and use the roles as the logins of the
-- Airflow connections: runtime_db -> runtime_reader, historical_db -> historical_writer.
-- What the package needs, and nothing more:
--   runtime_db:    read regimes.
--   historical_db: read text_embeddings, macro_events, news_articles; on joint_embeddings read, insert and delete
--                  (a write replaces a key's rows by DELETE + INSERT; the DELETE's WHERE needs SELECT), plus the
--                  id sequence. No UPDATE, TRUNCATE, DDL or write on any other table. Advisory locks and
--                  statement_timeout need no grant.
-- tests/reliability/test_security.py applies this file as it is and runs the DAG as these roles.

CREATE ROLE :"runtime_reader" LOGIN;
CREATE ROLE :"historical_writer" LOGIN;

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

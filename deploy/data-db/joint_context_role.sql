-- The least privilege the joint context package needs, for the role its Airflow connections log in as.
-- It reads regimes and text vectors, and replaces its own rows of joint_embeddings (DELETE + INSERT under a
-- transaction-scoped advisory lock, which needs no grant). Nothing else: no DDL, no writes to the inputs.
-- Run on an existing server as a database owner or superuser (the role must exist):
--   psql -v ON_ERROR_STOP=1 -v role=joint_context -v runtime_db=runtime_db -v historical_db=historical_db \
--        -f deploy/data-db/joint_context_role.sql
GRANT CONNECT ON DATABASE :"runtime_db" TO :"role";
GRANT CONNECT ON DATABASE :"historical_db" TO :"role";

\connect :"runtime_db"
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON regimes TO :"role";

\connect :"historical_db"
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT ON text_embeddings, macro_events, news_articles TO :"role";
GRANT SELECT, INSERT, DELETE ON joint_embeddings TO :"role";
GRANT USAGE ON SEQUENCE joint_embeddings_joint_id_seq TO :"role";

-- Optional migration for historical_db: pgvector copies of the joint vectors, for `joint-context similar`.
-- Needs the `vector` extension (pgvector >= 0.8; the embedded server of `make demo` / `make test` ships it).
-- Without it the package is still correct: `similar` then reads joint_embeddings and ranks with numpy.
-- Run it once (psql -f); it is idempotent. Then fill the table for rows written before:
--   joint-context vector-index rebuild --historical-dsn ...
-- From then on every write of the package (DAG and CLI) keeps it in sync in the write's own transaction.

CREATE EXTENSION IF NOT EXISTS vector;

-- The float32 little-endian bytes of joint_embeddings.vector as a pgvector `vector`, or NULL when the bytes are
-- not a usable vector (NULL, empty, not a multiple of 4 bytes, a non-finite value, all zeros: no direction).
-- Decoded exactly (IEEE 754 single: sign, 8-bit exponent, 23-bit mantissa, subnormals included), in the
-- database, so a copy costs no round trip; tests/db/test_vector_index.py checks it against numpy bit for bit.
CREATE OR REPLACE FUNCTION joint_vector_from_float32le(bytes bytea) RETURNS vector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN bool_or(parts.exponent = 255) OR bool_and(parts.exponent = 0 AND parts.mantissa = 0)
                THEN NULL
                ELSE array_agg((CASE WHEN parts.sign = 1 THEN -1.0::float8 ELSE 1.0::float8 END)
                               * CASE WHEN parts.exponent = 0 THEN parts.mantissa * 2.0::float8 ^ -149
                                      ELSE (1.0::float8 + parts.mantissa / 8388608.0::float8)
                                           * 2.0::float8 ^ (parts.exponent - 127) END
                               ORDER BY parts.position)::real[]::vector END
      FROM generate_series(0, octet_length(bytes) / 4 - 1) AS element(position)
     CROSS JOIN LATERAL (SELECT element.position,
                                get_byte(bytes, 4 * element.position + 3) >> 7 AS sign,
                                ((get_byte(bytes, 4 * element.position + 3) & 127) << 1)
                                  | (get_byte(bytes, 4 * element.position + 2) >> 7) AS exponent,
                                ((get_byte(bytes, 4 * element.position + 2) & 127) << 16)
                                  | (get_byte(bytes, 4 * element.position + 1) << 8)
                                  | get_byte(bytes, 4 * element.position) AS mantissa) AS parts
     WHERE octet_length(bytes) > 0 AND octet_length(bytes) % 4 = 0
$$;

-- One row per joint key (joint_type, model_id, as_of_date, entity_scope): a copy of its newest row, the one every
-- reader uses. `embedding` is NULL when that row's vector is NULL or malformed (the key is then left out of a
-- search, and counted). The column is an untyped `vector` so that one table holds every dimension; `dim` says
-- which. Deleting a joint row deletes its copy (ON DELETE CASCADE); the package inserts the copies of the rows it
-- writes in the same transaction.
CREATE TABLE IF NOT EXISTS joint_vector_index (
    joint_id     bigint      PRIMARY KEY REFERENCES joint_embeddings (joint_id) ON DELETE CASCADE,
    joint_type   varchar(32) NOT NULL,
    model_id     varchar(64) NOT NULL,
    as_of_date   date        NOT NULL,
    entity_scope jsonb       NOT NULL,
    dim          integer     NULL,
    embedding    vector      NULL
);
CREATE INDEX IF NOT EXISTS idx_joint_vector_index_type_model_dim
    ON joint_vector_index (joint_type, model_id, dim, as_of_date);

-- HNSW needs a fixed dimension: one partial expression index per dimension searched approximately. 384 is the
-- dimension of every space (regime windows padded to 384, 384-d text embeddings); `similar --approximate` uses
-- this index for 384-d vectors and searches other dimensions exactly. ef_construction = 200 (default 64): on the
-- benchmark's 182,500 vectors recall@10 is 1.0 at ef_search 200 (0.885 with 64), for twice the build time.
CREATE INDEX IF NOT EXISTS idx_joint_vector_index_hnsw_384
    ON joint_vector_index USING hnsw ((embedding::vector(384)) vector_cosine_ops) WITH (m = 16, ef_construction = 200)
    WHERE dim = 384;

-- The package's writer role (include/sql/roles.sql) needs, on top of its grants there:
--   GRANT SELECT, INSERT, DELETE ON TABLE joint_vector_index TO joint_context_writer;

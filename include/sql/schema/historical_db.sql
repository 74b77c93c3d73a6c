-- historical_db: the legacy production schema, unchanged (the package must work against it as it is).
CREATE TABLE IF NOT EXISTS text_embeddings (
    embedding_id bigserial   PRIMARY KEY,
    source_type  varchar(32) NOT NULL,
    source_id    varchar(64) NOT NULL,
    model_id     varchar(64) NOT NULL,
    vector       bytea       NULL,
    vector_ref   varchar(255),
    created_at   timestamptz DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_text_embeddings_source_model
    ON text_embeddings (source_type, source_id, model_id);

CREATE TABLE IF NOT EXISTS macro_events (
    event_id    bigserial   PRIMARY KEY,
    event_type  varchar(64) NOT NULL,
    "timestamp" timestamptz NOT NULL,
    country     varchar(32) NULL,
    description text        NOT NULL,
    text_ref    varchar(255),
    metadata    jsonb
);
CREATE INDEX IF NOT EXISTS idx_macro_events_type_ts ON macro_events (event_type, "timestamp");

CREATE TABLE IF NOT EXISTS news_articles (
    article_id  bigserial    PRIMARY KEY,
    "timestamp" timestamptz  NOT NULL,
    source      varchar(128) NOT NULL,
    language    varchar(16),
    headline    text         NOT NULL,
    body        text,
    metadata    jsonb
);
CREATE INDEX IF NOT EXISTS idx_news_articles_ts ON news_articles ("timestamp");

CREATE TABLE IF NOT EXISTS joint_embeddings (
    joint_id     bigserial   PRIMARY KEY,
    joint_type   varchar(32) NOT NULL,
    as_of_date   date        NOT NULL,
    entity_scope jsonb       NOT NULL,
    model_id     varchar(64) NOT NULL,
    vector       bytea       NULL,
    vector_ref   varchar(255),
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- Not unique: earlier tools left duplicates; the package keeps one row per key by locking, not by constraint.
CREATE INDEX IF NOT EXISTS idx_joint_embeddings_type_date_model
    ON joint_embeddings (joint_type, as_of_date, model_id);

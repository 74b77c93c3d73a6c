-- runtime_db: the legacy production schema, unchanged (the package must work against it as it is).
CREATE TABLE IF NOT EXISTS regimes (
    regime_record_id varchar(64) PRIMARY KEY,
    as_of_date       date        NOT NULL,
    region           varchar(32) NOT NULL,
    regime_label     varchar(32) NOT NULL,
    regime_embedding bytea       NULL,
    embedding_ref    varchar(255),
    confidence       float       NOT NULL,
    metadata         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Not unique: one (region, as_of_date) may hold several rows; the newest wins.
CREATE INDEX IF NOT EXISTS idx_regimes_region_date ON regimes (region, as_of_date);

-- Datasets participants upload into their workspace ("your own data"):
-- a checked CSV (UTF-8 text, only the rows that read), private to its
-- owner and copied into the owner's kernel sessions as data/<name>.

CREATE TABLE datasets (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    row_count  BIGINT NOT NULL,
    -- JSON: [{"name", "kind", "missing"}]
    columns    TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (owner_id, name)
);

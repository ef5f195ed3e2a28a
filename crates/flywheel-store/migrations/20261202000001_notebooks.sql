-- Notebooks and the outputs of their cells.
-- A notebook's cells (ids, types, sources, metadata) are one JSON document
-- guarded by a revision number: a save names the revision it edited, and a
-- stale one is refused. Outputs are kept apart, per cell, because runs write
-- them while the participant keeps editing: they must not bump the revision.

CREATE TABLE notebooks (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the lab this notebook was copied from (NULL for uploads and new ones)
    lab_slug   TEXT,
    title      TEXT NOT NULL,
    -- JSON list of {id, cell_type, source, metadata}
    cells      TEXT NOT NULL,
    revision   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- one copy of each lab per user (NULLs are distinct, so uploads are free)
CREATE UNIQUE INDEX notebooks_owner_lab ON notebooks (owner_id, lab_slug);
CREATE INDEX notebooks_owner_updated ON notebooks (owner_id, updated_at);

CREATE TABLE cell_outputs (
    notebook_id     TEXT NOT NULL REFERENCES notebooks (id) ON DELETE CASCADE,
    cell_id         TEXT NOT NULL,
    execution_count BIGINT,
    -- JSON list of nbformat 4 outputs
    outputs         TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (notebook_id, cell_id)
);

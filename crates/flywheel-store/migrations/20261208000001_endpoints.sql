-- Endpoints (Day 3): saved models served over HTTP, their variants with
-- traffic weights and the models' JSON (a shadow variant among them),
-- captured predictions with the ground truth posted later, the shadow's
-- answers beside production's, and the audit trail of every change.
-- Captures and shadow results are bounded per endpoint (the service
-- deletes the oldest past its limit).

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    owner_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workshop_id     TEXT REFERENCES workshops (id) ON DELETE SET NULL,
    team_id         TEXT REFERENCES teams (id) ON DELETE SET NULL,
    capture_percent BIGINT NOT NULL,
    -- share of requests mirrored to the shadow variant (0 without one)
    shadow_percent  BIGINT NOT NULL,
    -- human review: captured predictions scored in "low,high" wait for a
    -- person's label; empty: no review
    review_band     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX endpoints_owner ON endpoints (owner_id);
CREATE INDEX endpoints_team ON endpoints (team_id);
CREATE INDEX endpoints_workshop ON endpoints (workshop_id);

CREATE TABLE endpoint_variants (
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    model_kind  TEXT NOT NULL,
    source      TEXT NOT NULL,
    weight      DOUBLE PRECISION NOT NULL,
    -- 1 for the shadow variant (at most one), 0 for production variants
    shadow      BIGINT NOT NULL,
    -- the saved model's JSON (as `to_json` writes it)
    model       TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, name)
);

CREATE TABLE endpoint_captures (
    inference_id TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    variant      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    -- JSON array of numbers, in the endpoint's column order
    features     TEXT NOT NULL,
    score        DOUBLE PRECISION NOT NULL,
    class        TEXT NOT NULL,
    latency_us   BIGINT NOT NULL,
    ground_truth TEXT
);
CREATE INDEX endpoint_captures_endpoint ON endpoint_captures (endpoint_id, at);

-- One row per request row mirrored to the shadow: both answers. A shadow
-- that failed has its error and a score of 0.
CREATE TABLE endpoint_shadow_results (
    inference_id       TEXT PRIMARY KEY,
    endpoint_id        TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    at                 BIGINT NOT NULL,
    production_variant TEXT NOT NULL,
    production_score   DOUBLE PRECISION NOT NULL,
    production_class   TEXT NOT NULL,
    production_us      BIGINT NOT NULL,
    shadow_variant     TEXT NOT NULL,
    shadow_score       DOUBLE PRECISION NOT NULL,
    shadow_class       TEXT NOT NULL,
    shadow_us          BIGINT NOT NULL,
    -- empty when the shadow answered
    error              TEXT NOT NULL
);
CREATE INDEX endpoint_shadow_results_endpoint ON endpoint_shadow_results (endpoint_id, at);

-- The audit trail: who changed what, when.
CREATE TABLE endpoint_events (
    endpoint_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    message     TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, seq)
);

-- The rows drift is measured against: the model's training data at
-- deployment, or rows chosen later (captures, an upload).
CREATE TABLE endpoint_baselines (
    endpoint_id TEXT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    -- JSON array of rows (arrays of numbers) in the endpoint's column order
    rows        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Keys for one endpoint's invocations (made and revoked by its team),
-- stored as the SHA-256 digest of the secret shown once.
CREATE TABLE endpoint_keys (
    id           TEXT PRIMARY KEY,
    endpoint_id  TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    digest       TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX endpoint_keys_endpoint ON endpoint_keys (endpoint_id);

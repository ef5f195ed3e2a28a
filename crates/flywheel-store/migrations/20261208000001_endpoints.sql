-- Endpoints (Day 3): saved models served over HTTP, their variants with
-- traffic weights and the models' JSON, and captured predictions with the
-- ground truth posted later. Captures are bounded per endpoint (the
-- service deletes the oldest past its limit).

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    owner_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workshop_id     TEXT REFERENCES workshops (id) ON DELETE SET NULL,
    team_id         TEXT REFERENCES teams (id) ON DELETE SET NULL,
    capture_percent BIGINT NOT NULL,
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

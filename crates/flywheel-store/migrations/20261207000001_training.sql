-- The shared training pool: training jobs on a queue (state, attempts,
-- the worker's heartbeat), what they report as they run (log lines,
-- per-round metrics, state changes), and what they leave (the model).

CREATE TABLE training_jobs (
    id            TEXT PRIMARY KEY,
    owner_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workshop_id   TEXT REFERENCES workshops (id) ON DELETE CASCADE,
    team_id       TEXT REFERENCES teams (id) ON DELETE SET NULL,
    algorithm     TEXT NOT NULL,
    -- JSON: the request as submitted (hyperparameters, data, resources)
    spec          TEXT NOT NULL,
    gpus          BIGINT NOT NULL,
    priority      BIGINT NOT NULL,
    -- pending | running | completed | failed | cancelled
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL,
    worker        TEXT,
    error         TEXT,
    -- JSON object: metric name -> value
    final_metrics TEXT NOT NULL,
    row_count     BIGINT,
    created_at    BIGINT NOT NULL,
    started_at    BIGINT,
    finished_at   BIGINT,
    heartbeat_at  BIGINT
);
CREATE INDEX training_jobs_state ON training_jobs (state, created_at);
CREATE INDEX training_jobs_owner ON training_jobs (owner_id, created_at);
CREATE INDEX training_jobs_team ON training_jobs (team_id, created_at);

CREATE TABLE training_job_events (
    job_id TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
    seq    BIGINT NOT NULL,
    at     BIGINT NOT NULL,
    -- JSON: {"type": "log" | "metrics" | "state", ...}
    event  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE training_artifacts (
    job_id     TEXT NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content    TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);

-- Hyper-parameter tuning jobs: a search over ranges whose trials are
-- training jobs (training_jobs.tuning_job_id names their tuning job).

CREATE TABLE tuning_jobs (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workshop_id TEXT REFERENCES workshops (id) ON DELETE CASCADE,
    team_id     TEXT REFERENCES teams (id) ON DELETE SET NULL,
    -- JSON: the request as submitted (training job, ranges, objective, budget, strategy, seed)
    spec        TEXT NOT NULL,
    -- pending | running | completed | failed | cancelled
    state       TEXT NOT NULL,
    best_job_id TEXT,
    error       TEXT,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX tuning_jobs_state ON tuning_jobs (state);

ALTER TABLE training_jobs ADD COLUMN tuning_job_id TEXT REFERENCES tuning_jobs (id) ON DELETE CASCADE;
CREATE INDEX training_jobs_tuning ON training_jobs (tuning_job_id);

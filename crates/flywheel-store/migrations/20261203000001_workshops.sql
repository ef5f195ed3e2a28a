-- Workshops: join codes, members and teams, submissions and their grades.
-- Portable DDL as in the accounts migration. A workshop's scoring seed
-- draws its hidden test sets; it is never shown to participants.

CREATE TABLE workshops (
    id                      TEXT PRIMARY KEY,
    owner_id                TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title                   TEXT NOT NULL,
    -- JSON: ["YYYY-MM-DD", "YYYY-MM-DD", "YYYY-MM-DD"]
    days                    TEXT NOT NULL,
    -- JSON: ["intro", "fraud", …]
    labs                    TEXT NOT NULL,
    join_code               TEXT NOT NULL UNIQUE,
    join_code_expires_at    BIGINT NOT NULL,
    team_size               BIGINT NOT NULL,
    self_formed_teams       BIGINT NOT NULL,
    closes_at               BIGINT NOT NULL,
    daily_model_submissions BIGINT NOT NULL,
    scoring_seed            BIGINT NOT NULL,
    -- JSON: {"problem_statement": {"criteria": […]}, "architecture": {…}}
    rubrics                 TEXT NOT NULL,
    grades_released_at      BIGINT,
    created_at              BIGINT NOT NULL
);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    workshop_id TEXT NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (workshop_id, name)
);

CREATE TABLE workshop_members (
    workshop_id TEXT NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('instructor', 'participant')),
    team_id     TEXT REFERENCES teams (id) ON DELETE SET NULL,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (workshop_id, user_id)
);
CREATE INDEX workshop_members_user ON workshop_members (user_id);
CREATE INDEX workshop_members_team ON workshop_members (team_id);

-- Immutable once written; the latest of a kind (and lab) counts.
CREATE TABLE submissions (
    id              TEXT PRIMARY KEY,
    workshop_id     TEXT NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    team_id         TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('problem_statement', 'model', 'architecture')),
    lab             TEXT,
    content         TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    submitted_by    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    submitted_at    BIGINT NOT NULL,
    public_score    DOUBLE PRECISION,
    private_score   DOUBLE PRECISION,
    -- a client's key for one intended submission: a retry returns the first
    idempotency_key TEXT,
    UNIQUE (team_id, idempotency_key)
);
CREATE INDEX submissions_workshop ON submissions (workshop_id, submitted_at);

-- One row per graded submission; the scores as JSON [{"criterion", "points", "comment"}].
CREATE TABLE grades (
    submission_id TEXT PRIMARY KEY REFERENCES submissions (id) ON DELETE CASCADE,
    scores        TEXT NOT NULL,
    graded_by     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    graded_at     BIGINT NOT NULL
);

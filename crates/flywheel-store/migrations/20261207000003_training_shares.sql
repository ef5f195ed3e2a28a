-- A team's share of the training pool, set by its workshop's instructors:
-- its fair-share weight and its daily quota of worker-minutes (0: the
-- server's default). Teams without a row have weight 1 and the default.

CREATE TABLE training_shares (
    team_id       TEXT PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    weight        BIGINT NOT NULL,
    quota_minutes BIGINT NOT NULL
);

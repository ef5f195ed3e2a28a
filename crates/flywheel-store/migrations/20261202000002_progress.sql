-- Lab progress: the steps (check cells) of each lab a user has passed.
-- Checks run in the user's own kernel, so this is the learner's record of
-- where they are, not a grade. A step is recorded once, at its first pass.

CREATE TABLE lab_progress (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lab_slug  TEXT NOT NULL,
    -- the check cell's id
    step      TEXT NOT NULL,
    passed_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, lab_slug, step)
);

-- Room accounts: numbered temporary participant accounts an instructor made
-- for a workshop (scientist-1 … scientist-30). They are disabled once the
-- workshop closes.

CREATE TABLE workshop_accounts (
    workshop_id TEXT NOT NULL REFERENCES workshops (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    PRIMARY KEY (workshop_id, user_id),
    UNIQUE (workshop_id, label)
);

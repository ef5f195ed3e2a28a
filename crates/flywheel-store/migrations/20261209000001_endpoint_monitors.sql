-- An endpoint's monitor: scheduled checks and alarms (flywheel_domain::Monitor).
CREATE TABLE endpoint_monitors (
    endpoint_id      TEXT PRIMARY KEY,
    -- the settings, JSON; '' until a monitor is set (the row then only
    -- remembers rollback weights)
    config           TEXT NOT NULL,
    -- Unix ms of the next scheduled check; 0: on demand only
    next_at          BIGINT NOT NULL,
    -- Unix ms of the last check; 0: never
    checked_at       BIGINT NOT NULL,
    -- the last check's alarms, a JSON array of strings
    alarms           TEXT NOT NULL,
    -- production weights before the last change, JSON [[variant, weight], …]
    rollback_weights TEXT NOT NULL
);
CREATE INDEX endpoint_monitors_due ON endpoint_monitors (next_at);

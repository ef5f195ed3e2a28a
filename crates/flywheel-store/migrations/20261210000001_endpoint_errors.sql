-- Invocations an endpoint refused or failed on (bad input, a model that
-- could not score): what the errors chart and the errors alarm count.
-- Pruned to the newest per endpoint, as captures are.
CREATE TABLE endpoint_errors (
    endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    -- the variant drawn, '' when the request was refused before the draw
    variant     TEXT NOT NULL,
    -- the HTTP status answered
    status      INTEGER NOT NULL,
    message     TEXT NOT NULL
);
CREATE INDEX endpoint_errors_endpoint ON endpoint_errors (endpoint_id, at);

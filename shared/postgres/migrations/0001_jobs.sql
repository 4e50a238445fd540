-- The job rows of the web pipeline. Timestamps come from the application's clock (see postgres.Options.Now), so the
-- lease logic can be tested without sleeping.
CREATE TABLE jobs (
    id            text        PRIMARY KEY,
    status        text        NOT NULL CHECK (status IN ('queued', 'processing', 'done', 'failed')),
    filename      text        NOT NULL DEFAULT '',
    content_type  text        NOT NULL DEFAULT '',
    width         integer     NOT NULL DEFAULT 0,
    height        integer     NOT NULL DEFAULT 0,
    options       jsonb       NOT NULL DEFAULT '{}',
    result_key    text        NOT NULL DEFAULT '',
    error_code    text        NOT NULL DEFAULT '',
    error_message text        NOT NULL DEFAULT '',
    attempts      integer     NOT NULL DEFAULT 0,
    -- End of the processing lease; a job still processing after it may be claimed again (its worker died).
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- The sweeper's scan.
CREATE INDEX jobs_updated_at_idx ON jobs (updated_at);

-- The resume scan at start: few rows are ever pending, so a partial index stays tiny.
CREATE INDEX jobs_pending_idx ON jobs (created_at) WHERE status IN ('queued', 'processing');

// Package postgres is the production job.Store: job rows in PostgreSQL through a pgx connection pool, with the schema
// kept by embedded migrations applied at start.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backless/backless/shared/job"
)

var _ job.Store = (*DB)(nil)

// Options tune a DB; the zero value is usable.
type Options struct {
	// Lease is how long a claim lasts before another worker may reclaim the job (default 10 minutes). It must be
	// longer than the slowest processing of one image, or a slow job is processed twice.
	Lease time.Duration
	// Timeout bounds each statement, on top of the caller's context (default 10 seconds).
	Timeout time.Duration
	// Now is the clock (default time.Now). Timestamps and leases come from the application's clock rather than the
	// database's so that tests can move time; replicas' clocks need only agree to well within a lease.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Lease <= 0 {
		o.Lease = 10 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// DB is a job.Store backed by PostgreSQL.
type DB struct {
	pool *pgxpool.Pool
	opts Options
}

// Open connects to the database at url (a postgres:// URL or key=value string), checks the connection and applies
// the migrations. Close the DB when done.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included; say only what is wrong.
		return nil, errors.New("postgres: the database URL cannot be parsed")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.Timeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: create pool: %w", err)
	}
	db := &DB{pool: pool, opts: opts}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := Migrate(mctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return classify("ping", "", err)
	}
	return nil
}

// now returns the clock's time at the database's precision (microseconds), so a returned Job equals a re-read one.
func (db *DB) now() time.Time { return db.opts.Now().UTC().Truncate(time.Microsecond) }

const columns = `id, status, filename, content_type, width, height, options, result_key, error_code, error_message,
	attempts, claimed_until, created_at, updated_at`

func scanJob(row pgx.Row) (*job.Job, error) {
	var (
		j            job.Job
		status       string
		options      []byte
		errCode      string
		errMessage   string
		claimedUntil *time.Time
	)
	if err := row.Scan(&j.ID, &status, &j.Filename, &j.ContentType, &j.Width, &j.Height, &options, &j.ResultKey,
		&errCode, &errMessage, &j.Attempts, &claimedUntil, &j.CreatedAt, &j.UpdatedAt); err != nil {
		return nil, err
	}
	j.Status = job.Status(status)
	if err := json.Unmarshal(options, &j.Options); err != nil {
		return nil, fmt.Errorf("decode options of job %s: %w", j.ID, err)
	}
	if errCode != "" {
		j.Error = &job.Error{Code: job.Code(errCode), Message: errMessage}
	}
	if claimedUntil != nil {
		j.ClaimedUntil = claimedUntil.UTC()
	}
	j.CreatedAt = j.CreatedAt.UTC()
	j.UpdatedAt = j.UpdatedAt.UTC()
	return &j, nil
}

// classify wraps a database error with the operation, turning the failures a caller may act on into *job.Error:
// a missing row is not_found, a duplicate key a conflict, an unreachable server unavailable.
func classify(op, id string, err error) error {
	what := "postgres: " + op
	if id != "" {
		what += " job " + id
	}
	var pgErr *pgconn.PgError
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", what, job.NotFound("job"))
	case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation
		return fmt.Errorf("%s: %w", what, job.Wrap(job.CodeConflict, err, "a job with this id exists"))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.SafeToRetry(err):
		return fmt.Errorf("%s: %w", what, job.Wrap(job.CodeUnavailable, err, "the database is unavailable"))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Create inserts a new queued job.
func (db *DB) Create(ctx context.Context, j *job.Job) error {
	if !job.ValidID(j.ID) {
		return job.Errorf(job.CodeBadRequest, "invalid job id %q", j.ID)
	}
	if j.Status == "" {
		j.Status = job.StatusQueued
	}
	if j.Status != job.StatusQueued {
		return job.Errorf(job.CodeBadRequest, "a new job must be queued, not %s", j.Status)
	}
	options, err := json.Marshal(j.Options)
	if err != nil {
		return fmt.Errorf("postgres: encode options: %w", err)
	}
	now := db.now()
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	_, err = db.pool.Exec(ctx, `INSERT INTO jobs (id, status, filename, content_type, width, height, options,
		attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)`,
		j.ID, string(j.Status), j.Filename, j.ContentType, j.Width, j.Height, options, now)
	if err != nil {
		return classify("create", j.ID, err)
	}
	j.CreatedAt, j.UpdatedAt, j.Attempts, j.ClaimedUntil = now, now, 0, time.Time{}
	return nil
}

// Get reads one job.
func (db *DB) Get(ctx context.Context, id string) (*job.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	j, err := scanJob(db.pool.QueryRow(ctx, "SELECT "+columns+" FROM jobs WHERE id = $1", id))
	if err != nil {
		return nil, classify("get", id, err)
	}
	return j, nil
}

// transition runs an UPDATE ... RETURNING that matches only rows in an allowed state. No row back means the job is
// missing or in another state; a second read tells which, for a precise error.
func (db *DB) transition(ctx context.Context, op, id, query string, args ...any) (*job.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	j, err := scanJob(db.pool.QueryRow(ctx, query+" RETURNING "+columns, args...))
	if err == nil {
		return j, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, classify(op, id, err)
	}
	cur, err := scanJob(db.pool.QueryRow(ctx, "SELECT "+columns+" FROM jobs WHERE id = $1", id))
	if err != nil {
		return nil, classify(op, id, err)
	}
	return nil, fmt.Errorf("postgres: %s job %s: %w", op, id, conflict(op, cur))
}

// conflict describes why op cannot apply to a job in its current state.
func conflict(op string, cur *job.Job) *job.Error {
	if cur.Status == job.StatusProcessing {
		return job.Errorf(job.CodeConflict, "cannot %s: the job is being processed", op)
	}
	return job.Errorf(job.CodeConflict, "cannot %s: the job is %s", op, cur.Status)
}

// Claim moves a queued job, or a processing one whose lease has lapsed, to processing under a new lease. The single
// UPDATE is atomic: under concurrent claims PostgreSQL re-checks the WHERE clause on the locked row, so exactly one
// claimer gets it back and the others see a conflict.
func (db *DB) Claim(ctx context.Context, id string) (*job.Job, error) {
	now := db.now()
	return db.transition(ctx, "claim", id, `UPDATE jobs SET status = 'processing', attempts = attempts + 1,
		claimed_until = $2, updated_at = $3
		WHERE id = $1 AND (status = 'queued' OR (status = 'processing' AND (claimed_until IS NULL OR claimed_until <= $3)))`,
		id, now.Add(db.opts.Lease), now)
}

// Complete moves a processing job to done. A job already done or failed is left alone (conflict), so a late
// duplicate cannot clobber a result.
func (db *DB) Complete(ctx context.Context, id, resultKey string) (*job.Job, error) {
	return db.transition(ctx, "complete", id, `UPDATE jobs SET status = 'done', result_key = $2, claimed_until = NULL,
		error_code = '', error_message = '', updated_at = $3 WHERE id = $1 AND status = 'processing'`,
		id, resultKey, db.now())
}

// Fail moves a queued or processing job to failed.
func (db *DB) Fail(ctx context.Context, id string, reason *job.Error) (*job.Job, error) {
	if reason == nil {
		reason = job.Errorf(job.CodeInternal, "processing failed")
	}
	return db.transition(ctx, "fail", id, `UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3,
		claimed_until = NULL, updated_at = $4 WHERE id = $1 AND status IN ('queued', 'processing')`,
		id, string(reason.Code), reason.Message, db.now())
}

// Release puts a processing job back to queued, with no lease, so the next delivery claims it at once.
func (db *DB) Release(ctx context.Context, id string) error {
	_, err := db.transition(ctx, "release", id, `UPDATE jobs SET status = 'queued', claimed_until = NULL,
		updated_at = $2 WHERE id = $1 AND status = 'processing'`, id, db.now())
	return err
}

// Delete removes the job's row.
func (db *DB) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	tag, err := db.pool.Exec(ctx, "DELETE FROM jobs WHERE id = $1", id)
	if err != nil {
		return classify("delete", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete job %s: %w", id, job.NotFound("job"))
	}
	return nil
}

// ListExpired returns jobs last updated before the given time, oldest first.
func (db *DB) ListExpired(ctx context.Context, before time.Time, limit int) ([]*job.Job, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	return db.list(ctx, "list expired", "SELECT "+columns+" FROM jobs WHERE updated_at < $1 ORDER BY updated_at, id LIMIT $2",
		before.UTC(), lim)
}

// ListPending returns the queued and processing jobs, oldest first.
func (db *DB) ListPending(ctx context.Context) ([]*job.Job, error) {
	return db.list(ctx, "list pending", "SELECT "+columns+
		" FROM jobs WHERE status IN ('queued', 'processing') ORDER BY created_at, id")
}

func (db *DB) list(ctx context.Context, op, query string, args ...any) ([]*job.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, db.opts.Timeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(op, "", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*job.Job, error) { return scanJob(r) })
	if err != nil {
		return nil, classify(op, "", err)
	}
	return jobs, nil
}

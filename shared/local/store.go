// Package local holds the embedded defaults used when no service is configured: a job store and blobs in a data
// folder, an in-process queue and an in-process hub. They serve one process (the desktop app, or a single server
// that processes jobs itself); the production backends are in the packages postgres, s3, cloudtasks and redis.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backless/backless/shared/job"
)

var _ job.Store = (*Store)(nil)

// StoreOptions tune a Store; the zero value is usable.
type StoreOptions struct {
	// Lease is how long a claim lasts before the job may be claimed again (default 10 minutes).
	Lease time.Duration
	// Now is the clock (default time.Now), settable so tests can expire leases without sleeping.
	Now func() time.Time
	// OnCorrupt is told about a job file that cannot be read at open; the file is renamed to *.corrupt and skipped
	// so one damaged file does not stop the application. Nil ignores it.
	OnCorrupt func(path string, err error)
}

// Store is a job.Store keeping one JSON file per job in a folder, and all jobs in memory. Every change is written to a
// temporary file, synced and renamed over the old one, then the folder is synced: after a crash each job is either
// in its old or its new state, never half written, and jobs accepted before a restart are found again by
// ListPending. One process at a time may use a folder.
type Store struct {
	dir  string
	opts StoreOptions

	// mu serialises all transitions: with the check and the write under one lock, Claim is atomic.
	mu   sync.Mutex
	jobs map[string]*job.Job
}

const (
	jobSuffix     = ".json"
	tmpSuffix     = ".tmp"
	corruptSuffix = ".corrupt"
)

// OpenStore opens (creating it if needed) the folder dir and loads its jobs. Temporary files left by a crash are
// removed.
func OpenStore(dir string, opts StoreOptions) (*Store, error) {
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local store: create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("local store: read %s: %w", dir, err)
	}
	s := &Store{dir: dir, opts: opts, jobs: make(map[string]*job.Job)}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case e.IsDir():
		case strings.HasSuffix(name, tmpSuffix):
			// A write interrupted before its rename: the job file it was replacing is intact.
			if err := os.Remove(p); err != nil {
				return nil, fmt.Errorf("local store: remove leftover %s: %w", p, err)
			}
		case strings.HasSuffix(name, jobSuffix):
			j, err := readJob(p, strings.TrimSuffix(name, jobSuffix))
			if err != nil {
				if rerr := os.Rename(p, p+corruptSuffix); rerr != nil {
					return nil, fmt.Errorf("local store: %w (and setting it aside failed: %v)", err, rerr)
				}
				if opts.OnCorrupt != nil {
					opts.OnCorrupt(p, err)
				}
				continue
			}
			s.jobs[j.ID] = j
		}
	}
	return s, nil
}

func readJob(path, id string) (*job.Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var j job.Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	if j.ID != id || !job.ValidID(id) || !j.Status.Valid() {
		return nil, fmt.Errorf("%s does not hold a valid job named %s", path, id)
	}
	return &j, nil
}

func (s *Store) path(id string) string { return filepath.Join(s.dir, id+jobSuffix) }

// write stores j durably: temporary file, fsync, rename, fsync of the folder.
func (s *Store) write(j *job.Job) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	if err := writeFileAtomic(s.dir, s.path(j.ID), b); err != nil {
		return fmt.Errorf("local store: write job %s: %w", j.ID, err)
	}
	return nil
}

// writeFileAtomic replaces path with data so that a crash leaves either the old or the new content.
func writeFileAtomic(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*"+tmpSuffix)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable. Windows cannot open a folder for syncing, and its rename is
// already durable enough for this use, so there it is skipped.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// clone returns a deep copy, so callers never share the cached job.
func clone(j *job.Job) *job.Job {
	c := *j
	if j.Error != nil {
		e := *j.Error
		c.Error = &e
	}
	return &c
}

func (s *Store) now() time.Time { return s.opts.Now().UTC() }

// Create stores a new queued job.
func (s *Store) Create(ctx context.Context, j *job.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !job.ValidID(j.ID) {
		return job.Errorf(job.CodeBadRequest, "invalid job id %q", j.ID)
	}
	if j.Status == "" {
		j.Status = job.StatusQueued
	}
	if j.Status != job.StatusQueued {
		return job.Errorf(job.CodeBadRequest, "a new job must be queued, not %s", j.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[j.ID]; ok {
		return fmt.Errorf("local store: create job %s: %w", j.ID, job.Errorf(job.CodeConflict, "a job with this id exists"))
	}
	now := s.now()
	n := clone(j)
	n.CreatedAt, n.UpdatedAt, n.Attempts, n.ClaimedUntil, n.ResultKey, n.Error = now, now, 0, time.Time{}, "", nil
	if err := s.write(n); err != nil {
		return err
	}
	s.jobs[n.ID] = n
	j.CreatedAt, j.UpdatedAt, j.Attempts, j.ClaimedUntil = now, now, 0, time.Time{}
	return nil
}

// Get returns a copy of the job.
func (s *Store) Get(ctx context.Context, id string) (*job.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil, fmt.Errorf("local store: get job %s: %w", id, job.NotFound("job"))
	}
	return clone(j), nil
}

// transition applies change to a copy of the job if allowed says its current state permits it, writes the copy,
// and only then replaces the cached job, so a failed write leaves memory and disk agreeing.
func (s *Store) transition(ctx context.Context, op, id string, allowed func(*job.Job, time.Time) bool,
	change func(*job.Job, time.Time)) (*job.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.jobs[id]
	if !ok {
		return nil, fmt.Errorf("local store: %s job %s: %w", op, id, job.NotFound("job"))
	}
	now := s.now()
	if !allowed(cur, now) {
		msg := "the job is " + string(cur.Status)
		if cur.Status == job.StatusProcessing {
			msg = "the job is being processed"
		}
		return nil, fmt.Errorf("local store: %s job %s: %w", op, id, job.Errorf(job.CodeConflict, "cannot %s: %s", op, msg))
	}
	n := clone(cur)
	change(n, now)
	n.UpdatedAt = now
	if err := s.write(n); err != nil {
		return nil, err
	}
	s.jobs[id] = n
	return clone(n), nil
}

// Claim moves a queued job, or a processing one whose lease has lapsed, to processing under a new lease.
func (s *Store) Claim(ctx context.Context, id string) (*job.Job, error) {
	return s.transition(ctx, "claim", id,
		func(j *job.Job, now time.Time) bool {
			return j.Status == job.StatusQueued || j.Status == job.StatusProcessing && !now.Before(j.ClaimedUntil)
		},
		func(j *job.Job, now time.Time) {
			j.Status = job.StatusProcessing
			j.Attempts++
			j.ClaimedUntil = now.Add(s.opts.Lease)
		})
}

// Complete moves a processing job to done.
func (s *Store) Complete(ctx context.Context, id, resultKey string) (*job.Job, error) {
	return s.transition(ctx, "complete", id,
		func(j *job.Job, _ time.Time) bool { return j.Status == job.StatusProcessing },
		func(j *job.Job, _ time.Time) {
			j.Status, j.ResultKey, j.ClaimedUntil, j.Error = job.StatusDone, resultKey, time.Time{}, nil
		})
}

// Fail moves a queued or processing job to failed.
func (s *Store) Fail(ctx context.Context, id string, reason *job.Error) (*job.Job, error) {
	if reason == nil {
		reason = job.Errorf(job.CodeInternal, "processing failed")
	}
	stored := &job.Error{Code: reason.Code, Message: reason.Message}
	return s.transition(ctx, "fail", id,
		func(j *job.Job, _ time.Time) bool {
			return j.Status == job.StatusQueued || j.Status == job.StatusProcessing
		},
		func(j *job.Job, _ time.Time) {
			j.Status, j.Error, j.ClaimedUntil = job.StatusFailed, stored, time.Time{}
		})
}

// Release puts a processing job back to queued with no lease.
func (s *Store) Release(ctx context.Context, id string) error {
	_, err := s.transition(ctx, "release", id,
		func(j *job.Job, _ time.Time) bool { return j.Status == job.StatusProcessing },
		func(j *job.Job, _ time.Time) { j.Status, j.ClaimedUntil = job.StatusQueued, time.Time{} })
	return err
}

// Delete removes the job and its file.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[id]; !ok {
		return fmt.Errorf("local store: delete job %s: %w", id, job.NotFound("job"))
	}
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local store: delete job %s: %w", id, err)
	}
	delete(s.jobs, id)
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("local store: delete job %s: sync folder: %w", id, err)
	}
	return nil
}

// ListExpired returns the jobs last updated before the given time, oldest first, at most limit if limit > 0.
func (s *Store) ListExpired(ctx context.Context, before time.Time, limit int) ([]*job.Job, error) {
	return s.list(ctx, func(j *job.Job) bool { return j.UpdatedAt.Before(before) },
		func(a, b *job.Job) bool {
			return a.UpdatedAt.Before(b.UpdatedAt) || a.UpdatedAt.Equal(b.UpdatedAt) && a.ID < b.ID
		}, limit)
}

// ListPending returns the queued and processing jobs, oldest first.
func (s *Store) ListPending(ctx context.Context) ([]*job.Job, error) {
	return s.list(ctx, func(j *job.Job) bool {
		return j.Status == job.StatusQueued || j.Status == job.StatusProcessing
	}, func(a, b *job.Job) bool {
		return a.CreatedAt.Before(b.CreatedAt) || a.CreatedAt.Equal(b.CreatedAt) && a.ID < b.ID
	}, 0)
}

func (s *Store) list(ctx context.Context, keep func(*job.Job) bool, less func(a, b *job.Job) bool, limit int) ([]*job.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var out []*job.Job
	for _, j := range s.jobs {
		if keep(j) {
			out = append(out, clone(j))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, k int) bool { return less(out[i], out[k]) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

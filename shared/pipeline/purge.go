package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

// Purger ends jobs' lives: nothing a user uploaded is kept once they are done with it. It deletes a job's blobs,
// then its row (so that a failed blob deletion leaves the row for the sweeper to find again), then tells whoever
// still watches the job that it is gone.
type Purger struct {
	Store job.Store
	Blobs job.Blobs
	Hub   job.Hub
	Log   zerolog.Logger
	// OnPurge, if set, is told each job deleted and why ("user", "grace", "ttl", "sync"), for metrics.
	OnPurge func(reason string)
}

// Purge deletes job id. It returns a not_found error when the row did not exist (its blobs are deleted anyway,
// in case a crash left them behind).
func (p *Purger) Purge(ctx context.Context, id, reason string) error {
	if err := p.Blobs.Delete(ctx, job.OriginalKey(id), job.CutoutKey(id)); err != nil {
		return fmt.Errorf("purge job %s: delete blobs: %w", id, err)
	}
	if err := p.Store.Delete(ctx, id); err != nil {
		if job.IsNotFound(err) {
			return err
		}
		return fmt.Errorf("purge job %s: delete row: %w", id, err)
	}
	if p.OnPurge != nil {
		p.OnPurge(reason)
	}
	// Sockets still open on the job (on any replica) close with this; a worker still processing it finds the row
	// gone and deletes the cutout it wrote.
	e := job.Event{JobID: id, Status: job.StatusFailed, Error: job.Errorf(job.CodeNotFound, "the job was deleted")}
	if err := p.Hub.Publish(ctx, e); err != nil {
		p.Log.Warn().Err(err).Str("job_id", id).Msg("publish deletion")
	}
	p.Log.Info().Str("job_id", id).Str("reason", reason).Msg("job deleted")
	return nil
}

// sweepBatch is how many expired jobs one query returns; the sweep repeats until a batch comes back short.
const sweepBatch = 100

// Sweep deletes every job last updated before the given time and returns how many it deleted. Several replicas
// may sweep at once: a job another one deleted first is simply skipped.
func (p *Purger) Sweep(ctx context.Context, before time.Time) (int, error) {
	n := 0
	for {
		jobs, err := p.Store.ListExpired(ctx, before, sweepBatch)
		if err != nil {
			return n, fmt.Errorf("sweep: list expired jobs: %w", err)
		}
		var errs []error
		for _, j := range jobs {
			switch err := p.Purge(ctx, j.ID, "ttl"); {
			case err == nil:
				n++
			case job.IsNotFound(err):
			default:
				errs = append(errs, err)
			}
		}
		// A batch with failures ends this round, so a job that cannot be deleted now is not retried in a tight loop.
		if len(errs) > 0 {
			return n, errors.Join(errs...)
		}
		if len(jobs) < sweepBatch {
			return n, nil
		}
	}
}

// RunSweeper sweeps every interval until ctx ends, deleting jobs not updated for ttl.
func (p *Purger) RunSweeper(ctx context.Context, ttl, interval time.Duration, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := p.Sweep(ctx, now().Add(-ttl))
		if err != nil && ctx.Err() == nil {
			p.Log.Error().Err(err).Int("deleted", n).Msg("sweep expired jobs")
		} else if n > 0 {
			p.Log.Info().Int("deleted", n).Msg("swept expired jobs")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

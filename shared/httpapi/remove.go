package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

// syncPoll is how often POST /api/remove re-reads its job while waiting, in case an event was lost.
const syncPoll = 2 * time.Second

// removeSync is POST /api/remove: image in, PNG out, in one request, for scripts and the desktop's cloud mode.
// It runs through the same job pipeline as the asynchronous API (so the server needs no model when a worker does
// the work, and the queue's bounds apply), waits for the job to end, answers with the cutout, and deletes the job.
func (s *Server) removeSync(w http.ResponseWriter, r *http.Request) {
	up, err := readUpload(w, r, s.cfg.Limits)
	if err != nil {
		writeError(w, r, err)
		return
	}
	j := s.newJob(up)
	logWith(r, "job_id", j.ID)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.SyncTimeout)
	defer cancel()

	// Subscribe before the job exists, so its end cannot be missed.
	sub, err := s.cfg.Hub.Subscribe(ctx, j.ID)
	if err != nil {
		writeError(w, r, unavailable(err, "the service is unavailable; try again"))
		return
	}
	defer sub.Close()
	if err := s.submit(ctx, j, up); err != nil {
		writeError(w, r, err)
		return
	}
	up = nil // the original is stored; do not hold its bytes while waiting
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backendTimeout)
		defer cancel()
		if err := s.purger.Purge(dctx, j.ID, "sync"); err != nil && !job.IsNotFound(err) {
			zerolog.Ctx(ctx).Error().Err(err).Msg("delete the job of a synchronous removal; the sweeper will")
		}
	}()

	final, err := s.await(ctx, sub, j.ID)
	if err != nil {
		if ctx.Err() != nil && r.Context().Err() == nil {
			err = job.Wrap(job.CodeTimeout, err, "the image was not processed in time")
		}
		writeError(w, r, unavailable(err, "the job's state cannot be read now"))
		return
	}
	if final.Status == job.StatusFailed {
		reason := final.Error
		if reason == nil {
			reason = job.Errorf(job.CodeInternal, "processing failed")
		}
		writeError(w, r, reason)
		return
	}
	s.streamResult(w, r, final, job.DownloadName(final.Filename))
}

// await waits until the job is done or failed, from its events, re-reading the row now and then.
func (s *Server) await(ctx context.Context, sub job.Subscription, id string) (*job.Job, error) {
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-sub.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, job.Errorf(job.CodeUnavailable, "the event stream ended")
			}
			if !e.Status.Terminal() {
				continue
			}
		case <-t.C:
		}
		j, err := s.cfg.Store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if j.Status.Terminal() {
			return j, nil
		}
	}
}

package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

// backendTimeout bounds the backend calls a request makes after its body is read; they run detached from the
// client's connection so that a client leaving half-way does not leave half a job behind.
const backendTimeout = 30 * time.Second

// createJob is POST /api/jobs: check the upload, store the original under the job's random id, insert the job,
// enqueue it, and answer 202 with where to follow it.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	up, err := readUpload(w, r, s.cfg.Limits)
	if err != nil {
		writeError(w, r, err)
		return
	}
	j := s.newJob(up)
	logWith(r, "job_id", j.ID)
	if err := s.submit(r.Context(), j, up); err != nil {
		writeError(w, r, err)
		return
	}
	zerolog.Ctx(r.Context()).Info().Str("image", up.describe()).Msg("job created")
	w.Header().Set("Location", StatusPath(j.ID))
	writeJSON(w, http.StatusAccepted, created{
		ID: j.ID, Status: j.Status, Filename: j.Filename,
		StatusURL: StatusPath(j.ID), WSURL: WSPath(j.ID), ResultURL: "",
	})
}

func (s *Server) newJob(up *upload) *job.Job {
	return &job.Job{
		ID: job.NewID(), Status: job.StatusQueued, Filename: up.filename, ContentType: up.contentType(),
		Width: up.info.Width, Height: up.info.Height, Options: up.opts,
	}
}

// submit stores the original, inserts the job and enqueues it, undoing what was done if a later step fails.
func (s *Server) submit(ctx context.Context, j *job.Job, up *upload) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backendTimeout)
	defer cancel()
	if err := s.cfg.Blobs.Put(ctx, job.OriginalKey(j.ID), bytes.NewReader(up.data), int64(len(up.data)), up.contentType()); err != nil {
		return unavailable(err, "the image could not be stored; try again")
	}
	if err := s.cfg.Store.Create(ctx, j); err != nil {
		_ = s.cfg.Blobs.Delete(ctx, job.OriginalKey(j.ID))
		return unavailable(err, "the job could not be recorded; try again")
	}
	if err := s.cfg.Queue.Enqueue(ctx, j.ID); err != nil {
		if perr := s.purger.Purge(ctx, j.ID, "unqueued"); perr != nil {
			zerolog.Ctx(ctx).Error().Err(perr).Str("job_id", j.ID).Msg("undo a job that could not be queued")
		}
		return unavailable(err, "the job could not be queued; try again")
	}
	s.cfg.Metrics.created()
	return nil
}

// unavailable keeps a client error as it is and turns anything else from a backend into 503, so clients retry
// rather than report a bug.
func unavailable(err error, msg string) error {
	if job.IsPermanent(err) || job.IsCode(err, job.CodeUnavailable) || job.IsCode(err, job.CodeTooManyRequests) {
		return err
	}
	return job.Wrap(job.CodeUnavailable, err, msg)
}

// getJob is GET /api/jobs/{id}: the same state the websocket sends, for polling clients.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	j, err := s.cfg.Store.Get(r.Context(), id)
	if err != nil {
		writeError(w, r, unavailable(err, "the job cannot be read now; try again"))
		return
	}
	writeJSON(w, http.StatusOK, stateOf(j))
}

// getResult is GET /api/jobs/{id}/result: a redirect to the blob store's own download address when it has one
// (a presigned S3 URL), otherwise the PNG streamed from here; either way the download is named after the upload.
func (s *Server) getResult(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	j, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		writeError(w, r, unavailable(err, "the job cannot be read now; try again"))
		return
	}
	switch j.Status {
	case job.StatusDone:
	case job.StatusFailed:
		msg := "the job failed"
		if j.Error != nil {
			msg += ": " + j.Error.Message
		}
		writeError(w, r, job.Errorf(job.CodeConflict, "%s", msg))
		return
	default:
		writeError(w, r, job.Errorf(job.CodeConflict, "the result is not ready yet (the job is %s)", j.Status))
		return
	}
	name := job.DownloadName(j.Filename)
	if u, err := s.cfg.Blobs.URL(ctx, j.ResultKey, name); err != nil {
		writeError(w, r, unavailable(err, "the result cannot be read now; try again"))
		return
	} else if u != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, u, http.StatusFound)
		return
	}
	s.streamResult(w, r, j, name)
}

// streamResult sends the job's cutout from the blob store.
func (s *Server) streamResult(w http.ResponseWriter, r *http.Request, j *job.Job, name string) {
	rc, err := s.cfg.Blobs.Get(r.Context(), j.ResultKey)
	if err != nil {
		writeError(w, r, unavailable(err, "the result cannot be read now; try again"))
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Disposition", job.ContentDisposition(name))
	// Nothing is kept: not even a browser's cache should hold the result after the job is deleted.
	h.Set("Cache-Control", "private, no-store")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", j.UpdatedAt, rs)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, rc)
	}
}

// deleteJob is DELETE /api/jobs/{id}: the user is done with it; its blobs and row go now.
func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.reaper.cancel(id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), backendTimeout)
	defer cancel()
	if err := s.purger.Purge(ctx, id, "user"); err != nil {
		writeError(w, r, unavailable(err, "the job could not be deleted now; try again"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

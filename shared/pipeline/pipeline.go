// Package pipeline is one job's processing in the web pipeline: claim the job, load its original, segment it, store
// the cutout, mark the job done and publish the event; and, at the end of a job's life, its deletion (Purger). The
// worker's task endpoint and the server's in-process queue both call Process, so a job is handled the same way
// whichever process runs it. The CLI and the desktop app call the engine directly.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// Remover turns an encoded image into a PNG: *segment.Engine. Decoding errors must wrap imageio's sentinel errors,
// which is how a bad image is told apart from a failure worth retrying.
type Remover interface {
	Remove(ctx context.Context, data []byte, lim imageio.Limits, opts segment.Options, w io.Writer) (segment.Timings, error)
}

// Outcome says how one delivery of a job ended: whether the queue should deliver it again.
type Outcome int

// The outcomes. Done, Failed, Duplicate and Gone are final; Busy and Retry ask for another delivery later.
const (
	// Done: the cutout is stored, the job is done and the event published.
	Done Outcome = iota
	// Failed: the image cannot be processed (undecodable, too large) or the job failed too often; the job is marked
	// failed and the event published. Retrying cannot help.
	Failed
	// Duplicate: the job was already done or failed, a duplicate or late delivery. Nothing was touched.
	Duplicate
	// Gone: the job no longer exists (its user deleted it, or it expired).
	Gone
	// Busy: another delivery holds the job under a live lease. If that one dies, the lease lapses and a later
	// delivery takes over, so the queue must keep this one.
	Busy
	// Retry: a transient failure (a backend down, shutdown in progress). The job was released for another attempt.
	Retry
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Failed:
		return "failed"
	case Duplicate:
		return "duplicate"
	case Gone:
		return "gone"
	case Busy:
		return "busy"
	case Retry:
		return "retry"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Final reports whether the queue is finished with the job.
func (o Outcome) Final() bool { return o != Busy && o != Retry }

// Report describes one call of Process, for metrics.
type Report struct {
	Outcome Outcome
	// Claimed is true when this delivery claimed the job; the durations below are only set then.
	Claimed bool
	// QueueLatency is the time from the job's creation to this claim.
	QueueLatency time.Duration
	Load, Store  time.Duration
	Timings      segment.Timings
	Total        time.Duration
}

// Observer is told about every call of Process (the server's and worker's Prometheus metrics).
type Observer interface {
	Observe(Report)
}

// Config holds the parts and settings of a Pipeline.
type Config struct {
	Store  job.Store
	Blobs  job.Blobs
	Hub    job.Hub
	Engine Remover
	// Limits bound the image decoded (the same as the upload's; checked again because the worker trusts no one).
	Limits imageio.Limits
	// Timeout bounds one job's processing (default 5 minutes); keep it shorter than the store's lease.
	Timeout time.Duration
	// MaxAttempts fails a job claimed more often than this (default 5): an image that crashes or hangs its worker
	// every time must not be retried for ever.
	MaxAttempts int
	// ResultURL makes the result address published with done (the server's GET /api/jobs/{id}/result).
	ResultURL func(id string) string
	Log       zerolog.Logger
	Observer  Observer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Pipeline processes jobs. It is safe for concurrent use; the engine's session pool bounds the model runs.
type Pipeline struct {
	cfg Config
}

// New checks the configuration and fills its defaults.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.Hub == nil || cfg.Engine == nil {
		return nil, errors.New("pipeline: Store, Blobs, Hub and Engine are required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.ResultURL == nil {
		cfg.ResultURL = func(string) string { return "" }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pipeline{cfg: cfg}, nil
}

// cleanupTimeout bounds the store and hub calls made after processing was cut short: they run on a context detached
// from the cancelled one, so a job in hand at shutdown is still released.
const cleanupTimeout = 10 * time.Second

// Process handles one delivery of job id. The error, when not nil, says why the outcome is not Done, for logs.
func (p *Pipeline) Process(ctx context.Context, id string) (Outcome, error) {
	start := p.cfg.Now()
	rep := Report{}
	out, err := p.process(ctx, id, &rep)
	rep.Outcome = out
	rep.Total = p.cfg.Now().Sub(start)
	if p.cfg.Observer != nil {
		p.cfg.Observer.Observe(rep)
	}
	ev := p.cfg.Log.Info()
	if !out.Final() || out == Failed {
		ev = p.cfg.Log.Warn()
	}
	ev = ev.Str("job_id", id).Stringer("outcome", out).Dur("total_ms", rep.Total)
	if rep.Claimed {
		ev = ev.Dur("queue_ms", rep.QueueLatency).Dur("load_ms", rep.Load).
			Dur("decode_ms", rep.Timings.Decode).Dur("preprocess_ms", rep.Timings.Preprocess).
			Dur("inference_ms", rep.Timings.Inference).Dur("postprocess_ms", rep.Timings.Postprocess).
			Dur("encode_ms", rep.Timings.Encode).Dur("store_ms", rep.Store)
	}
	if err != nil {
		ev = ev.Err(err)
	}
	ev.Msg("job processed")
	return out, err
}

func (p *Pipeline) process(ctx context.Context, id string, rep *Report) (Outcome, error) {
	if !job.ValidID(id) {
		return Gone, job.Errorf(job.CodeBadRequest, "invalid job id")
	}
	j, err := p.cfg.Store.Claim(ctx, id)
	switch {
	case job.IsNotFound(err):
		return Gone, nil
	case job.IsCode(err, job.CodeConflict):
		return p.whyNotClaimed(ctx, id, err)
	case err != nil:
		return Retry, fmt.Errorf("claim: %w", err)
	}
	rep.Claimed = true
	rep.QueueLatency = p.cfg.Now().Sub(j.CreatedAt)
	if j.Attempts > p.cfg.MaxAttempts {
		reason := job.Errorf(job.CodeInternal, "processing failed %d times; giving up", j.Attempts-1)
		return p.fail(ctx, id, reason)
	}
	p.publish(ctx, job.Event{JobID: id, Status: job.StatusProcessing})

	jctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()

	t0 := p.cfg.Now()
	data, err := p.load(jctx, id)
	rep.Load = p.cfg.Now().Sub(t0)
	if err != nil {
		if job.IsNotFound(err) {
			// The original is gone: either the job was deleted while we claimed it, or someone removed the blob.
			if _, gerr := p.cfg.Store.Get(ctx, id); job.IsNotFound(gerr) {
				return Gone, nil
			}
			return p.fail(ctx, id, job.Errorf(job.CodeInternal, "the uploaded image is missing"))
		}
		if job.IsPermanent(err) {
			return p.fail(ctx, id, job.Public(err))
		}
		return p.release(ctx, id, fmt.Errorf("load original: %w", err))
	}

	opts, err := segmentOptions(j.Options)
	if err != nil {
		return p.fail(ctx, id, job.Public(err))
	}
	var png bytes.Buffer
	rep.Timings, err = p.cfg.Engine.Remove(jctx, data, p.cfg.Limits, opts, &png)
	if err != nil {
		if reason := imageError(err); reason != nil {
			return p.fail(ctx, id, reason)
		}
		return p.release(ctx, id, fmt.Errorf("segment: %w", err))
	}
	data = nil // the original's bytes are no longer needed; let a long store call not pin them

	t0 = p.cfg.Now()
	key := job.CutoutKey(id)
	if err := p.cfg.Blobs.Put(jctx, key, bytes.NewReader(png.Bytes()), int64(png.Len()), "image/png"); err != nil {
		return p.release(ctx, id, fmt.Errorf("store cutout: %w", err))
	}
	dctx, cancelD := detached(ctx)
	_, err = p.cfg.Store.Complete(dctx, id, key)
	cancelD()
	rep.Store = p.cfg.Now().Sub(t0)
	switch {
	case job.IsNotFound(err):
		// Deleted while we worked: the cutout just written would be orphaned, since nothing lists blobs.
		p.deleteBlobs(ctx, id, job.CutoutKey(id), job.OriginalKey(id))
		return Gone, nil
	case job.IsCode(err, job.CodeConflict):
		// Our lease lapsed and another delivery finished the job; its cutout has the same key and content.
		return Duplicate, err
	case err != nil:
		return p.release(ctx, id, fmt.Errorf("complete: %w", err))
	}
	// The original is only needed until the cutout exists; a failure here is harmless because deleting the job
	// deletes both keys.
	p.deleteBlobs(ctx, id, job.OriginalKey(id))
	p.publish(ctx, job.Event{JobID: id, Status: job.StatusDone, ResultURL: p.cfg.ResultURL(id)})
	return Done, nil
}

// whyNotClaimed tells a duplicate of a finished job from one whose job is being processed elsewhere.
func (p *Pipeline) whyNotClaimed(ctx context.Context, id string, claimErr error) (Outcome, error) {
	cur, err := p.cfg.Store.Get(ctx, id)
	switch {
	case job.IsNotFound(err):
		return Gone, nil
	case err != nil:
		return Retry, fmt.Errorf("claim: %w; then get: %w", claimErr, err)
	case cur.Status.Terminal():
		return Duplicate, nil
	}
	return Busy, claimErr
}

func (p *Pipeline) load(ctx context.Context, id string) ([]byte, error) {
	rc, err := p.cfg.Blobs.Get(ctx, job.OriginalKey(id))
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := imageio.ReadAll(rc, p.cfg.Limits)
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, job.Wrap(job.CodeTooLarge, err, err.Error())
	}
	return data, err
}

// imageError maps a decoding error to the reason a job fails, or nil when err is not the image's fault.
func imageError(err error) *job.Error {
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return job.Wrap(job.CodeTooLarge, err, err.Error())
	case errors.Is(err, imageio.ErrUnsupported), errors.Is(err, imageio.ErrCorrupt):
		return job.Wrap(job.CodeNotAnImage, err, "the image could not be read: "+err.Error())
	}
	return nil
}

func segmentOptions(o job.Options) (segment.Options, error) {
	if err := o.Validate(); err != nil {
		return segment.Options{}, err
	}
	bg, err := segment.ParseColor(o.Background)
	if err != nil {
		return segment.Options{}, job.Wrap(job.CodeBadRequest, err, "invalid background colour")
	}
	return segment.Options{MaskOnly: o.MaskOnly, Background: bg, Crop: o.Crop, CropMargin: o.CropMargin}, nil
}

// fail marks the job failed and tells its watchers.
func (p *Pipeline) fail(ctx context.Context, id string, reason *job.Error) (Outcome, error) {
	dctx, cancel := detached(ctx)
	defer cancel()
	_, err := p.cfg.Store.Fail(dctx, id, reason)
	switch {
	case job.IsNotFound(err):
		return Gone, nil
	case job.IsCode(err, job.CodeConflict):
		return Duplicate, err
	case err != nil:
		// The row could not be written: let the queue try again rather than leave the job processing for ever.
		return p.release(ctx, id, fmt.Errorf("mark failed (%s): %w", reason.Message, err))
	}
	p.publish(ctx, job.Event{JobID: id, Status: job.StatusFailed, Error: &job.Error{Code: reason.Code, Message: reason.Message}})
	return Failed, reason
}

// release gives the job back so the next delivery can claim it at once. If even that fails, the lease lapses and the
// job is claimable then.
func (p *Pipeline) release(ctx context.Context, id string, cause error) (Outcome, error) {
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := p.cfg.Store.Release(dctx, id); err != nil && !job.IsNotFound(err) {
		p.cfg.Log.Error().Err(err).Str("job_id", id).Msg("release job; it is retried when its lease lapses")
	}
	return Retry, cause
}

// GiveUp marks a job failed after the in-process queue ran out of attempts on transient errors.
func (p *Pipeline) GiveUp(ctx context.Context, id string, cause error) {
	_, err := p.fail(ctx, id, job.Wrap(job.CodeInternal, cause, "processing failed repeatedly; please try again later"))
	p.cfg.Log.Error().Err(err).Str("job_id", id).Msg("gave up on job")
}

func (p *Pipeline) publish(ctx context.Context, e job.Event) {
	if e.At.IsZero() {
		e.At = p.cfg.Now().UTC()
	}
	// An event that does not get through is not a failure of the job: the row holds the state, and watchers
	// re-read it (the server's sockets poll the store now and then, and polling clients read it anyway).
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := p.cfg.Hub.Publish(dctx, e); err != nil {
		p.cfg.Log.Warn().Err(err).Str("job_id", e.JobID).Str("status", string(e.Status)).Msg("publish event")
	}
}

func (p *Pipeline) deleteBlobs(ctx context.Context, id string, keys ...string) {
	dctx, cancel := detached(ctx)
	defer cancel()
	if err := p.cfg.Blobs.Delete(dctx, keys...); err != nil {
		p.cfg.Log.Warn().Err(err).Str("job_id", id).Msg("delete blobs; the job's deletion retries")
	}
}

// detached returns a context that outlives ctx's cancellation but not forever, for the writes that record what
// happened even when the processing was cut short (shutdown, timeout).
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// Handle is Process in the shape of the in-process queue's handler (local.Handler): nil when the queue is done with
// the job, a transient error when it should try again later.
func (p *Pipeline) Handle(ctx context.Context, id string) error {
	out, err := p.Process(ctx, id)
	if out.Final() {
		return nil
	}
	if err == nil {
		err = errors.New(out.String())
	}
	return job.Wrap(job.CodeUnavailable, err, "job "+id+" will be retried: "+out.String())
}

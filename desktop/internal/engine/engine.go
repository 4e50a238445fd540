// Package engine is the desktop app's local mode: the segmentation engine (shared/segment), loaded once in the
// background with the same model, profile and options the server uses, behind the batch queue's Processor
// interface.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// CodeNotInstalled is the job error code when the ONNX Runtime or the model is missing.
const CodeNotInstalled job.Code = "not_installed"

// SetupHint is what the user is told to do when the engine's files are missing.
const SetupHint = "The background remover's model is not installed. Run `make setup` (build/setup-model.sh) in the " +
	"Backless source folder, or set " + segment.EnvLibrary + " and " + segment.EnvModel + ", then try again."

// Loader loads the ONNX Runtime and the model once, on first use or when Preload asks, and keeps them until Close.
// A failed load is retried on the next use, so running the set-up while the app is open is enough.
type Loader struct {
	paths segment.Paths
	cfg   segment.Config

	mu      sync.Mutex
	rt      *segment.Runtime
	eng     *segment.Engine
	err     error
	loading chan struct{} // non-nil while a load runs; closed when it ends
	closed  bool
}

// NewLoader prepares a loader for the files at paths. cfg.ModelPath is taken from paths.
func NewLoader(paths segment.Paths, cfg segment.Config) *Loader {
	cfg.ModelPath = paths.Model
	return &Loader{paths: paths, cfg: cfg}
}

// Status says whether the engine is ready, still loading, or failed (with the error).
type Status struct {
	Ready   bool   `json:"ready"`
	Loading bool   `json:"loading"`
	Error   string `json:"error,omitempty"`
	// Hint says what to run when the files are missing.
	Hint string `json:"hint,omitempty"`
}

// Status reports the loader's state without waiting.
func (l *Loader) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{Ready: l.eng != nil, Loading: l.loading != nil}
	if l.err != nil && !s.Ready {
		s.Error = l.err.Error()
		if errors.Is(l.err, segment.ErrNotInstalled) {
			s.Hint = SetupHint
		}
	}
	return s
}

// Preload starts loading in the background if nothing is loaded or loading.
func (l *Loader) Preload() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.startLocked()
}

func (l *Loader) startLocked() chan struct{} {
	if l.loading == nil && l.eng == nil && !l.closed {
		l.loading = make(chan struct{})
		go l.load(l.loading)
	}
	return l.loading
}

// Engine returns the loaded engine, waiting for (or starting) the load.
func (l *Loader) Engine(ctx context.Context) (*segment.Engine, error) {
	l.mu.Lock()
	if l.eng != nil {
		defer l.mu.Unlock()
		return l.eng, nil
	}
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("engine: closed")
	}
	done := l.startLocked()
	l.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.eng != nil {
		return l.eng, nil
	}
	return nil, l.err
}

// load runs in its own goroutine. It is not cancelled by any one caller: a user who cancels a job must not cost the
// next job the load. Close waits for it.
func (l *Loader) load(done chan struct{}) {
	defer close(done)
	rt, eng, err := l.open()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loading = nil
	if err != nil {
		l.err = err
		return
	}
	l.rt, l.eng, l.err = rt, eng, nil
}

func (l *Loader) open() (*segment.Runtime, *segment.Engine, error) {
	l.mu.Lock()
	rt := l.rt
	l.mu.Unlock()
	if rt == nil {
		var err error
		if rt, err = segment.LoadRuntime(l.paths.Library); err != nil {
			return nil, nil, err
		}
	}
	// Local files only, but the warm-up run is seconds of work; bound it so a broken model cannot hang the app.
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	eng, err := segment.New(ctx, rt, l.cfg)
	if err != nil {
		// Keep the runtime: the process may load it only once, and the next try needs it.
		l.mu.Lock()
		l.rt = rt
		l.mu.Unlock()
		return nil, nil, err
	}
	return rt, eng, nil
}

// Close waits for a load in progress and releases the engine and the runtime. Jobs must have stopped.
func (l *Loader) Close() error {
	l.mu.Lock()
	l.closed = true
	done := l.loading
	l.mu.Unlock()
	if done != nil {
		<-done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if l.eng != nil {
		errs = append(errs, l.eng.Close())
		l.eng = nil
	}
	if l.rt != nil {
		errs = append(errs, l.rt.Close())
		l.rt = nil
	}
	return errors.Join(errs...)
}

// Processor segments images with the loader's engine: decode (EXIF orientation applied), segment, compose, encode,
// the steps of (*segment.Engine).Remove, taken one at a time to report progress between them.
type Processor struct {
	Loader *Loader
	Limits imageio.Limits
	// CropMargin is added around the subject when cropping, as the server's default does.
	CropMargin int
}

var _ batch.Processor = (*Processor)(nil)

// Progress after each step, in proportion to the time each takes for a typical photo (the model dominates).
const (
	progressDecoded   = 0.15
	progressSegmented = 0.85
)

// Process implements batch.Processor.
func (p *Processor) Process(ctx context.Context, req batch.Request, progress func(float64)) (batch.Result, error) {
	opts, err := Options(req.Options, p.CropMargin)
	if err != nil {
		return batch.Result{}, err
	}
	eng, err := p.Loader.Engine(ctx)
	if err != nil {
		if errors.Is(err, segment.ErrNotInstalled) {
			return batch.Result{}, &job.Error{Code: CodeNotInstalled, Message: SetupHint, Err: err}
		}
		return batch.Result{}, fmt.Errorf("load the engine: %w", err)
	}
	img, _, err := imageio.Decode(req.Data, p.Limits)
	if err != nil {
		return batch.Result{}, err
	}
	progress(progressDecoded)
	out, _, err := eng.Process(ctx, img, opts)
	if err != nil {
		return batch.Result{}, err
	}
	progress(progressSegmented)
	var buf bytes.Buffer
	if err := segment.Encode(&buf, out); err != nil {
		return batch.Result{}, err
	}
	return batch.Result{PNG: buf.Bytes()}, nil
}

// Options turns the page's options into the engine's, with the API's validation (shared/job) so that a bad colour
// is the same bad_request everywhere.
func Options(o batch.Options, margin int) (segment.Options, error) {
	jo := job.Options{MaskOnly: o.MaskOnly, Background: o.BgColor, Crop: o.Crop}
	if o.Crop {
		jo.CropMargin = margin
	}
	if err := jo.Validate(); err != nil {
		return segment.Options{}, err
	}
	bg, err := segment.ParseColor(o.BgColor)
	if err != nil {
		return segment.Options{}, &job.Error{Code: job.CodeBadRequest, Message: err.Error()}
	}
	return segment.Options{MaskOnly: o.MaskOnly, Background: bg, Crop: o.Crop, CropMargin: jo.CropMargin}, nil
}

// loadTimeout bounds loading the model and its warm-up run.
const loadTimeout = 5 * time.Minute

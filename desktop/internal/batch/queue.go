package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// Config sets up a Queue.
type Config struct {
	// Dir is where finished results are kept until deleted; it must exist. The queue writes only <id>.png files
	// there and removes them on Delete, Clear and Close.
	Dir string
	// Workers is how many jobs run at once (default 1). With the local engine, 2 lets one image be decoded and
	// encoded while another is in the model.
	Workers int
	// Limits bound the files read from disk and every image's pixels.
	Limits imageio.Limits
	// OnChange is told about every change. Calls come one at a time and in order, never with the queue's lock held,
	// so OnChange may read the queue; it must not add, cancel or delete jobs itself (that would deadlock).
	OnChange func(Change)
}

// Change is one notification: the job that changed (nil when a job was deleted) and the queue's new summary.
type Change struct {
	Job     *State
	Summary Summary
}

// Queue runs jobs in the order they were added. Its methods are safe for concurrent use.
type Queue struct {
	cfg Config

	// notifyMu serialises OnChange calls, so that the page sees every job's states in the order they happened.
	// Lock order: notifyMu, then mu.
	notifyMu sync.Mutex

	mu      sync.Mutex
	cond    *sync.Cond
	jobs    map[string]*entry
	order   []string // every job, in the order added
	pending []string // queued jobs, first to run first
	closed  bool

	life context.Context // cancelled by Close; every job's context derives from it
	stop context.CancelFunc
	wg   sync.WaitGroup
}

type entry struct {
	state     State
	in        Input
	proc      Processor
	cancel    context.CancelFunc // set while processing
	cancelled bool               // the user asked to cancel
	result    string             // the result file, once done
}

// New starts a queue and its workers. Close stops them.
func New(cfg Config) (*Queue, error) {
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("batch: result folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("batch: result folder %s is not a folder", cfg.Dir)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	q := &Queue{cfg: cfg, jobs: map[string]*entry{}}
	q.cond = sync.NewCond(&q.mu)
	q.life, q.stop = context.WithCancel(context.Background())
	for range cfg.Workers {
		q.wg.Add(1)
		go q.worker()
	}
	return q, nil
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("batch: queue closed")

// Add queues an image for p and returns its job id.
func (q *Queue) Add(in Input, p Processor) (string, error) {
	if p == nil {
		return "", errors.New("batch: no processor")
	}
	if in.Path == "" && len(in.Data) == 0 {
		return "", &job.Error{Code: job.CodeBadRequest, Message: "the image is empty"}
	}
	if in.Name == "" {
		in.Name = "image"
		if in.Path != "" {
			in.Name = filepath.Base(in.Path)
		}
	}
	id := job.NewID()
	// Hold notifyMu from before the job is visible to the workers until "queued" has been told: otherwise a
	// worker could take the job and report "processing" first, and listeners would never see it queued.
	q.notifyMu.Lock()
	defer q.notifyMu.Unlock()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return "", ErrClosed
	}
	q.jobs[id] = &entry{
		state: State{ID: id, Status: job.StatusQueued, Filename: in.Name, Path: in.Path},
		in:    in,
		proc:  p,
	}
	q.order = append(q.order, id)
	q.pending = append(q.pending, id)
	q.cond.Signal()
	c := q.changeLocked(id)
	q.mu.Unlock()
	if q.cfg.OnChange != nil {
		q.cfg.OnChange(c)
	}
	return id, nil
}

// Get returns a job's state.
func (q *Queue) Get(id string) (State, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.jobs[id]
	if !ok {
		return State{}, notFound(id)
	}
	return e.state, nil
}

// List returns every job's state, in the order they were added.
func (q *Queue) List() []State {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]State, 0, len(q.order))
	for _, id := range q.order {
		out = append(out, q.jobs[id].state)
	}
	return out
}

// Summary counts the jobs by state.
func (q *Queue) Summary() Summary {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.summaryLocked()
}

func (q *Queue) summaryLocked() Summary {
	var s Summary
	var progress float64
	for _, id := range q.order {
		st := q.jobs[id].state
		s.Total++
		switch {
		case st.Status == job.StatusQueued:
			s.Queued++
		case st.Status == job.StatusProcessing:
			s.Processing++
			progress += st.Progress
		case st.Status == job.StatusDone:
			s.Done++
		case st.Cancelled():
			s.Cancelled++
		default:
			s.Failed++
		}
	}
	if s.Total > 0 {
		s.Progress = (float64(s.Finished()) + progress) / float64(s.Total)
	}
	return s
}

// Result returns a finished job's PNG.
func (q *Queue) Result(id string) ([]byte, error) {
	path, err := q.resultPath(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("batch: read result of %s: %w", id, err)
	}
	return b, nil
}

func (q *Queue) resultPath(id string) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.jobs[id]
	if !ok {
		return "", notFound(id)
	}
	if e.state.Status != job.StatusDone {
		return "", &job.Error{Code: CodeNotDone, Message: fmt.Sprintf("%s is %s, not done", e.state.Filename, e.state.Status)}
	}
	return e.result, nil
}

// Cancel stops a job: a queued one never starts, a running one is interrupted (the engine's run is terminated).
// Either ends as failed with code "cancelled". A finished job is left as it is.
func (q *Queue) Cancel(id string) error {
	q.mu.Lock()
	e, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return notFound(id)
	}
	_, changed := q.cancelLocked(id, e)
	q.mu.Unlock()
	if changed {
		q.notify(id)
	}
	return nil
}

// CancelAll cancels every job that has not finished and returns how many there were.
func (q *Queue) CancelAll() int {
	q.mu.Lock()
	n := 0
	var changed []string
	for _, id := range q.order {
		hit, now := q.cancelLocked(id, q.jobs[id])
		if hit {
			n++
		}
		if now {
			changed = append(changed, id)
		}
	}
	q.mu.Unlock()
	for _, id := range changed {
		q.notify(id)
	}
	return n
}

// cancelLocked cancels the job if it has not finished (hit) and reports whether its state changed now (a queued
// job); a running job changes when its worker sees the cancellation, which then notifies.
func (q *Queue) cancelLocked(id string, e *entry) (hit, now bool) {
	switch e.state.Status {
	case job.StatusQueued:
		q.pending = slices.DeleteFunc(q.pending, func(p string) bool { return p == id })
		e.cancelled = true
		e.state.Status = job.StatusFailed
		e.state.Error = cancelledError()
		e.in, e.proc = Input{}, nil
		return true, true
	case job.StatusProcessing:
		if e.cancelled {
			return false, false
		}
		e.cancelled = true
		e.cancel()
		return true, false
	}
	return false, false
}

func cancelledError() *job.Error {
	return &job.Error{Code: CodeCancelled, Message: "Cancelled."}
}

// Delete forgets a job and its result, cancelling it first if it is still to do.
func (q *Queue) Delete(id string) error {
	q.mu.Lock()
	e, ok := q.jobs[id]
	if !ok {
		q.mu.Unlock()
		return notFound(id)
	}
	q.cancelLocked(id, e)
	q.forgetLocked(id, e)
	q.mu.Unlock()
	q.notify("")
	return nil
}

// Clear forgets every finished job and its result, and returns how many there were: the next batch starts at zero.
func (q *Queue) Clear() int {
	q.mu.Lock()
	n := 0
	for _, id := range slices.Clone(q.order) {
		if e := q.jobs[id]; e.state.Status.Terminal() {
			q.forgetLocked(id, e)
			n++
		}
	}
	q.mu.Unlock()
	if n > 0 {
		q.notify("")
	}
	return n
}

// forgetLocked removes the job; a running one's worker finds it gone when it returns and removes its output.
func (q *Queue) forgetLocked(id string, e *entry) {
	delete(q.jobs, id)
	q.order = slices.DeleteFunc(q.order, func(o string) bool { return o == id })
	if e.result != "" {
		_ = os.Remove(e.result) // a leftover file in the private folder goes with Close
	}
}

// Close cancels every job, waits for the workers to return and removes the results. Add fails afterwards.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	for id, e := range q.jobs {
		q.cancelLocked(id, e)
	}
	q.cond.Broadcast()
	q.mu.Unlock()
	q.stop()
	q.wg.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	for _, e := range q.jobs {
		if e.result != "" {
			if err := os.Remove(e.result); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (q *Queue) worker() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		for len(q.pending) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		id := q.pending[0]
		q.pending = q.pending[1:]
		e := q.jobs[id]
		ctx, cancel := context.WithCancel(q.life)
		e.cancel = cancel
		e.state.Status = job.StatusProcessing
		in, proc := e.in, e.proc
		q.mu.Unlock()
		q.notify(id)

		path, size, err := q.run(ctx, id, in, proc)
		cancel()
		q.finish(id, path, size, err)
	}
}

// run does one job's work outside the lock.
func (q *Queue) run(ctx context.Context, id string, in Input, proc Processor) (string, int64, error) {
	data := in.Data
	if data == nil {
		var err error
		if data, err = readFile(in.Path, q.cfg.Limits); err != nil {
			return "", 0, err
		}
	}
	// The header is enough to refuse a non-image or a too large one before any work, and gives the size to show.
	info, err := imageio.Probe(data, q.cfg.Limits)
	if err != nil {
		return "", 0, err
	}
	q.update(id, func(s *State) { s.Width, s.Height = info.Width, info.Height })
	res, err := proc.Process(ctx, Request{Name: in.Name, Data: data, Options: in.Options, Info: info},
		func(p float64) { q.setProgress(id, p) })
	if err != nil {
		return "", 0, err
	}
	if len(res.PNG) == 0 {
		return "", 0, errors.New("the processor returned no image")
	}
	path := filepath.Join(q.cfg.Dir, id+".png")
	if err := os.WriteFile(path, res.PNG, 0o600); err != nil {
		return "", 0, fmt.Errorf("keep result: %w", err)
	}
	return path, int64(len(res.PNG)), nil
}

func readFile(path string, lim imageio.Limits) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &job.Error{Code: job.CodeNotAnImage, Message: path + " is a folder"}
	}
	return imageio.ReadAll(f, lim)
}

func (q *Queue) finish(id, path string, size int64, err error) {
	q.mu.Lock()
	e, ok := q.jobs[id]
	if !ok {
		// Deleted while running: nobody wants the output.
		q.mu.Unlock()
		if path != "" {
			_ = os.Remove(path)
		}
		return
	}
	e.cancel = nil
	e.in, e.proc = Input{}, nil // let the image's bytes go
	switch {
	case e.cancelled:
		e.state.Status, e.state.Error = job.StatusFailed, cancelledError()
		if path != "" {
			_ = os.Remove(path)
		}
	case err != nil:
		e.state.Status, e.state.Error = job.StatusFailed, Classify(err)
	default:
		e.state.Status, e.state.Progress, e.state.Size = job.StatusDone, 1, size
		e.result = path
	}
	q.mu.Unlock()
	q.notify(id)
}

// setProgress records a running job's progress. Reports that go backwards or change less than a percent are
// dropped, so a processor may report as often as it likes without flooding the page.
func (q *Queue) setProgress(id string, p float64) {
	p = min(max(p, 0), 1)
	q.mu.Lock()
	e, ok := q.jobs[id]
	if !ok || e.state.Status != job.StatusProcessing || p < e.state.Progress+0.01 {
		q.mu.Unlock()
		return
	}
	e.state.Progress = p
	q.mu.Unlock()
	q.notify(id)
}

func (q *Queue) update(id string, f func(*State)) {
	q.mu.Lock()
	e, ok := q.jobs[id]
	if ok {
		f(&e.state)
	}
	q.mu.Unlock()
	if ok {
		q.notify(id)
	}
}

// notify tells OnChange about the job's current state (none for "") and the summary.
func (q *Queue) notify(id string) {
	if q.cfg.OnChange == nil {
		return
	}
	q.notifyMu.Lock()
	defer q.notifyMu.Unlock()
	q.mu.Lock()
	c := q.changeLocked(id)
	q.mu.Unlock()
	q.cfg.OnChange(c)
}

// changeLocked is the change to tell about job id (none for "") now; q.mu is held.
func (q *Queue) changeLocked(id string) Change {
	var c Change
	if e, ok := q.jobs[id]; ok {
		st := e.state
		c.Job = &st
	}
	c.Summary = q.summaryLocked()
	return c
}

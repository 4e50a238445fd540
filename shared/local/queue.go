package local

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/backless/backless/shared/job"
)

var _ job.Queue = (*Queue)(nil)

// Handler processes one job: the same function the worker's task endpoint calls. A nil error or a permanent one
// (job.IsPermanent: bad input, job gone or owned elsewhere) ends the job's turn in the queue; any other error is
// retried with back-off.
type Handler func(ctx context.Context, jobID string) error

// QueueOptions tune a Queue; the zero value is usable.
type QueueOptions struct {
	// Workers bounds how many jobs run at once (default: the number of CPUs).
	Workers int
	// MaxPending bounds the jobs waiting for a worker (default 1000); Enqueue beyond it is unavailable (503).
	MaxPending int
	// MaxAttempts bounds the runs of one job, the first included (default 5).
	MaxAttempts int
	// MinBackoff is the wait before the first retry, doubled for each further one up to MaxBackoff
	// (defaults 1 second and 1 minute). Each wait is jittered by up to a quarter, so failures don't retry in step.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// OnGiveUp is called when a job's last attempt failed with a transient error, so the caller can mark it failed.
	OnGiveUp func(jobID string, err error)
}

// Queue is a job.Queue that runs a Handler in a bounded pool of goroutines, retrying transient failures with
// back-off. Jobs still waiting when the process stops are not lost: they are still queued in the store, and the
// main enqueues Store.ListPending again at start.
type Queue struct {
	handle Handler
	opts   QueueOptions
	items  chan item

	// base is the context of every handler run; Close cancels it when its grace period is over.
	base   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	stop    chan struct{} // closed by Close: workers stop taking items
	timers  map[*time.Timer]struct{}
	workers sync.WaitGroup
}

type item struct {
	id      string
	attempt int // runs so far
}

// NewQueue starts the workers. Close the queue to stop them.
func NewQueue(h Handler, opts QueueOptions) *Queue {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 1000
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(time.Minute, opts.MinBackoff)
	}
	base, cancel := context.WithCancel(context.Background())
	q := &Queue{
		handle: h,
		opts:   opts,
		items:  make(chan item, opts.MaxPending),
		base:   base,
		cancel: cancel,
		stop:   make(chan struct{}),
		timers: make(map[*time.Timer]struct{}),
	}
	for range opts.Workers {
		q.workers.Go(q.work)
	}
	return q
}

// Enqueue adds the job without waiting for it to run. A full or closed queue answers unavailable.
func (q *Queue) Enqueue(ctx context.Context, jobID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return q.push(item{id: jobID})
}

func (q *Queue) push(it item) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return job.Errorf(job.CodeUnavailable, "the queue is shutting down")
	}
	select {
	case q.items <- it:
		return nil
	default:
		return job.Errorf(job.CodeUnavailable, "too many jobs are waiting; try again later")
	}
}

func (q *Queue) work() {
	for {
		select {
		case <-q.stop:
			return
		case it := <-q.items:
			// select picks at random among ready cases: once stopping, leave what is left to the next start.
			select {
			case <-q.stop:
				return
			default:
			}
			q.run(it)
		}
	}
}

// run calls the handler once and decides what follows: done, retry later, or give up.
func (q *Queue) run(it item) {
	it.attempt++
	err := q.call(it.id)
	switch {
	case err == nil, job.IsPermanent(err):
		return
	case q.base.Err() != nil:
		// Shut down mid-run: the job stays pending in the store and is resumed at the next start.
		return
	case it.attempt >= q.opts.MaxAttempts:
		if q.opts.OnGiveUp != nil {
			q.opts.OnGiveUp(it.id, err)
		}
		return
	}
	q.retryLater(it, q.backoff(it.attempt))
}

// call runs the handler, turning a panic into an error so one bad job cannot take the process down.
func (q *Queue) call(id string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = job.Wrap(job.CodeInternal, fmt.Errorf("panic: %v", r), "processing crashed")
		}
	}()
	return q.handle(q.base, id)
}

// backoff is MinBackoff·2^(attempt-1), capped at MaxBackoff, minus up to a quarter of jitter.
func (q *Queue) backoff(attempt int) time.Duration {
	d := q.opts.MinBackoff
	for i := 1; i < attempt && d < q.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.opts.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// retryLater puts the item back after d, without holding a worker while it waits. If the queue is full then, it
// waits another round rather than dropping the job.
func (q *Queue) retryLater(it item, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		delete(q.timers, t)
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return
		}
		if err := q.push(it); err != nil {
			q.retryLater(it, d) // full: wait another round (closed: retryLater does nothing)
		}
	})
	q.timers[t] = struct{}{}
}

// Close stops taking jobs, cancels pending retries, and waits for running handlers to finish. If ctx ends first,
// the handlers' context is cancelled and Close still waits for them to return, then reports ctx's error.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	close(q.stop)
	for t := range q.timers {
		t.Stop()
	}
	clear(q.timers)
	q.mu.Unlock()

	done := make(chan struct{})
	go func() { q.workers.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("local queue: close: %w", ctx.Err())
		q.cancel()
		<-done
	}
	q.cancel()
	return err
}

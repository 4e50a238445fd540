package local

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

// waitFor polls cond; the deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func closeQueue(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestQueueBoundsConcurrency(t *testing.T) {
	const workers, jobs = 3, 20
	var running, peak, finished atomic.Int32
	release := make(chan struct{})
	seen := sync.Map{}
	q := NewQueue(func(ctx context.Context, id string) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		seen.Store(id, true)
		finished.Add(1)
		return nil
	}, QueueOptions{Workers: workers})
	defer closeQueue(t, q)

	ids := make([]string, jobs)
	for i := range ids {
		ids[i] = job.NewID()
		if err := q.Enqueue(context.Background(), ids[i]); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	// All workers busy and blocked; no more may start. The pause gives a fourth handler, were the pool unbounded,
	// time to start and be seen; it is a window for a bug to show, not a speed assertion.
	waitFor(t, "the workers to fill", func() bool { return running.Load() == workers })
	time.Sleep(50 * time.Millisecond)
	if n := running.Load(); n != workers {
		t.Fatalf("%d handlers running at once, want %d", n, workers)
	}
	close(release)
	waitFor(t, "all jobs", func() bool { return finished.Load() == jobs })
	if p := peak.Load(); p != workers {
		t.Fatalf("peak concurrency %d, want %d", p, workers)
	}
	for _, id := range ids {
		if _, ok := seen.Load(id); !ok {
			t.Fatalf("job %s never ran", id)
		}
	}
}

func TestQueueRetriesTransientErrors(t *testing.T) {
	var calls atomic.Int32
	done := make(chan struct{})
	q := NewQueue(func(ctx context.Context, id string) error {
		if calls.Add(1) < 3 {
			return errors.New("connection reset") // transient: no code
		}
		close(done)
		return nil
	}, QueueOptions{Workers: 1, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		OnGiveUp: func(id string, err error) { t.Errorf("gave up on %s: %v", id, err) }})
	defer closeQueue(t, q)
	if err := q.Enqueue(context.Background(), job.NewID()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no success after %d calls", calls.Load())
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d calls, want 3", n)
	}
}

func TestQueueGivesUpAndSkipsPermanentErrors(t *testing.T) {
	permanentID, flakyID := job.NewID(), job.NewID()
	var mu sync.Mutex
	calls := map[string]int{}
	gaveUp := make(chan error, 2)
	q := NewQueue(func(ctx context.Context, id string) error {
		mu.Lock()
		calls[id]++
		mu.Unlock()
		if id == permanentID {
			return job.Errorf(job.CodeNotAnImage, "not an image")
		}
		return job.Errorf(job.CodeUnavailable, "storage down")
	}, QueueOptions{Workers: 2, MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		OnGiveUp: func(id string, err error) {
			if id != flakyID {
				t.Errorf("gave up on %s", id)
			}
			gaveUp <- err
		}})
	defer closeQueue(t, q)
	for _, id := range []string{permanentID, flakyID} {
		if err := q.Enqueue(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-gaveUp:
		if !job.IsCode(err, job.CodeUnavailable) {
			t.Fatalf("OnGiveUp got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("never gave up")
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[flakyID] != 4 || calls[permanentID] != 1 {
		t.Fatalf("calls = %v; want 4 for the transient failure, 1 for the permanent one", calls)
	}
}

func TestQueueRecoversPanics(t *testing.T) {
	var calls atomic.Int32
	gaveUp := make(chan error, 1)
	q := NewQueue(func(ctx context.Context, id string) error {
		calls.Add(1)
		panic("boom")
	}, QueueOptions{Workers: 1, MaxAttempts: 2, MinBackoff: time.Millisecond,
		OnGiveUp: func(id string, err error) { gaveUp <- err }})
	defer closeQueue(t, q)
	if err := q.Enqueue(context.Background(), job.NewID()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-gaveUp:
		if !job.IsCode(err, job.CodeInternal) || calls.Load() != 2 {
			t.Fatalf("after %d calls, gave up with %v", calls.Load(), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a panicking handler stopped the queue")
	}
}

func TestQueueFullAndClose(t *testing.T) {
	started := make(chan struct{}, 1)
	var sawCancel atomic.Bool
	var handled atomic.Int32
	q := NewQueue(func(ctx context.Context, id string) error {
		handled.Add(1)
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done() // a job that only stops when told to
		sawCancel.Store(true)
		return ctx.Err()
	}, QueueOptions{Workers: 1, MaxPending: 2})

	ctx := context.Background()
	if err := q.Enqueue(ctx, job.NewID()); err != nil {
		t.Fatal(err)
	}
	<-started // the worker holds the first job; two more fill the queue
	for range 2 {
		if err := q.Enqueue(ctx, job.NewID()); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Enqueue(ctx, job.NewID()); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Enqueue into a full queue: %v, want unavailable", err)
	}

	// The grace period runs out: the handler's context is cancelled and Close returns once it has.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := q.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if !sawCancel.Load() {
		t.Fatal("Close returned before the running handler stopped")
	}
	if err := q.Enqueue(ctx, job.NewID()); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Enqueue after Close: %v, want unavailable", err)
	}
	if err := q.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("%d handlers ran; the two jobs still waiting at Close must not start", n)
	}
}

func TestQueueBackoffGrowsAndCaps(t *testing.T) {
	q := &Queue{opts: QueueOptions{MinBackoff: time.Second, MaxBackoff: 10 * time.Second}}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second,
		4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		for range 20 {
			d := q.backoff(attempt)
			if d > want || d < want*3/4 {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want*3/4, want)
			}
		}
	}
}

package local

import (
	"context"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

func next(t *testing.T, s job.Subscription) job.Event {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		if !ok {
			t.Fatal("subscription closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return job.Event{}
}

func TestHubDeliversToEverySubscriberOfTheJob(t *testing.T) {
	h := NewHub(0)
	ctx := context.Background()
	id, other := job.NewID(), job.NewID()
	a, _ := h.Subscribe(ctx, id)
	defer a.Close()
	b, _ := h.Subscribe(ctx, id)
	defer b.Close()
	o, _ := h.Subscribe(ctx, other)
	defer o.Close()

	if err := h.Publish(ctx, job.Event{JobID: id, Status: job.StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(ctx, job.Event{JobID: id, Status: job.StatusDone, ResultURL: "/r"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []job.Subscription{a, b} {
		if e := next(t, s); e.Status != job.StatusProcessing || e.At.IsZero() {
			t.Fatalf("first event %+v", e)
		}
		if e := next(t, s); e.Status != job.StatusDone || e.ResultURL != "/r" {
			t.Fatalf("second event %+v", e)
		}
	}
	select {
	case e := <-o.Events():
		t.Fatalf("another job's subscriber got %+v", e)
	default:
	}
}

func TestHubSlowSubscriberKeepsLatest(t *testing.T) {
	h := NewHub(2)
	ctx := context.Background()
	id := job.NewID()
	s, _ := h.Subscribe(ctx, id)
	defer s.Close()
	for i := range 10 {
		_ = h.Publish(ctx, job.Event{JobID: id, Status: job.StatusProcessing, Progress: float64(i) / 10})
	}
	_ = h.Publish(ctx, job.Event{JobID: id, Status: job.StatusDone})
	// Publish never blocked; the buffer holds the last two events, ending with done.
	if e := next(t, s); e.Status != job.StatusProcessing || e.Progress != 0.9 {
		t.Fatalf("got %+v, want the last progress event", e)
	}
	if e := next(t, s); e.Status != job.StatusDone {
		t.Fatalf("got %+v, want done", e)
	}
}

func TestHubUnsubscribe(t *testing.T) {
	h := NewHub(0)
	id := job.NewID()
	a, _ := h.Subscribe(context.Background(), id)
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := h.Subscribe(ctx, id)
	if n := h.subscribers(id); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-a.Events(); ok {
		t.Fatal("Events open after Close")
	}
	cancel()
	select {
	case _, ok := <-b.Events():
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling did not end the subscription")
	}
	if n := h.subscribers(id); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
	_ = b.Close()
	if err := h.Publish(context.Background(), job.Event{JobID: id, Status: job.StatusDone}); err != nil {
		t.Fatalf("Publish to nobody: %v", err)
	}
}

package redis

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

func openTest(t *testing.T) *Hub {
	t.Helper()
	url := os.Getenv("BACKLESS_TEST_REDIS_URL")
	if url == "" {
		t.Skip(`BACKLESS_TEST_REDIS_URL is unset; start Redis with: . "$(build/services/start.sh redis)"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A prefix per test keeps concurrent runs against one Redis apart.
	h, err := Open(ctx, url, Options{Prefix: "backless-test:" + job.NewID() + ":"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// next waits for one event; the deadline only turns a lost event into a failure instead of a hang.
func next(t *testing.T, s job.Subscription) job.Event {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		if !ok {
			t.Fatal("subscription closed before the event")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return job.Event{}
}

func TestSubscribeThenPublishDelivers(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	id := job.NewID()
	sub, err := h.Subscribe(ctx, id)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Close()
	// Redis already counts the subscriber: Subscribe waited for its confirmation.
	if n, err := h.client.PubSubNumSub(ctx, h.channel(id)).Result(); err != nil || n[h.channel(id)] != 1 {
		t.Fatalf("PUBSUB NUMSUB right after Subscribe = %v, %v; want 1", n, err)
	}

	// Published immediately after Subscribe returns: this is the case the server relies on, and it works only if
	// Subscribe waited for Redis to confirm.
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	events := []job.Event{
		{JobID: id, Status: job.StatusProcessing, Progress: 0.5, At: at},
		{JobID: id, Status: job.StatusDone, ResultURL: "https://example.invalid/r.png", At: at},
		{JobID: id, Status: job.StatusFailed, Error: &job.Error{Code: job.CodeNotAnImage, Message: "nope"}, At: at},
	}
	for _, e := range events {
		if err := h.Publish(ctx, e); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	for i, want := range events {
		got := next(t, sub)
		if got.JobID != want.JobID || got.Status != want.Status || got.ResultURL != want.ResultURL ||
			got.Progress != want.Progress || !got.At.Equal(want.At) {
			t.Fatalf("event %d = %+v, want %+v", i, got, want)
		}
		if (want.Error == nil) != (got.Error == nil) || want.Error != nil && *got.Error != *want.Error {
			t.Fatalf("event %d error = %+v, want %+v", i, got.Error, want.Error)
		}
	}
}

func TestTwoSubscribersAndOtherJobs(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	id, other := job.NewID(), job.NewID()
	a, err := h.Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := h.Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// An event for another job must reach neither; the done event after it must reach both.
	if err := h.Publish(ctx, job.Event{JobID: other, Status: job.StatusDone}); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(ctx, job.Event{JobID: id, Status: job.StatusDone}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]job.Subscription{"a": a, "b": b} {
		e := next(t, s)
		if e.JobID != id || e.Status != job.StatusDone || e.At.IsZero() {
			t.Fatalf("subscriber %s got %+v", name, e)
		}
	}
}

func TestCloseAndContextEndSubscription(t *testing.T) {
	h := openTest(t)
	ctx := context.Background()
	id := job.NewID()

	a, err := h.Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, ok := <-a.Events(); ok {
		t.Fatal("Events still open after Close")
	}
	_ = a.Close() // a second Close is harmless

	cctx, cancel := context.WithCancel(ctx)
	b, err := h.Subscribe(cctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-b.Events():
		if ok {
			t.Fatal("event on a cancelled subscription")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling the context did not end the subscription")
	}

	// After both unsubscribed, Redis counts no subscribers on the channel.
	n, err := h.client.PubSubNumSub(ctx, h.channel(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n[h.channel(id)] != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n, _ = h.client.PubSubNumSub(ctx, h.channel(id)).Result()
	}
	if n[h.channel(id)] != 0 {
		t.Fatalf("%d subscribers left after unsubscribe", n[h.channel(id)])
	}
	// Publishing to nobody is fine.
	if err := h.Publish(ctx, job.Event{JobID: id, Status: job.StatusDone}); err != nil {
		t.Fatalf("Publish with no subscriber: %v", err)
	}
}

func TestUnreachableRedis(t *testing.T) {
	if os.Getenv("BACKLESS_TEST_REDIS_URL") == "" {
		t.Skip(`BACKLESS_TEST_REDIS_URL is unset; start Redis with: . "$(build/services/start.sh redis)"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "redis://127.0.0.1:1/0", Options{Timeout: time.Second})
	if !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Open of a closed port: %v, want unavailable", err)
	}
	if _, err := Open(ctx, "http://nope", Options{}); err == nil {
		t.Fatal("Open accepted a non-Redis URL")
	}
}

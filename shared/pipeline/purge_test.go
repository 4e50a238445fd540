package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

func TestPurgeDeletesBlobsRowAndTellsWatchers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var reasons []string
	p := &Purger{Store: e.store, Blobs: e.blobs, Hub: e.hub, Log: zerolog.New(zerolog.NewTestWriter(t)),
		OnPurge: func(r string) { reasons = append(reasons, r) }}
	id := e.newJob(t, []byte("original"), job.Options{})
	sub, _ := e.hub.Subscribe(ctx, id)
	defer sub.Close()

	if err := p.Purge(ctx, id, "user"); err != nil {
		t.Fatal(err)
	}
	if e.blobExists(t, job.OriginalKey(id)) {
		t.Error("original kept")
	}
	if _, err := e.store.Get(ctx, id); !job.IsNotFound(err) {
		t.Errorf("row kept: %v", err)
	}
	evs := collect(t, sub)
	if len(evs) != 1 || evs[0].Status != job.StatusFailed || evs[0].Error.Code != job.CodeNotFound {
		t.Fatalf("events %+v; want failed/not_found", evs)
	}
	if err := p.Purge(ctx, id, "user"); !job.IsNotFound(err) {
		t.Fatalf("second purge = %v; want not_found", err)
	}
	if len(reasons) != 1 || reasons[0] != "user" {
		t.Fatalf("OnPurge told %v", reasons)
	}
}

func TestSweepDeletesOnlyExpiredJobs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := &Purger{Store: e.store, Blobs: e.blobs, Hub: e.hub, Log: zerolog.New(zerolog.NewTestWriter(t))}
	const ttl = time.Hour
	var old []string
	// More than one batch of old jobs, in every state.
	for i := range sweepBatch + 5 {
		id := e.newJob(t, []byte("o"), job.Options{})
		switch i % 3 {
		case 1:
			if _, err := e.store.Claim(ctx, id); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := e.store.Fail(ctx, id, job.Errorf(job.CodeNotAnImage, "x")); err != nil {
				t.Fatal(err)
			}
		}
		old = append(old, id)
	}
	e.advance(ttl)
	fresh := e.newJob(t, []byte("f"), job.Options{})
	e.advance(time.Minute)

	n, err := p.Sweep(ctx, e.clock().Add(-ttl))
	if err != nil || n != len(old) {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, len(old))
	}
	for _, id := range old {
		if _, err := e.store.Get(ctx, id); !job.IsNotFound(err) {
			t.Fatalf("expired job %s kept: %v", id, err)
		}
		if e.blobExists(t, job.OriginalKey(id)) {
			t.Fatalf("blob of expired job %s kept", id)
		}
	}
	if _, err := e.store.Get(ctx, fresh); err != nil {
		t.Fatalf("a job younger than the TTL was deleted: %v", err)
	}
	if !e.blobExists(t, job.OriginalKey(fresh)) {
		t.Fatal("a young job's blob was deleted")
	}
}

func TestRunSweeperStopsWithItsContext(t *testing.T) {
	e := newEnv(t)
	p := &Purger{Store: e.store, Blobs: e.blobs, Hub: e.hub, Log: zerolog.New(zerolog.NewTestWriter(t))}
	id := e.newJob(t, []byte("o"), job.Options{})
	e.advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.RunSweeper(ctx, time.Hour, time.Hour, e.clock); close(done) }()
	// The first sweep runs at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := e.store.Get(context.Background(), id); job.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired job")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunSweeper did not return after its context ended")
	}
}

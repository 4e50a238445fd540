package local

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t *testing.T, dir string, opts StoreOptions) *Store {
	t.Helper()
	s, err := OpenStore(dir, opts)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

func newJob() *job.Job {
	return &job.Job{ID: job.NewID(), Filename: "dog.png", ContentType: "image/png", Width: 800, Height: 600,
		Options: job.Options{MaskOnly: true}}
}

func TestStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	s := openStore(t, dir, StoreOptions{Now: clk.Now})

	queued, processing, done, failed := newJob(), newJob(), newJob(), newJob()
	for _, j := range []*job.Job{queued, processing, done, failed} {
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	for _, id := range []string{processing.ID, done.ID, failed.ID} {
		if _, err := s.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Complete(ctx, done.ID, job.CutoutKey(done.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fail(ctx, failed.ID, job.Errorf(job.CodeNotAnImage, "not an image")); err != nil {
		t.Fatal(err)
	}
	// A crash mid-write leaves a temporary file; reopening must ignore and remove it.
	leftover := filepath.Join(dir, queued.ID+".json.123.tmp")
	if err := os.WriteFile(leftover, []byte(`{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}

	// "Restart": a new Store on the same folder, nothing shared in memory.
	r := openStore(t, dir, StoreOptions{Now: clk.Now})
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover temporary file still there: %v", err)
	}
	for _, want := range []*job.Job{queued, processing, done, failed} {
		a, _ := s.Get(ctx, want.ID)
		b, err := r.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("after reopen, Get %s: %v", want.ID, err)
		}
		if a.Status != b.Status || a.Attempts != b.Attempts || !a.UpdatedAt.Equal(b.UpdatedAt) ||
			!a.ClaimedUntil.Equal(b.ClaimedUntil) || a.ResultKey != b.ResultKey || a.Options != b.Options ||
			a.Filename != b.Filename || (a.Error == nil) != (b.Error == nil) {
			t.Fatalf("job %s changed across reopen:\n before %+v\n after  %+v", want.ID, a, b)
		}
	}
	if got, _ := r.Get(ctx, failed.ID); got.Error.Code != job.CodeNotAnImage {
		t.Fatalf("failure reason lost: %+v", got.Error)
	}
	pending, err := r.ListPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].ID != queued.ID || pending[1].ID != processing.ID {
		t.Fatalf("pending after reopen = %v, want the queued then the processing job", jobIDs(pending))
	}
	// The job that was processing when the process died is reclaimable once its lease lapses.
	clk.Advance(11 * time.Minute)
	if _, err := r.Claim(ctx, processing.ID); err != nil {
		t.Fatalf("reclaim after restart: %v", err)
	}
}

func TestStoreTransitions(t *testing.T) {
	clk := &clock{t: time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)}
	s := openStore(t, t.TempDir(), StoreOptions{Now: clk.Now, Lease: time.Minute})
	ctx := context.Background()
	j := newJob()
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, j); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("duplicate Create: %v", err)
	}
	if err := s.Create(ctx, &job.Job{ID: "../../x"}); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("Create with a bad id: %v", err)
	}
	if err := s.Release(ctx, j.ID); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Release of a queued job: %v", err)
	}
	c, err := s.Claim(ctx, j.ID)
	if err != nil || c.Attempts != 1 || !c.ClaimedUntil.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("Claim = %+v, %v", c, err)
	}
	if _, err := s.Claim(ctx, j.ID); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Claim under a live lease: %v", err)
	}
	clk.Advance(time.Minute)
	if c, err := s.Claim(ctx, j.ID); err != nil || c.Attempts != 2 {
		t.Fatalf("reclaim after the lease: %+v, %v", c, err)
	}
	if err := s.Release(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, j.ID); err != nil {
		t.Fatalf("Claim after Release: %v", err)
	}
	if d, err := s.Complete(ctx, j.ID, "key"); err != nil || d.Status != job.StatusDone || d.ResultKey != "key" {
		t.Fatalf("Complete = %+v, %v", d, err)
	}
	if _, err := s.Complete(ctx, j.ID, "other"); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("second Complete: %v", err)
	}
	if _, err := s.Fail(ctx, j.ID, nil); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Fail after done: %v", err)
	}
	// What Get returns is a copy: changing it changes nothing stored.
	g, _ := s.Get(ctx, j.ID)
	g.Status = job.StatusQueued
	if g2, _ := s.Get(ctx, j.ID); g2.Status != job.StatusDone || g2.ResultKey != "key" {
		t.Fatalf("stored job changed: %+v", g2)
	}
	if err := s.Delete(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.path(j.ID)); !os.IsNotExist(err) {
		t.Fatalf("job file left after Delete: %v", err)
	}
	if _, err := s.Get(ctx, j.ID); !job.IsNotFound(err) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := s.Delete(ctx, j.ID); !job.IsNotFound(err) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := s.Claim(ctx, j.ID); !job.IsNotFound(err) {
		t.Fatalf("Claim after Delete: %v", err)
	}
}

func TestStoreClaimIsAtomic(t *testing.T) {
	s := openStore(t, t.TempDir(), StoreOptions{})
	ctx := context.Background()
	j := newJob()
	if err := s.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	start := make(chan struct{})
	for range 20 {
		wg.Go(func() {
			<-start
			_, err := s.Claim(ctx, j.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case job.IsCode(err, job.CodeConflict):
				conflicts++
			default:
				t.Errorf("Claim: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 || conflicts != 19 {
		t.Fatalf("%d wins, %d conflicts; want 1 and 19", wins, conflicts)
	}
}

func TestStoreListExpired(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	s := openStore(t, t.TempDir(), StoreOptions{Now: clk.Now})
	ctx := context.Background()
	var js []*job.Job
	for range 4 {
		j := newJob()
		if err := s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		js = append(js, j)
		clk.Advance(time.Minute)
	}
	// Touching jobs[0] makes it the newest.
	if _, err := s.Claim(ctx, js[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListExpired(ctx, t0.Add(3*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if jobIDs(got) != jobIDs(js[1:3]) {
		t.Fatalf("expired = %s, want %s", jobIDs(got), jobIDs(js[1:3]))
	}
	got, _ = s.ListExpired(ctx, t0.Add(time.Hour), 2)
	if jobIDs(got) != jobIDs(js[1:3]) {
		t.Fatalf("expired with limit = %s, want %s", jobIDs(got), jobIDs(js[1:3]))
	}
}

func TestStoreSetsCorruptFileAside(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, StoreOptions{})
	good := newJob()
	if err := s.Create(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, job.NewID()+".json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var reported []string
	r := openStore(t, dir, StoreOptions{OnCorrupt: func(p string, err error) { reported = append(reported, p) }})
	if len(reported) != 1 || reported[0] != bad {
		t.Fatalf("reported %v, want %s", reported, bad)
	}
	if _, err := os.Stat(bad + ".corrupt"); err != nil {
		t.Fatalf("corrupt file not set aside: %v", err)
	}
	if _, err := r.Get(context.Background(), good.ID); err != nil {
		t.Fatalf("the good job was lost: %v", err)
	}
}

func jobIDs(js []*job.Job) string {
	s := ""
	for _, j := range js {
		s += j.ID[:6] + " "
	}
	return s
}

// BenchmarkStoreLifecycle measures one job's full round of store calls (each write is fsynced): create, claim,
// complete, get, delete.
func BenchmarkStoreLifecycle(b *testing.B) {
	s, err := OpenStore(b.TempDir(), StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		j := newJob()
		if err := s.Create(ctx, j); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Claim(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Complete(ctx, j.ID, job.CutoutKey(j.ID)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Get(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
	}
}

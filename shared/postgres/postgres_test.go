package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/backless/backless/shared/job"
)

// clock is a settable time source, so lease expiry is tested by moving time instead of sleeping.
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

// testURL returns a database URL whose search_path is a fresh schema, dropped when the test ends, so tests neither
// see each other's rows nor earlier runs'.
func testURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("BACKLESS_TEST_DATABASE_URL")
	if base == "" {
		t.Skip(`BACKLESS_TEST_DATABASE_URL is unset; start PostgreSQL with: . "$(build/services/start.sh postgres)"`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	schema := "test_" + job.NewID()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse BACKLESS_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openTest(t *testing.T, opts Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, testURL(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func newJob() *job.Job {
	return &job.Job{ID: job.NewID(), Filename: "cat.jpg", ContentType: "image/jpeg", Width: 640, Height: 480,
		Options: job.Options{Background: "#112233", Crop: true, CropMargin: 8}}
}

func TestMigrationsIdempotentAndConcurrent(t *testing.T) {
	u := testURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Several replicas starting at once: the advisory lock must serialise them, and all must succeed.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := Open(ctx, u, Options{})
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	// And again, sequentially: nothing to apply.
	db, err := Open(ctx, u, Options{})
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer db.Close()
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || n == 0 {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	// A tampered record is refused rather than silently ignored.
	if _, err := db.pool.Exec(ctx, "UPDATE schema_migrations SET checksum = 'x' WHERE version = $1", ms[0].version); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, db.pool); err == nil {
		t.Fatal("Migrate accepted a changed migration")
	}
}

func TestCreateGetRoundTrip(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
	db := openTest(t, Options{Now: clk.Now})
	ctx := context.Background()

	j := newJob()
	if err := db.Create(ctx, j); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := db.Get(ctx, j.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	if got.Status != job.StatusQueued || got.Filename != "cat.jpg" || got.Width != 640 || got.Height != 480 ||
		got.Options != j.Options || !got.CreatedAt.Equal(want) || got.Attempts != 0 || got.Error != nil {
		t.Fatalf("Get = %+v", got)
	}
	if err := db.Create(ctx, j); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("duplicate Create: %v, want conflict", err)
	}
	if _, err := db.Get(ctx, job.NewID()); !job.IsNotFound(err) {
		t.Fatalf("Get unknown: %v, want not_found", err)
	}
	if err := db.Create(ctx, &job.Job{ID: "bad id"}); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("Create with bad id: %v", err)
	}
}

func TestClaimIsAtomicUnderConcurrency(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	j := newJob()
	if err := db.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			_, err := db.Claim(ctx, j.ID)
			results <- err
		})
	}
	close(start)
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case job.IsCode(err, job.CodeConflict):
		default:
			t.Errorf("Claim: unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won, want exactly 1", wins)
	}
	got, err := db.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != job.StatusProcessing || got.Attempts != 1 {
		t.Fatalf("after claims: status %s, attempts %d", got.Status, got.Attempts)
	}
}

func TestLeaseReclaimAndNoClobber(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	db := openTest(t, Options{Now: clk.Now, Lease: time.Minute})
	ctx := context.Background()
	j := newJob()
	if err := db.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	first, err := db.Claim(ctx, j.ID)
	if err != nil {
		t.Fatalf("first Claim: %v", err)
	}
	if !first.ClaimedUntil.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("lease ends %v", first.ClaimedUntil)
	}
	clk.Advance(59 * time.Second)
	if _, err := db.Claim(ctx, j.ID); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Claim under a live lease: %v, want conflict", err)
	}
	clk.Advance(2 * time.Second) // the first worker is presumed dead
	second, err := db.Claim(ctx, j.ID)
	if err != nil {
		t.Fatalf("reclaim after the lease: %v", err)
	}
	if second.Attempts != 2 || second.Status != job.StatusProcessing {
		t.Fatalf("reclaimed job: %+v", second)
	}
	done, err := db.Complete(ctx, j.ID, job.CutoutKey(j.ID))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if done.Status != job.StatusDone || done.ResultKey != job.CutoutKey(j.ID) || !done.ClaimedUntil.IsZero() {
		t.Fatalf("completed job: %+v", done)
	}
	// The first worker wakes up late: none of its moves may touch the result.
	if _, err := db.Complete(ctx, j.ID, "other"); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("second Complete: %v, want conflict", err)
	}
	if _, err := db.Fail(ctx, j.ID, job.Errorf(job.CodeInternal, "late")); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Fail after done: %v, want conflict", err)
	}
	clk.Advance(time.Hour)
	if _, err := db.Claim(ctx, j.ID); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Claim of a done job: %v, want conflict", err)
	}
	got, _ := db.Get(ctx, j.ID)
	if got.Status != job.StatusDone || got.ResultKey != job.CutoutKey(j.ID) {
		t.Fatalf("result clobbered: %+v", got)
	}
}

func TestFailReleaseDelete(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()

	a := newJob()
	if err := db.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.Release(ctx, a.ID); !job.IsCode(err, job.CodeConflict) {
		t.Fatalf("Release of a queued job: %v, want conflict", err)
	}
	if _, err := db.Claim(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Release(ctx, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	// Released means claimable at once, with no lease in the way.
	if _, err := db.Claim(ctx, a.ID); err != nil {
		t.Fatalf("Claim after Release: %v", err)
	}
	failed, err := db.Fail(ctx, a.ID, job.Errorf(job.CodeNotAnImage, "this file is not an image"))
	if err != nil {
		t.Fatalf("Fail: %v", err)
	}
	if failed.Status != job.StatusFailed || failed.Error == nil || failed.Error.Code != job.CodeNotAnImage ||
		failed.Error.Message != "this file is not an image" {
		t.Fatalf("failed job: %+v", failed)
	}
	got, _ := db.Get(ctx, a.ID)
	if got.Error == nil || got.Error.Code != job.CodeNotAnImage {
		t.Fatalf("stored failure: %+v", got)
	}
	if err := db.Delete(ctx, a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := db.Delete(ctx, a.ID); !job.IsNotFound(err) {
		t.Fatalf("second Delete: %v, want not_found", err)
	}
	for name, f := range map[string]func() error{
		"claim":    func() error { _, err := db.Claim(ctx, a.ID); return err },
		"complete": func() error { _, err := db.Complete(ctx, a.ID, "k"); return err },
		"fail":     func() error { _, err := db.Fail(ctx, a.ID, nil); return err },
		"release":  func() error { return db.Release(ctx, a.ID) },
	} {
		if err := f(); !job.IsNotFound(err) {
			t.Errorf("%s of a deleted job: %v, want not_found", name, err)
		}
	}
	// A queued job may fail directly (e.g. enqueueing it failed).
	b := newJob()
	if err := db.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Fail(ctx, b.ID, nil); err != nil {
		t.Fatalf("Fail of a queued job: %v", err)
	}
}

func TestListExpiredAndPending(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	db := openTest(t, Options{Now: clk.Now})
	ctx := context.Background()

	var jobs []*job.Job
	for i := range 5 {
		j := newJob()
		if err := db.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
		if i < 4 {
			clk.Advance(time.Minute)
		}
	}
	// jobs[0] done, jobs[1] failed, jobs[2] processing, jobs[3] and jobs[4] queued; the updates happen "later".
	clk.Advance(time.Minute) // t0+5m
	if _, err := db.Claim(ctx, jobs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Complete(ctx, jobs[0].ID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Fail(ctx, jobs[1].ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Claim(ctx, jobs[2].ID); err != nil {
		t.Fatal(err)
	}

	// Updated at t0+5m: jobs 0,1,2. Created (and last updated) at t0+3m, t0+4m: jobs 3,4.
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	expired, err := db.ListExpired(ctx, t0.Add(4*time.Minute+time.Second), 0)
	if err != nil {
		t.Fatalf("ListExpired: %v", err)
	}
	if ids(expired) != ids(jobs[3:5]) {
		t.Fatalf("expired = %s, want %s", ids(expired), ids(jobs[3:5]))
	}
	all, err := db.ListExpired(ctx, t0.Add(time.Hour), 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("ListExpired(all) = %d jobs, %v", len(all), err)
	}
	limited, err := db.ListExpired(ctx, t0.Add(time.Hour), 2)
	if err != nil || ids(limited) != ids(jobs[3:5]) {
		t.Fatalf("ListExpired(limit 2) = %s, %v; want the two oldest %s", ids(limited), err, ids(jobs[3:5]))
	}
	if none, err := db.ListExpired(ctx, t0, 0); err != nil || len(none) != 0 {
		t.Fatalf("ListExpired(t0) = %d jobs, %v", len(none), err)
	}

	pending, err := db.ListPending(ctx)
	if err != nil {
		t.Fatalf("ListPending: %v", err)
	}
	if ids(pending) != ids(jobs[2:5]) {
		t.Fatalf("pending = %s, want %s", ids(pending), ids(jobs[2:5]))
	}
}

func TestContextAndUnreachableServer(t *testing.T) {
	db := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Get(ctx, job.NewID()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v", err)
	}
	// Nothing listens on port 1: Open must fail quickly with an error, not hang or panic.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, err := Open(ctx2, "postgres://u:p@127.0.0.1:1/db?sslmode=disable", Options{Timeout: 2 * time.Second}); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Open of an unreachable server: %v, want unavailable", err)
	}
	if _, err := Open(ctx2, "postgres://u:secret@[::1/db", Options{}); err == nil {
		t.Fatal("Open accepted a malformed URL")
	} else if got := err.Error(); strings.Contains(got, "secret") {
		t.Fatalf("the error leaks the password: %s", got)
	}
}

func ids(js []*job.Job) string {
	s := ""
	for _, j := range js {
		s += fmt.Sprintf("%s ", j.ID[:6])
	}
	return s
}

// BenchmarkLifecycle measures one job's full round of store calls: create, claim, complete, get, delete.
func BenchmarkLifecycle(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, testURL(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ReportAllocs()
	for b.Loop() {
		j := newJob()
		if err := db.Create(ctx, j); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Claim(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Complete(ctx, j.ID, job.CutoutKey(j.ID)); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Get(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
		if err := db.Delete(ctx, j.ID); err != nil {
			b.Fatal(err)
		}
	}
}

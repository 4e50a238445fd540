package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/local"
	"github.com/backless/backless/shared/segment"
)

// The tests run the real pipeline over the embedded backends (real implementations of the interfaces) and, where a
// model run is needed, the real engine and model that `make setup` installs; without them they fail saying so.

var (
	engineOnce sync.Once
	engine     *segment.Engine
	engineErr  error
)

// testEngine loads the ONNX Runtime and the default model once for the whole test binary, on first use, so the tests
// that never reach the model do not pay for it.
func testEngine(t *testing.T) *segment.Engine {
	t.Helper()
	engineOnce.Do(func() {
		paths := segment.Locate(os.Getenv)
		rt, err := segment.LoadRuntime(paths.Library)
		if err != nil {
			engineErr = err
			return
		}
		engine, engineErr = segment.New(context.Background(), rt, segment.Config{ModelPath: paths.Model, Sessions: 1})
	})
	if engineErr != nil {
		t.Fatalf("the pipeline tests need the model and runtime (make setup): %v", engineErr)
	}
	return engine
}

// lazyEngine defers loading the engine to its first use, so a pipeline can be built in tests that never run it.
type lazyEngine struct{ t *testing.T }

func (l lazyEngine) Remove(ctx context.Context, data []byte, lim imageio.Limits, o segment.Options, w io.Writer) (segment.Timings, error) {
	return testEngine(l.t).Remove(ctx, data, lim, o, w)
}

type env struct {
	store *local.Store
	blobs *local.Blobs
	hub   *local.Hub
	dir   string
	now   time.Time
	mu    sync.Mutex
	obs   []Report
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func (e *env) Observe(r Report) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.obs = append(e.obs, r)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var err error
	if e.store, err = local.OpenStore(filepath.Join(e.dir, "jobs"), local.StoreOptions{Lease: time.Minute, Now: e.clock}); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = local.NewBlobs(filepath.Join(e.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	e.hub = local.NewHub(32)
	return e
}

func (e *env) pipeline(t *testing.T, mod func(*Config)) *Pipeline {
	t.Helper()
	cfg := Config{
		Store: e.store, Blobs: e.blobs, Hub: e.hub, Engine: lazyEngine{t},
		ResultURL: func(id string) string { return "/api/jobs/" + id + "/result" },
		Log:       zerolog.New(zerolog.NewTestWriter(t)),
		Observer:  e,
		Now:       e.clock,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newJob stores data as a job's original and inserts the job, as the server does on upload.
func (e *env) newJob(t *testing.T, data []byte, opts job.Options) string {
	t.Helper()
	ctx := context.Background()
	id := job.NewID()
	if err := e.blobs.Put(ctx, job.OriginalKey(id), bytes.NewReader(data), int64(len(data)), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Create(ctx, &job.Job{ID: id, Filename: "photo.jpg", Options: opts}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) blobExists(t *testing.T, key string) bool {
	t.Helper()
	rc, err := e.blobs.Get(context.Background(), key)
	if job.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	return true
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events collects what the hub delivers for a job until a terminal event or the timeout.
func collect(t *testing.T, sub job.Subscription) []job.Event {
	t.Helper()
	var got []job.Event
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				return got
			}
			got = append(got, e)
			if e.Status.Terminal() {
				return got
			}
		case <-timeout:
			return got
		}
	}
}

func TestProcessDoneStoresCutoutAndDeletesOriginal(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(t, nil)
	ctx := context.Background()
	photo := readTestdata(t, "coffee.jpg")
	id := e.newJob(t, photo, job.Options{})
	e.advance(1500 * time.Millisecond) // time spent in the queue
	sub, err := e.hub.Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	out, err := p.Process(ctx, id)
	if out != Done || err != nil {
		t.Fatalf("Process = %v, %v; want done", out, err)
	}
	evs := collect(t, sub)
	if len(evs) != 2 || evs[0].Status != job.StatusProcessing || evs[1].Status != job.StatusDone ||
		evs[1].ResultURL != "/api/jobs/"+id+"/result" {
		t.Fatalf("events %+v; want processing then done with the result URL", evs)
	}
	j, err := e.store.Get(ctx, id)
	if err != nil || j.Status != job.StatusDone || j.ResultKey != job.CutoutKey(id) || j.Attempts != 1 {
		t.Fatalf("job after processing: %+v, %v", j, err)
	}
	if e.blobExists(t, job.OriginalKey(id)) {
		t.Error("the original is kept after the cutout was stored")
	}
	rc, err := e.blobs.Get(ctx, job.CutoutKey(id))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("cutout is not a PNG: %v", err)
	}
	if _, ok := img.(*image.NRGBA); !ok || img.Bounds().Dx() != 600 || img.Bounds().Dy() != 400 {
		t.Fatalf("cutout is %T %v; want NRGBA 600×400", img, img.Bounds())
	}
	// The photo's subject is kept and its background removed: both (nearly) opaque and clear pixels abound.
	var clear, opaque int
	n := img.(*image.NRGBA)
	for i := 3; i < len(n.Pix); i += 4 {
		switch a := n.Pix[i]; {
		case a < 8:
			clear++
		case a > 247:
			opaque++
		}
	}
	if clear < len(n.Pix)/4/10 || opaque < len(n.Pix)/4/10 {
		t.Errorf("alpha has %d clear and %d opaque pixels of %d; not a cutout", clear, opaque, len(n.Pix)/4)
	}
	if r := e.obs[len(e.obs)-1]; !r.Claimed || r.QueueLatency != 1500*time.Millisecond || r.Outcome != Done {
		t.Errorf("report %+v", r)
	}

	// A duplicate delivery touches nothing.
	before, _ := e.store.Get(ctx, id)
	out, err = p.Process(ctx, id)
	if out != Duplicate || err != nil {
		t.Fatalf("second delivery = %v, %v; want duplicate", out, err)
	}
	after, _ := e.store.Get(ctx, id)
	if *after != *before {
		t.Fatalf("a duplicate delivery changed the job: %+v → %+v", before, after)
	}
}

func TestProcessUndecodableImageFailsForGood(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(t, nil)
	ctx := context.Background()
	// The header is a JPEG's, the rest is not: an upload check reading only headers would let it through.
	photo := readTestdata(t, "coffee.jpg")
	id := e.newJob(t, photo[:len(photo)/3], job.Options{})
	sub, _ := e.hub.Subscribe(ctx, id)
	defer sub.Close()

	out, err := p.Process(ctx, id)
	if out != Failed || !job.IsCode(err, job.CodeNotAnImage) {
		t.Fatalf("Process = %v, %v; want failed with not_an_image", out, err)
	}
	if !out.Final() {
		t.Fatal("a bad image is retried")
	}
	evs := collect(t, sub)
	last := evs[len(evs)-1]
	if last.Status != job.StatusFailed || last.Error == nil || last.Error.Code != job.CodeNotAnImage {
		t.Fatalf("events %+v; want a failed event with not_an_image", evs)
	}
	j, _ := e.store.Get(ctx, id)
	if j.Status != job.StatusFailed || j.Error == nil || j.Error.Code != job.CodeNotAnImage {
		t.Fatalf("job %+v; want failed", j)
	}
	if out, _ := p.Process(ctx, id); out != Duplicate {
		t.Fatalf("redelivery of a failed job = %v; want duplicate", out)
	}
}

func TestProcessGoneAndBusy(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(t, nil)
	ctx := context.Background()

	if out, err := p.Process(ctx, job.NewID()); out != Gone || err != nil {
		t.Fatalf("unknown job = %v, %v; want gone", out, err)
	}
	if out, _ := p.Process(ctx, "../../etc/passwd"); out != Gone {
		t.Fatalf("malformed id = %v; want gone", out)
	}

	id := e.newJob(t, []byte("not processed in this test"), job.Options{})
	if _, err := e.store.Claim(ctx, id); err != nil { // another worker has it
		t.Fatal(err)
	}
	out, err := p.Process(ctx, id)
	if out != Busy || out.Final() || err == nil {
		t.Fatalf("job claimed elsewhere = %v, %v; want busy (retry later)", out, err)
	}
	if err := p.Handle(ctx, id); err == nil || job.IsPermanent(err) {
		t.Fatalf("Handle of a busy job = %v; want a transient error so the in-process queue retries", err)
	}
	j, _ := e.store.Get(ctx, id)
	if j.Status != job.StatusProcessing || j.Attempts != 1 {
		t.Fatalf("a busy delivery changed the job: %+v", j)
	}
}

func TestProcessTimeoutReleasesTheJob(t *testing.T) {
	e := newEnv(t)
	// A deadline that has passed before the original is read: the job must go back to the queue, not stay claimed.
	p := e.pipeline(t, func(c *Config) { c.Timeout = time.Nanosecond })
	ctx := context.Background()
	id := e.newJob(t, readTestdata(t, "coffee.jpg"), job.Options{})
	out, err := p.Process(ctx, id)
	if out != Retry || err == nil {
		t.Fatalf("Process = %v, %v; want retry", out, err)
	}
	j, _ := e.store.Get(ctx, id)
	if j.Status != job.StatusQueued || !j.ClaimedUntil.IsZero() {
		t.Fatalf("job after a timeout: %+v; want queued again", j)
	}
	if !e.blobExists(t, job.OriginalKey(id)) {
		t.Fatal("the original was deleted although the job will be retried")
	}
}

func TestProcessGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(t, func(c *Config) { c.MaxAttempts = 2 })
	ctx := context.Background()
	id := e.newJob(t, []byte("never decoded"), job.Options{})
	for range 2 { // two workers died holding it
		if _, err := e.store.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
		e.advance(2 * time.Minute) // the lease lapses
	}
	out, err := p.Process(ctx, id)
	if out != Failed || !job.IsCode(err, job.CodeInternal) {
		t.Fatalf("third claim = %v, %v; want failed", out, err)
	}
	if j, _ := e.store.Get(ctx, id); j.Status != job.StatusFailed {
		t.Fatalf("job %+v; want failed", j)
	}
}

func TestGiveUpMarksFailedAndTells(t *testing.T) {
	e := newEnv(t)
	p := e.pipeline(t, nil)
	ctx := context.Background()
	id := e.newJob(t, []byte("x"), job.Options{})
	sub, _ := e.hub.Subscribe(ctx, id)
	defer sub.Close()
	p.GiveUp(ctx, id, fmt.Errorf("the store kept timing out"))
	evs := collect(t, sub)
	if len(evs) != 1 || evs[0].Status != job.StatusFailed || evs[0].Error.Code != job.CodeInternal {
		t.Fatalf("events %+v", evs)
	}
	if j, _ := e.store.Get(ctx, id); j.Status != job.StatusFailed {
		t.Fatalf("job %+v", j)
	}
}

func TestSegmentOptionsRefusesNonsense(t *testing.T) {
	if _, err := segmentOptions(job.Options{MaskOnly: true, Background: "#ffffff"}); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("mask with a background: %v", err)
	}
	o, err := segmentOptions(job.Options{Background: "#10ff20", Crop: true, CropMargin: 4})
	if err != nil || o.Background == nil || o.Background.G != 0xff || !o.Crop || o.CropMargin != 4 {
		t.Fatalf("options %+v, %v", o, err)
	}
}

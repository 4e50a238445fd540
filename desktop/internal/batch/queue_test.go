package batch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/engine"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// The queue is tested with the real engine and model (the ONNX Runtime is loaded once per process, here); without
// `make setup` these tests fail with the message that says what to run.
var local *engine.Processor

func TestMain(m *testing.M) {
	loader := engine.NewLoader(segment.Locate(os.Getenv), segment.Config{Sessions: 1})
	if _, err := loader.Engine(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "batch tests need the engine:", err)
		os.Exit(1)
	}
	local = &engine.Processor{Loader: loader, Limits: imageio.DefaultLimits()}
	code := m.Run()
	loader.Close()
	os.Exit(code)
}

const testdata = "../../../shared/testdata"

func photo(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recorder keeps every change the queue reports.
type recorder struct {
	mu      sync.Mutex
	changes []batch.Change
	wake    chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) on(c batch.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// states is the sequence of states reported for one job.
func (r *recorder) states(id string) []batch.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []batch.State
	for _, c := range r.changes {
		if c.Job != nil && c.Job.ID == id {
			out = append(out, *c.Job)
		}
	}
	return out
}

// told reports whether every job's end has been reported; no change of theirs is on its way after that.
func (r *recorder) told(ids ...string) bool {
	for _, id := range ids {
		states := r.states(id)
		if len(states) == 0 || !states[len(states)-1].Status.Terminal() {
			return false
		}
	}
	return true
}

func (r *recorder) last() batch.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes[len(r.changes)-1]
}

// waitFor waits until cond holds over the reported changes, or fails after a generous limit (a hang guard, not a
// speed assertion).
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	limit := time.After(3 * time.Minute)
	for !cond() {
		select {
		case <-r.wake:
		case <-time.After(100 * time.Millisecond):
		case <-limit:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newQueue(t *testing.T, workers int) (*batch.Queue, *recorder) {
	t.Helper()
	rec := newRecorder()
	q, err := batch.New(batch.Config{Dir: t.TempDir(), Workers: workers, Limits: imageio.DefaultLimits(), OnChange: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Error(err)
		}
	})
	return q, rec
}

func checkCutout(t *testing.T, b []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("result is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: w, Y: h}) {
		t.Fatalf("result is %v, want %dx%d", got, w, h)
	}
	m, ok := img.(*image.NRGBA)
	if !ok {
		t.Fatalf("result is %T, want NRGBA", img)
	}
	var clear, solid int
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] == 0 {
			clear++
		} else if m.Pix[i] >= 250 {
			solid++
		}
	}
	if clear == 0 || solid == 0 {
		t.Fatalf("result has %d clear and %d solid pixels; a cutout has both", clear, solid)
	}
}

func TestBatchRunsInOrderAndFailuresStayPerFile(t *testing.T) {
	q, rec := newQueue(t, 1)
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(notImage, []byte("these are notes, not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := []batch.Input{
		{Name: "coffee.jpg", Data: photo(t, "coffee.jpg")},
		{Path: notImage},
		{Path: filepath.Join(dir, "gone.jpg")},
		{Path: filepath.Join(testdata, "coffee.jpg"), Options: batch.Options{MaskOnly: true}},
	}
	var ids []string
	for _, in := range inputs {
		id, err := q.Add(in, local)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rec.waitFor(t, "the batch to finish", func() bool { return rec.told(ids...) })

	sum := q.Summary()
	if sum.Total != 4 || sum.Done != 2 || sum.Failed != 2 || sum.Cancelled != 0 || sum.Progress != 1 {
		t.Fatalf("summary %+v, want 4 jobs: 2 done, 2 failed, progress 1", sum)
	}
	if got := rec.last().Summary; got != sum {
		t.Fatalf("last reported summary %+v, want %+v", got, sum)
	}
	list := q.List()
	if len(list) != 4 || list[1].Filename != "notes.jpg" || list[2].Filename != "gone.jpg" {
		t.Fatalf("list %+v: want the jobs in the order added, named after their files", list)
	}
	wantCodes := []job.Code{"", job.CodeNotAnImage, batch.CodeUnreadable, ""}
	for i, id := range ids {
		st, err := q.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if wantCodes[i] == "" {
			if st.Status != job.StatusDone || st.Progress != 1 || st.Width != 600 || st.Height != 400 || st.Size <= 0 {
				t.Fatalf("job %d: %+v, want done 600x400 with a size", i, st)
			}
			continue
		}
		if st.Status != job.StatusFailed || st.Error == nil || st.Error.Code != wantCodes[i] || st.Error.Message == "" {
			t.Fatalf("job %d: %+v, want failed with code %s and a message", i, st, wantCodes[i])
		}
	}

	// Each job went queued → processing → done/failed, never back, with progress only growing; one at a time,
	// in order.
	var started []int
	for i, id := range ids {
		states := rec.states(id)
		if states[0].Status != job.StatusQueued {
			t.Fatalf("job %d first reported as %s", i, states[0].Status)
		}
		rank := map[job.Status]int{job.StatusQueued: 0, job.StatusProcessing: 1, job.StatusDone: 2, job.StatusFailed: 2}
		for k := 1; k < len(states); k++ {
			a, b := states[k-1], states[k]
			if rank[b.Status] < rank[a.Status] || b.Progress < a.Progress {
				t.Fatalf("job %d went from %+v to %+v", i, a, b)
			}
		}
		if !slices.ContainsFunc(states, func(s batch.State) bool { return s.Status == job.StatusProcessing }) {
			t.Fatalf("job %d never reported processing: %+v", i, states)
		}
		started = append(started, firstIndex(rec, id, job.StatusProcessing))
	}
	if !slices.IsSorted(started) {
		t.Fatalf("jobs started in the order %v of the change log, want the order added", started)
	}
	if done := rec.states(ids[0]); !slices.ContainsFunc(done, func(s batch.State) bool {
		return s.Status == job.StatusProcessing && s.Progress > 0 && s.Progress < 1
	}) {
		t.Fatalf("the local engine reported no progress between start and end: %+v", done)
	}

	b, err := q.Result(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	checkCutout(t, b, 600, 400)
	mask, err := q.Result(ids[3])
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(mask)); err != nil {
		t.Fatal(err)
	} else if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("mask-only result is %T, want a grey image", img)
	}
	if _, err := q.Result(ids[1]); !job.IsCode(err, batch.CodeNotDone) {
		t.Fatalf("result of a failed job: %v, want not_done", err)
	}
}

func firstIndex(rec *recorder, id string, s job.Status) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, c := range rec.changes {
		if c.Job != nil && c.Job.ID == id && c.Job.Status == s {
			return i
		}
	}
	return -1
}

func TestCancelStopsRunningAndQueuedJobs(t *testing.T) {
	q, rec := newQueue(t, 1)
	data := photo(t, "coffee.jpg")
	running, _ := q.Add(batch.Input{Name: "a.jpg", Data: data}, local)
	waiting, _ := q.Add(batch.Input{Name: "b.jpg", Data: data}, local)
	rec.waitFor(t, "the first job to start", func() bool {
		st, _ := q.Get(running)
		return st.Status == job.StatusProcessing
	})
	if err := q.Cancel(waiting); err != nil {
		t.Fatal(err)
	}
	if err := q.Cancel(running); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "the cancelled job to end", func() bool {
		st, _ := q.Get(running)
		return st.Status.Terminal()
	})
	for _, id := range []string{running, waiting} {
		st, _ := q.Get(id)
		if !st.Cancelled() {
			t.Fatalf("job %s: %+v, want cancelled", id, st)
		}
		if _, err := q.Result(id); err == nil {
			t.Fatalf("a cancelled job has a result")
		}
	}
	for _, st := range rec.states(waiting) {
		if st.Status == job.StatusProcessing {
			t.Fatal("the queued job started although it was cancelled first")
		}
	}
	if s := q.Summary(); s.Cancelled != 2 || s.Failed != 0 || s.Progress != 1 {
		t.Fatalf("summary %+v, want 2 cancelled and nothing left to do", s)
	}

	// The engine is free again: the next job runs to the end.
	next, _ := q.Add(batch.Input{Name: "c.jpg", Data: data}, local)
	rec.waitFor(t, "the next job", func() bool {
		st, _ := q.Get(next)
		return st.Status.Terminal()
	})
	if st, _ := q.Get(next); st.Status != job.StatusDone {
		t.Fatalf("job after a cancellation: %+v, want done", st)
	}
	if n := q.CancelAll(); n != 0 {
		t.Fatalf("CancelAll cancelled %d finished jobs", n)
	}
}

func TestCancelAllDeleteAndClose(t *testing.T) {
	rec := newRecorder()
	dir := t.TempDir()
	q, err := batch.New(batch.Config{Dir: dir, Workers: 2, OnChange: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	data := photo(t, "coffee.jpg")
	done, _ := q.Add(batch.Input{Name: "done.jpg", Data: data}, local)
	rec.waitFor(t, "the first job", func() bool { st, _ := q.Get(done); return st.Status.Terminal() })

	// Two workers, one model session: a is in the model, b waits for it (both processing), c is queued; each
	// takes seconds, so all three are unfinished when CancelAll comes right after.
	a, _ := q.Add(batch.Input{Name: "a.jpg", Data: data}, local)
	b, _ := q.Add(batch.Input{Name: "b.jpg", Data: data}, local)
	c, _ := q.Add(batch.Input{Name: "c.jpg", Data: data}, local)
	rec.waitFor(t, "two jobs to start", func() bool { return q.Summary().Processing == 2 })
	if n := q.CancelAll(); n != 3 {
		t.Fatalf("CancelAll: %d, want 3 (two running, one queued)", n)
	}
	rec.waitFor(t, "all to end", func() bool { return rec.told(done, a, b, c) })
	for _, id := range []string{a, b, c} {
		if st, _ := q.Get(id); !st.Cancelled() {
			t.Fatalf("%+v, want cancelled", st)
		}
	}

	if err := q.Delete(a); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(a); !job.IsNotFound(err) {
		t.Fatalf("deleted job: %v, want not_found", err)
	}
	if err := q.Delete(a); !job.IsNotFound(err) {
		t.Fatalf("second delete: %v, want not_found", err)
	}
	if s := rec.last(); s.Job != nil || s.Summary.Total != 3 {
		t.Fatalf("a delete reports %+v, want the summary only, with 3 jobs", s)
	}
	if n := q.Clear(); n != 3 {
		t.Fatalf("Clear: %d, want 3", n)
	}
	if s := q.Summary(); s.Total != 0 || s.Progress != 0 {
		t.Fatalf("after Clear: %+v", s)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Fatalf("results left after Clear: %v", left)
	}

	// Close cancels a running job and refuses new ones.
	d, _ := q.Add(batch.Input{Name: "d.jpg", Data: data}, local)
	rec.waitFor(t, "the last job to start", func() bool { st, _ := q.Get(d); return st.Status == job.StatusProcessing })
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Get(d); !st.Cancelled() {
		t.Fatalf("job running at Close: %+v, want cancelled", st)
	}
	if _, err := q.Add(batch.Input{Name: "e.jpg", Data: data}, local); !errors.Is(err, batch.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

func TestAddRefusesNothing(t *testing.T) {
	q, _ := newQueue(t, 1)
	if _, err := q.Add(batch.Input{Name: "x"}, local); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("empty input: %v, want bad_request", err)
	}
	if _, err := q.Add(batch.Input{Data: []byte{1}}, nil); err == nil {
		t.Fatal("no processor: no error")
	}
	if _, err := q.Get("nope"); !job.IsNotFound(err) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := q.Cancel("nope"); !job.IsNotFound(err) {
		t.Fatalf("cancel unknown id: %v", err)
	}
}

func TestSaveAllNeverOverwrites(t *testing.T) {
	q, rec := newQueue(t, 2)
	data := photo(t, "coffee.jpg")
	var ids []string
	for _, name := range []string{"photo.jpg", "other/photo.png", "cup.jpeg"} {
		id, _ := q.Add(batch.Input{Name: name, Data: data}, local)
		ids = append(ids, id)
	}
	failed, _ := q.Add(batch.Input{Name: "bad.jpg", Data: []byte("nope")}, local)
	rec.waitFor(t, "the batch", func() bool { return q.Summary().Finished() == 4 })

	out := t.TempDir()
	mine := filepath.Join(out, "cup.png")
	if err := os.WriteFile(mine, []byte("the user's own file"), 0o644); err != nil {
		t.Fatal(err)
	}
	saved, err := q.SaveAll(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"photo.png", "photo (2).png", "cup (2).png"}
	if len(saved) != len(want) {
		t.Fatalf("saved %+v, want the 3 done jobs", saved)
	}
	for i, sv := range saved {
		if sv.Error != nil || sv.ID != ids[i] || filepath.Base(sv.Path) != want[i] {
			t.Fatalf("saved[%d] = %+v, want %s", i, sv, want[i])
		}
		b, err := os.ReadFile(sv.Path)
		if err != nil {
			t.Fatal(err)
		}
		checkCutout(t, b, 600, 400)
	}
	if b, _ := os.ReadFile(mine); string(b) != "the user's own file" {
		t.Fatal("SaveAll overwrote a file that was there")
	}
	if _, err := q.SaveAll(filepath.Join(out, "missing")); err == nil {
		t.Fatal("SaveAll into a missing folder: no error")
	}

	// SaveResult replaces the chosen file (the save dialog asked already) and refuses unfinished jobs.
	if err := q.SaveResult(ids[2], mine); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(mine); !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatal("SaveResult did not write the PNG")
	}
	if err := q.SaveResult(failed, filepath.Join(out, "bad.png")); !job.IsCode(err, batch.CodeNotDone) {
		t.Fatalf("saving a failed job: %v, want not_done", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.png")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed job left a file")
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want job.Code
	}{
		{fmt.Errorf("read: %w", imageio.ErrTooLarge), job.CodeTooLarge},
		{fmt.Errorf("read: %w", imageio.ErrCorrupt), job.CodeNotAnImage},
		{fmt.Errorf("read: %w", imageio.ErrUnsupported), job.CodeNotAnImage},
		{fmt.Errorf("open: %w", os.ErrNotExist), batch.CodeUnreadable},
		{&job.Error{Code: "network", Message: "down"}, "network"},
		{context.DeadlineExceeded, job.CodeTimeout},
		{errors.New("boom"), job.CodeInternal},
	} {
		got := batch.Classify(c.err)
		if got.Code != c.want || got.Message == "" {
			t.Errorf("Classify(%v) = %+v, want code %s with a message", c.err, got, c.want)
		}
	}
	if batch.Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
}

package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/pipeline"
)

func newTaskServer(t *testing.T, b *backends, stop context.Context) *httptest.Server {
	t.Helper()
	p, err := pipeline.New(pipeline.Config{
		Store: b.store, Blobs: b.blobs, Hub: b.hub, Engine: testEngine(t),
		ResultURL: ResultPath, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewTaskHandler(TaskConfig{Secret: "s3cret", Processor: p, Stop: stop,
		Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func deliver(t *testing.T, ts *httptest.Server, secret, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+job.TaskPath, strings.NewReader(body))
	if secret != "" {
		req.Header.Set(job.TaskSecretHeader, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTaskEndpointNeedsTheSecret(t *testing.T) {
	b := newBackends(t)
	ts := newTaskServer(t, b, nil)
	ctx := context.Background()
	id := job.NewID()
	if err := b.store.Create(ctx, &job.Job{ID: id}); err != nil {
		t.Fatal(err)
	}
	wantError(t, deliver(t, ts, "", string(job.TaskBody(id))), http.StatusUnauthorized, job.CodeUnauthorized)
	wantError(t, deliver(t, ts, "s3cret-not", string(job.TaskBody(id))), http.StatusForbidden, job.CodeForbidden)
	if j, _ := b.store.Get(ctx, id); j.Status != job.StatusQueued || j.Attempts != 0 {
		t.Fatalf("a refused task touched the job: %+v", j)
	}
	wantError(t, deliver(t, ts, "s3cret", `{"job_id":"../x"}`), http.StatusBadRequest, job.CodeBadRequest)
	res, _ := http.Get(ts.URL + job.TaskPath)
	wantError(t, res, http.StatusMethodNotAllowed, job.CodeMethodNotAllowed)
}

func TestTaskOutcomes(t *testing.T) {
	b := newBackends(t)
	ts := newTaskServer(t, b, nil)
	ctx := context.Background()
	answer := func(res *http.Response) (int, string) {
		a := decodeJSON[map[string]any](t, res)
		o, _ := a["outcome"].(string)
		return res.StatusCode, o
	}

	// A job that no longer exists, and a finished one, are done with: 200, so the queue forgets the task.
	if code, o := answer(deliver(t, ts, "s3cret", string(job.TaskBody(job.NewID())))); code != 200 || o != "gone" {
		t.Fatalf("gone job: %d %s", code, o)
	}
	done := doneJob(t, b)
	if code, o := answer(deliver(t, ts, "s3cret", done)); code != 200 || o != "duplicate" { // the original's plain-text body
		t.Fatalf("finished job: %d %s", code, o)
	}

	// A job another worker holds is retried later: 503.
	busy := job.NewID()
	_ = b.store.Create(ctx, &job.Job{ID: busy})
	_, _ = b.store.Claim(ctx, busy)
	res := deliver(t, ts, "s3cret", string(job.TaskBody(busy)))
	if res.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on 503")
	}
	wantError(t, res, http.StatusServiceUnavailable, job.CodeUnavailable)

	// An undecodable image fails the job for good: 200 and a failed job.
	bad := job.NewID()
	cut := readTestdata(t, "coffee.jpg")[:3000] // a JPEG's header, then nothing
	_ = b.blobs.Put(ctx, job.OriginalKey(bad), bytes.NewReader(cut), int64(len(cut)), "image/jpeg")
	_ = b.store.Create(ctx, &job.Job{ID: bad})
	if code, o := answer(deliver(t, ts, "s3cret", string(job.TaskBody(bad)))); code != 200 || o != "failed" {
		t.Fatalf("bad image: %d %s", code, o)
	}
	if j, _ := b.store.Get(ctx, bad); j.Status != job.StatusFailed || j.Error.Code != job.CodeNotAnImage {
		t.Fatalf("bad image's job %+v", j)
	}
}

func TestTaskCutShortAtShutdownIsReleased(t *testing.T) {
	b := newBackends(t)
	stop, cancel := context.WithCancel(context.Background())
	cancel() // the shutdown's grace period is already over
	ts := newTaskServer(t, b, stop)
	ctx := context.Background()
	id := job.NewID()
	_ = b.blobs.Put(ctx, job.OriginalKey(id), strings.NewReader("x"), 1, "image/jpeg")
	_ = b.store.Create(ctx, &job.Job{ID: id})
	res := deliver(t, ts, "s3cret", string(job.TaskBody(id)))
	wantError(t, res, http.StatusServiceUnavailable, job.CodeUnavailable)
	time.Sleep(10 * time.Millisecond)
	if j, _ := b.store.Get(ctx, id); j.Status != job.StatusQueued {
		t.Fatalf("job left %s; want queued for another worker", j.Status)
	}
}

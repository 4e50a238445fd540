package httpapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/png"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

// The whole web path in one process: upload, websocket, result, and deletion once the watcher has left.
func TestJobLifecycle(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, pipelineQueue(t, b), nil)
	res := post(t, ts.url(routeJobs), "image", "coffee.jpg", readTestdata(t, "coffee.jpg"), map[string]string{
		"mask_only": "false", "bg_color": "", "crop": "false", // what the frontend sends by default
	})
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/jobs = %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	c := decodeJSON[map[string]any](t, res)
	id, _ := c["id"].(string)
	if !job.ValidID(id) || c["status"] != "queued" || c["filename"] != "coffee.jpg" ||
		c["status_url"] != StatusPath(id) || c["ws_url"] != WSPath(id) || c["result_url"] != "" || loc != StatusPath(id) {
		t.Fatalf("created %v, Location %q", c, loc)
	}

	ws := mustDialWS(t, ts, id)
	msgs := ws.until(3 * time.Minute)
	if len(msgs) == 0 {
		t.Fatal("no message on the socket")
	}
	first, last := msgs[0], msgs[len(msgs)-1]
	if first.ID != id || first.Filename != "coffee.jpg" || first.Width != 600 || first.Height != 400 {
		t.Fatalf("first message %+v", first)
	}
	if last.Status != job.StatusDone || last.ResultURL != ResultPath(id) || last.Error != nil {
		t.Fatalf("last message %+v; want done with the result URL", last)
	}
	for i := 1; i < len(msgs); i++ {
		if rank(msgs[i].Status) < rank(msgs[i-1].Status) {
			t.Fatalf("states went back: %+v", msgs)
		}
	}

	// A client that connects after the end still hears it, at once.
	late := mustDialWS(t, ts, id)
	if st, ok := late.next(5 * time.Second); !ok || st.Status != job.StatusDone || st.ResultURL != ResultPath(id) {
		t.Fatalf("late socket got %+v, %v", st, ok)
	}
	// And polling sees the same.
	if st, code := getState(t, ts, id); code != 200 || st.Status != job.StatusDone || st.ResultURL != ResultPath(id) ||
		st.Width != 600 || st.Filename != "coffee.jpg" {
		t.Fatalf("GET state %d %+v", code, st)
	}

	res, err := http.Get(ts.url(ResultPath(id)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="coffee.png"` {
		t.Fatalf("result %d %v", res.StatusCode, res.Header)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.NRGBA); !ok || img.Bounds() != image.Rect(0, 0, 600, 400) {
		t.Fatalf("result is %T %v; want RGBA at the original size", img, img.Bounds())
	}

	// Nothing is kept once the watchers have left and the grace period is over.
	ws.closeNormally()
	late.closeNormally()
	eventually(t, 10*time.Second, "job deleted after its sockets closed", func() bool {
		_, code := getState(t, ts, id)
		return code == http.StatusNotFound
	})
	nothingStored(t, b)
}

func TestReloadOnAnotherReplicaKeepsTheJob(t *testing.T) {
	b := newBackends(t) // shared by both servers, as replicas share Postgres, S3 and Redis
	grace := func(c *Config) { c.DeleteGrace = 500 * time.Millisecond }
	a := newTestServer(t, b, refusingQueue(t), grace)
	other := newTestServer(t, b, refusingQueue(t), grace)
	id := doneJob(t, b)

	w1 := mustDialWS(t, a, id)
	if st, ok := w1.next(5 * time.Second); !ok || st.Status != job.StatusDone {
		t.Fatalf("first socket: %+v %v", st, ok)
	}
	w1.closeNormally() // a schedules the deletion
	time.Sleep(100 * time.Millisecond)
	w2 := mustDialWS(t, other, id) // the reload lands on the other replica
	if st, ok := w2.next(5 * time.Second); !ok || st.Status != job.StatusDone {
		t.Fatalf("second socket: %+v %v", st, ok)
	}
	time.Sleep(1500 * time.Millisecond) // well past a's grace period
	if _, code := getState(t, a, id); code != http.StatusOK {
		t.Fatalf("the job was deleted under an open socket on another replica (GET %d)", code)
	}
	w2.closeNormally()
	eventually(t, 5*time.Second, "job deleted after the last socket closed", func() bool {
		_, code := getState(t, a, id)
		return code == http.StatusNotFound
	})
	nothingStored(t, b)
}

func TestReloadOnTheSameServerAndDuringProcessing(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	ctx := context.Background()

	// Leaving during processing deletes nothing.
	id := job.NewID()
	if err := b.store.Create(ctx, &job.Job{ID: id, Filename: "x.jpg"}); err != nil {
		t.Fatal(err)
	}
	w := mustDialWS(t, ts, id)
	if st, ok := w.next(5 * time.Second); !ok || st.Status != job.StatusQueued {
		t.Fatalf("queued job's socket: %+v %v", st, ok)
	}
	w.closeNormally()
	time.Sleep(800 * time.Millisecond) // past the grace period
	if _, code := getState(t, ts, id); code != 200 {
		t.Fatalf("a job was deleted while processing (GET %d)", code)
	}

	// A finished job survives a quick reload on the same server.
	done := doneJob(t, b)
	w = mustDialWS(t, ts, done)
	w.next(5 * time.Second)
	w.closeNormally()
	time.Sleep(50 * time.Millisecond)
	w = mustDialWS(t, ts, done)
	w.next(5 * time.Second)
	time.Sleep(800 * time.Millisecond)
	if _, code := getState(t, ts, done); code != 200 {
		t.Fatalf("a reload did not keep the job (GET %d)", code)
	}
	w.closeNormally()
	eventually(t, 5*time.Second, "job deleted", func() bool {
		_, code := getState(t, ts, done)
		return code == http.StatusNotFound
	})
}

func TestSocketFollowsEventsAndIgnoresStaleOnes(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	ctx := context.Background()
	id := job.NewID()
	if err := b.store.Create(ctx, &job.Job{ID: id, Filename: "x.jpg", Width: 3, Height: 2}); err != nil {
		t.Fatal(err)
	}
	w := mustDialWS(t, ts, id)
	if st, _ := w.next(5 * time.Second); st.Status != job.StatusQueued {
		t.Fatalf("first %+v", st)
	}
	pub := func(e job.Event) {
		e.JobID = id
		if err := b.hub.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	pub(job.Event{Status: job.StatusProcessing, Progress: 0.5})
	pub(job.Event{Status: job.StatusProcessing, Progress: 0.5}) // a repeat says nothing new
	pub(job.Event{Status: job.StatusQueued})                    // stale
	pub(job.Event{Status: job.StatusFailed, Error: job.Errorf(job.CodeNotAnImage, "cannot read it")})
	got := w.until(5 * time.Second)
	if len(got) != 2 || got[0].Status != job.StatusProcessing || got[0].Progress == nil || *got[0].Progress != 0.5 ||
		got[0].Width != 3 || got[1].Status != job.StatusFailed || got[1].Error.Code != job.CodeNotAnImage {
		t.Fatalf("messages %+v", got)
	}
}

func TestDeleteEndsTheJobAndItsSockets(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	id := doneJob(t, b)
	w := mustDialWS(t, ts, id)
	w.next(5 * time.Second)

	del := func() int {
		req, _ := http.NewRequest(http.MethodDelete, ts.url(StatusPath(id)), nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := del(); code != http.StatusNoContent {
		t.Fatalf("DELETE = %d", code)
	}
	if st, ok := w.next(5 * time.Second); !ok || st.Status != job.StatusFailed || st.Error.Code != job.CodeNotFound {
		t.Fatalf("socket after DELETE: %+v %v", st, ok)
	}
	if _, ok := w.next(5 * time.Second); ok {
		t.Fatal("the socket stayed open after the job was deleted")
	}
	if _, code := getState(t, ts, id); code != http.StatusNotFound {
		t.Fatalf("GET after DELETE = %d", code)
	}
	if code := del(); code != http.StatusNotFound {
		t.Fatalf("second DELETE = %d", code)
	}
	nothingStored(t, b)
}

func TestStatesAndResultsOfUnfinishedJobs(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	ctx := context.Background()
	queued := job.NewID()
	_ = b.store.Create(ctx, &job.Job{ID: queued})
	failed := job.NewID()
	_ = b.store.Create(ctx, &job.Job{ID: failed})
	_, _ = b.store.Fail(ctx, failed, job.Errorf(job.CodeNotAnImage, "the image could not be read"))

	st, _ := getState(t, ts, failed)
	if st.Status != job.StatusFailed || st.Error == nil || st.Error.Code != job.CodeNotAnImage || st.ResultURL != "" {
		t.Fatalf("failed state %+v", st)
	}
	for _, id := range []string{queued, failed} {
		res, _ := http.Get(ts.url(ResultPath(id)))
		wantError(t, res, http.StatusConflict, job.CodeConflict)
	}
	for _, path := range []string{StatusPath(job.NewID()), StatusPath("UPPER-case-id"), ResultPath(job.NewID()),
		"/api/jobs/" + job.NewID() + "/original", "/api/nothing"} {
		res, _ := http.Get(ts.url(path))
		wantError(t, res, http.StatusNotFound, job.CodeNotFound)
	}
	// Polling and sockets of an unknown job are refused before any upgrade.
	if _, res, err := dialWS(t, ts, job.NewID(), nil); err == nil || res == nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("socket on an unknown job: %v", err)
	}
	res, _ := http.Get(ts.url(WSPath(queued)))
	wantError(t, res, http.StatusBadRequest, job.CodeBadRequest)
}

func TestSyncRemove(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, pipelineQueue(t, b), nil)
	res := post(t, ts.url(routeRemove), "image", "coffee.jpg", readTestdata(t, "coffee.jpg"), map[string]string{"mask_only": "true"})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="coffee.png"` {
		t.Fatalf("POST /api/remove = %d %v %.200q", res.StatusCode, res.Header, body)
	}
	img, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok || img.Bounds() != image.Rect(0, 0, 600, 400) {
		t.Fatalf("mask is %T %v", img, img.Bounds())
	}
	eventually(t, 5*time.Second, "the synchronous job is deleted", func() bool {
		jobs, _ := b.store.ListExpired(context.Background(), time.Now().Add(time.Hour), 0)
		return len(jobs) == 0
	})
	nothingStored(t, b)

	// An image whose header is fine but whose data does not decode fails in the pipeline: a 415, not a 500.
	broken := smallPNG(t, 8, 6)
	idat := bytes.Index(broken, []byte("IDAT"))
	broken[idat+6] ^= 0xff // the chunk's checksum no longer matches
	if n := binary.BigEndian.Uint32(broken[idat-4:]); n < 3 {
		t.Fatalf("IDAT too short to corrupt: %d", n)
	}
	res = post(t, ts.url(routeRemove), "image", "broken.png", broken, nil)
	wantError(t, res, http.StatusUnsupportedMediaType, job.CodeNotAnImage)
	eventually(t, 5*time.Second, "the failed synchronous job is deleted", func() bool {
		jobs, _ := b.store.ListExpired(context.Background(), time.Now().Add(time.Hour), 0)
		return len(jobs) == 0
	})
	nothingStored(t, b)
}

package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/local"
	"github.com/backless/backless/shared/pipeline"
	"github.com/backless/backless/shared/segment"
)

// The handlers are tested over the embedded backends (the real implementations the all-in-one server uses) and,
// where a job is processed, the real pipeline with the real engine and model from `make setup`.

var (
	engineOnce sync.Once
	engine     *segment.Engine
	engineErr  error
)

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
		t.Fatalf("these tests need the model and runtime (make setup): %v", engineErr)
	}
	return engine
}

// backends are one deployment's store, blobs and hub; several servers may share them, as replicas do.
type backends struct {
	dir   string
	store *local.Store
	blobs *local.Blobs
	hub   *local.Hub
}

func newBackends(t *testing.T) *backends {
	t.Helper()
	b := &backends{dir: t.TempDir()}
	var err error
	if b.store, err = local.OpenStore(filepath.Join(b.dir, "jobs"), local.StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if b.blobs, err = local.NewBlobs(filepath.Join(b.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	b.hub = local.NewHub(0)
	return b
}

// refusingQueue is a real in-process queue whose handler fails the test: for requests that must enqueue nothing.
func refusingQueue(t *testing.T) *local.Queue {
	q := local.NewQueue(func(_ context.Context, id string) error {
		t.Errorf("job %s was enqueued", id)
		return nil
	}, local.QueueOptions{Workers: 1})
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return q
}

// pipelineQueue is the all-in-one server's queue: the real pipeline on the real engine.
func pipelineQueue(t *testing.T, b *backends) *local.Queue {
	t.Helper()
	p, err := pipeline.New(pipeline.Config{
		Store: b.store, Blobs: b.blobs, Hub: b.hub, Engine: testEngine(t),
		ResultURL: ResultPath, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	q := local.NewQueue(p.Handle, local.QueueOptions{Workers: 1})
	t.Cleanup(func() { _ = q.Close(context.Background()) })
	return q
}

type testServer struct {
	*Server
	http *httptest.Server
	b    *backends
}

func newTestServer(t *testing.T, b *backends, q job.Queue, mod func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		Store: b.store, Blobs: b.blobs, Queue: q, Hub: b.hub,
		DeleteGrace: 300 * time.Millisecond,
		Log:         zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return &testServer{Server: s, http: hs, b: b}
}

func (ts *testServer) url(path string) string { return ts.http.URL + path }

// form builds a multipart body like the frontend's buildForm.
func form(t *testing.T, field, filename string, data []byte, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if field != "" {
		fw, err := mw.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

func post(t *testing.T, url, field, filename string, data []byte, fields map[string]string) *http.Response {
	t.Helper()
	body, ct := form(t, field, filename, data, fields)
	res, err := http.Post(url, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func decodeJSON[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	defer res.Body.Close()
	var v T
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %q", res.StatusCode, err, b)
	}
	return v
}

func wantError(t *testing.T, res *http.Response, status int, code job.Code) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error answer has Content-Type %q", ct)
	}
	body := decodeJSON[errorBody](t, res)
	if res.StatusCode != status || body.Error == nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("answer %d %+v; want %d with code %s and a message", res.StatusCode, body.Error, status, code)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallPNG encodes a w×h image, for a cutout that needs no model run.
func smallPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.SetNRGBA(0, 0, color.NRGBA{A: 0})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// doneJob makes a finished job directly in the backends, the way the pipeline leaves one, without a model run.
func doneJob(t *testing.T, b *backends) string {
	t.Helper()
	ctx := context.Background()
	id := job.NewID()
	if err := b.store.Create(ctx, &job.Job{ID: id, Filename: "holiday photo.jpg", Width: 8, Height: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Claim(ctx, id); err != nil {
		t.Fatal(err)
	}
	cut := smallPNG(t, 8, 6)
	if err := b.blobs.Put(ctx, job.CutoutKey(id), bytes.NewReader(cut), int64(len(cut)), "image/png"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Complete(ctx, id, job.CutoutKey(id)); err != nil {
		t.Fatal(err)
	}
	return id
}

// nothingStored fails unless the backends hold no job and no blob.
func nothingStored(t *testing.T, b *backends) {
	t.Helper()
	jobs, err := b.store.ListExpired(context.Background(), time.Now().Add(time.Hour), 0)
	if err != nil || len(jobs) != 0 {
		t.Fatalf("%d jobs stored (%v)", len(jobs), err)
	}
	var files []string
	_ = filepath.Walk(filepath.Join(b.dir, "blobs"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("blobs stored: %v", files)
	}
}

// wsConn is a websocket client reading api.ts's JobState messages.
type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, ts *testServer, id string, header http.Header) (*wsConn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.http.URL, "http") + WSPath(id)
	c, res, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, res, err
	}
	w := &wsConn{t: t, c: c}
	t.Cleanup(func() { _ = c.Close() })
	return w, res, nil
}

func mustDialWS(t *testing.T, ts *testServer, id string) *wsConn {
	t.Helper()
	w, res, err := dialWS(t, ts, id, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial websocket: %v (HTTP %d)", err, status)
	}
	return w
}

// next reads one message; ok is false when the server closed the socket.
func (w *wsConn) next(timeout time.Duration) (state, bool) {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	var st state
	if err := w.c.ReadJSON(&st); err != nil {
		return st, false
	}
	if st.Type != "status" {
		w.t.Fatalf("message type %q", st.Type)
	}
	return st, true
}

// until reads messages up to a terminal one and returns them all.
func (w *wsConn) until(timeout time.Duration) []state {
	w.t.Helper()
	var got []state
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, ok := w.next(time.Until(deadline))
		if !ok {
			break
		}
		got = append(got, st)
		if st.Status.Terminal() {
			break
		}
	}
	return got
}

// closeNormally closes the socket the way a browser leaving the page does.
func (w *wsConn) closeNormally() {
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"),
		time.Now().Add(time.Second))
	_ = w.c.Close()
}

func getState(t *testing.T, ts *testServer, id string) (state, int) {
	t.Helper()
	res, err := http.Get(ts.url(StatusPath(id)))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return state{}, res.StatusCode
	}
	return decodeJSON[state](t, res), res.StatusCode
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

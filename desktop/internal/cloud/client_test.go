package cloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/servertest"
	"github.com/backless/backless/shared/job"
)

// These tests run against the real all-in-one server (go build ./server), started once for the package.
var server *servertest.Server

func TestMain(m *testing.M) {
	var err error
	server, err = servertest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloud tests need the real server:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := server.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "server log:\n%s\n", server.Logs())
	}
	os.Exit(code)
}

func coffee(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../shared/testdata/coffee.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recordingTransport is the real HTTP transport, with a log of the requests that went through it.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []string
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recordingTransport) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func (r *recordingTransport) jobID(t *testing.T) string {
	t.Helper()
	for _, q := range r.log() {
		if id, ok := strings.CutPrefix(q, "DELETE /api/jobs/"); ok {
			return id
		}
	}
	t.Fatalf("no DELETE among the requests %v", r.log())
	return ""
}

func newClient(t *testing.T) (*Client, *recordingTransport) {
	t.Helper()
	rt := &recordingTransport{}
	c, err := New(server.URL+"/", &http.Client{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	return c, rt
}

func TestProcessThroughTheServer(t *testing.T) {
	c, rt := newClient(t)
	var steps []float64
	var mu sync.Mutex
	res, err := c.Process(context.Background(), batch.Request{Name: "coffee.jpg", Data: coffee(t)}, func(p float64) {
		mu.Lock()
		steps = append(steps, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.PNG))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Size() != (image.Point{X: 600, Y: 400}) {
		t.Fatalf("result is %v, want 600x400", img.Bounds().Size())
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
		t.Fatalf("%d clear, %d solid pixels: not a cutout", clear, solid)
	}
	if !slices.IsSorted(steps) || len(steps) < 2 || steps[len(steps)-1] != progressProcessed {
		t.Fatalf("progress %v: want it rising to %v", steps, progressProcessed)
	}

	// The client followed the contract: upload, socket (a GET upgrade), result, and the job deleted afterwards.
	id := rt.jobID(t)
	log := rt.log()
	for _, want := range []string{"POST /api/jobs", "GET /api/jobs/" + id + "/result", "DELETE /api/jobs/" + id} {
		if !slices.Contains(log, want) {
			t.Fatalf("requests %v lack %q", log, want)
		}
	}
	if _, err := c.Job(context.Background(), id); !job.IsNotFound(err) {
		t.Fatalf("job after Process: %v, want not_found (deleted)", err)
	}
}

func TestServerErrorsKeepTheirCodes(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.Create(context.Background(), "notes.jpg", []byte("not a photo at all"), batch.Options{}, nil)
	var je *job.Error
	if !errors.As(err, &je) || je.Code != job.CodeNotAnImage || je.Message == "" {
		t.Fatalf("Create(non-image) = %v, want the server's not_an_image", err)
	}
	if batch.Classify(err).Code != job.CodeNotAnImage {
		t.Fatalf("Classify lost the code: %+v", batch.Classify(err))
	}
	if _, err := c.Job(context.Background(), "aaaaaaaaaaaaaaaaaaaaaaaaaa"); !job.IsNotFound(err) {
		t.Fatalf("unknown job: %v, want not_found", err)
	}
	if err := c.Delete(context.Background(), "aaaaaaaaaaaaaaaaaaaaaaaaaa"); err != nil {
		t.Fatalf("deleting a job that is gone: %v, want no error", err)
	}
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// Nothing listens here: a network error the page has words for.
	l, _ := New("http://127.0.0.1:1", nil)
	if err := l.Check(context.Background()); !job.IsCode(err, CodeNetwork) {
		t.Fatalf("unreachable server: %v, want %s", err, CodeNetwork)
	}
}

func TestCancelDeletesTheJob(t *testing.T) {
	c, rt := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := c.Process(ctx, batch.Request{Name: "coffee.jpg", Data: coffee(t)}, func(p float64) {
		if p >= progressQueued {
			cancel() // as soon as the server has the job
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	id := rt.jobID(t)
	if _, err := c.Job(context.Background(), id); !job.IsNotFound(err) {
		t.Fatalf("cancelled job on the server: %v, want not_found", err)
	}
}

func TestWaitFallsBackToAsking(t *testing.T) {
	c, _ := newClient(t)
	created, err := c.Create(context.Background(), "coffee.jpg", coffee(t), batch.Options{MaskOnly: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Delete(context.Background(), created.ID)
	// A socket address where no socket is: every dial fails, so the state can only come from GET /api/jobs/{id}.
	var seen []job.Status
	final, err := c.Wait(context.Background(), created.ID, "/ws/nowhere/"+created.ID, func(s JobState) {
		seen = append(seen, s.Status)
	})
	if err != nil {
		t.Fatal(err)
	}
	if final.Status != job.StatusDone || len(seen) == 0 || seen[len(seen)-1] != job.StatusDone {
		t.Fatalf("final %+v after %v, want done", final, seen)
	}
	b, err := c.Result(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("mask-only result is %T, want grey", img)
	}
}

func TestSocketURL(t *testing.T) {
	c, err := New("https://backless.example.test/sub/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{
		"":                   "wss://backless.example.test/sub/ws/jobs/abc",
		"/ws/jobs/abc":       "wss://backless.example.test/sub/ws/jobs/abc",
		"wss://other/ws/x":   "wss://other/ws/x",
		"http://other/ws/x":  "ws://other/ws/x",
		"https://other/ws/x": "wss://other/ws/x",
	} {
		got, err := c.socketURL("abc", ref)
		if err != nil || got != want {
			t.Errorf("socketURL(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	for _, bad := range []string{"", "backless.example.test", "ftp://x", "https://"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
}

package cloudtasks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

// delivery is what the test's worker endpoint saw of one task.
type delivery struct {
	method, path string
	header       http.Header
	body         []byte
}

// worker is an httptest server on 127.0.0.1 standing in for the worker endpoint. It answers the first failFirst
// deliveries with 503, then 200, like a worker with a transient failure.
func worker(t *testing.T, failFirst int32) (*httptest.Server, <-chan delivery) {
	t.Helper()
	got := make(chan delivery, 16)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}
		if n.Add(1) <= failFirst {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func testConfig(t *testing.T, target string) Config {
	t.Helper()
	host := os.Getenv("BACKLESS_TEST_CLOUD_TASKS_EMULATOR_HOST")
	if host == "" {
		t.Skip(`BACKLESS_TEST_CLOUD_TASKS_EMULATOR_HOST is unset; start the emulator with: . "$(build/services/start.sh tasks)"`)
	}
	return Config{
		Project:      os.Getenv("BACKLESS_TEST_PROJECT_NAME"),
		Region:       os.Getenv("BACKLESS_TEST_QUEUE_REGION"),
		QueueID:      os.Getenv("BACKLESS_TEST_QUEUE_ID"),
		EmulatorHost: host,
		TargetURL:    job.TaskURL(target),
		Secret:       "s3cr3t-" + job.NewID(),
	}
}

func newQueue(t *testing.T, cfg Config) *Queue {
	t.Helper()
	q, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func receive(t *testing.T, got <-chan delivery) delivery {
	t.Helper()
	select {
	case d := <-got:
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("the emulator delivered no task within 20s")
	}
	return delivery{}
}

func TestEnqueueDeliversJobIDAndSecret(t *testing.T) {
	srv, got := worker(t, 0)
	cfg := testConfig(t, srv.URL)
	q := newQueue(t, cfg)
	id := job.NewID()
	if err := q.Enqueue(context.Background(), id); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	d := receive(t, got)
	if d.method != http.MethodPost || d.path != job.TaskPath {
		t.Fatalf("delivered %s %s, want POST %s", d.method, d.path, job.TaskPath)
	}
	if gotID, err := job.ParseTaskBody(d.body); err != nil || gotID != id {
		t.Fatalf("body %q parses to %q, %v; want %s", d.body, gotID, err, id)
	}
	if string(d.body) != `{"job_id":"`+id+`"}` {
		t.Fatalf("body = %s", d.body)
	}
	if s := d.header.Get(job.TaskSecretHeader); s != cfg.Secret {
		t.Fatalf("secret header = %q, want %q", s, cfg.Secret)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if qn := d.header.Get("X-CloudTasks-QueueName"); qn != cfg.QueueID {
		t.Fatalf("X-CloudTasks-QueueName = %q, want %q", qn, cfg.QueueID)
	}
	if a := d.header.Get("Authorization"); a != "" {
		t.Fatalf("unexpected Authorization header without OIDC: %q", a)
	}
}

func TestTransientFailureIsRetried(t *testing.T) {
	srv, got := worker(t, 2)
	q := newQueue(t, testConfig(t, srv.URL))
	id := job.NewID()
	if err := q.Enqueue(context.Background(), id); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	// Two 503s, then success: the same task arrives three times, counted by the queue's retry header.
	for attempt := range 3 {
		d := receive(t, got)
		if gotID, _ := job.ParseTaskBody(d.body); gotID != id {
			t.Fatalf("attempt %d carried %q", attempt, d.body)
		}
		if rc := d.header.Get("X-CloudTasks-TaskRetryCount"); rc != string(rune('0'+attempt)) {
			t.Fatalf("attempt %d has retry count %q", attempt, rc)
		}
	}
	select {
	case d := <-got:
		t.Fatalf("delivered again after a 200: %s", d.body)
	case <-time.After(500 * time.Millisecond):
	}
}

func TestOIDCTokenAttached(t *testing.T) {
	srv, got := worker(t, 0)
	cfg := testConfig(t, srv.URL)
	cfg.OIDCServiceAccount = "tasks@backless-test.iam.gserviceaccount.com"
	cfg.OIDCAudience = "https://worker.backless.example"
	q := newQueue(t, cfg)
	if err := q.Enqueue(context.Background(), job.NewID()); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	d := receive(t, got)
	token, ok := strings.CutPrefix(d.header.Get("Authorization"), "Bearer ")
	parts := strings.Split(token, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("Authorization = %q, want a bearer JWT", d.header.Get("Authorization"))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Aud   string `json:"aud"`
		Email string `json:"email"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Aud != cfg.OIDCAudience || claims.Email != cfg.OIDCServiceAccount {
		t.Fatalf("token claims = %+v", claims)
	}
	if d.header.Get(job.TaskSecretHeader) != cfg.Secret {
		t.Fatal("the secret header is missing next to the token")
	}
}

func TestConfigAndErrors(t *testing.T) {
	srv, _ := worker(t, 0)
	base := testConfig(t, srv.URL)
	ctx := context.Background()
	for name, mutate := range map[string]func(*Config){
		"no project":        func(c *Config) { c.Project = "" },
		"relative URL":      func(c *Config) { c.TargetURL = "/_tasks/remove-background/" },
		"no authentication": func(c *Config) { c.Secret = "" },
		"deadline too long": func(c *Config) { c.DispatchDeadline = time.Hour },
	} {
		c := base
		mutate(&c)
		if _, err := New(ctx, c); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	// A queue the emulator does not have: an error, not a hang or a silent success.
	c := base
	c.QueueID = "no-such-queue"
	q := newQueue(t, c)
	if err := q.Enqueue(ctx, job.NewID()); err == nil {
		t.Fatal("Enqueue to a missing queue succeeded")
	}
	// Nothing listening: unavailable, within the timeout.
	c = base
	c.EmulatorHost = "127.0.0.1:1"
	c.Timeout = 2 * time.Second
	q = newQueue(t, c)
	if err := q.Enqueue(ctx, job.NewID()); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Enqueue to a closed port: %v, want unavailable", err)
	}
}

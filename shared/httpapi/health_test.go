package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadyzReportsEachBackend(t *testing.T) {
	down := errors.New("connection refused")
	var fail bool
	ts := newTestServer(t, newBackends(t), refusingQueue(t), func(c *Config) {
		c.Checks = []Check{
			{Name: "postgres", Check: func(context.Context) error { return nil }},
			{Name: "redis", Check: func(context.Context) error {
				if fail {
					return down
				}
				return nil
			}},
		}
	})
	type ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	res := do(t, http.MethodGet, ts.url("/readyz"), nil)
	r := decodeJSON[ready](t, res)
	if res.StatusCode != 200 || r.Status != "ok" || r.Checks["redis"] != "ok" || r.Checks["postgres"] != "ok" {
		t.Fatalf("ready: %d %+v", res.StatusCode, r)
	}
	fail = true
	res = do(t, http.MethodGet, ts.url("/readyz"), nil)
	r = decodeJSON[ready](t, res)
	if res.StatusCode != 503 || r.Status != "unavailable" || r.Checks["redis"] != down.Error() || r.Checks["postgres"] != "ok" {
		t.Fatalf("not ready: %d %+v", res.StatusCode, r)
	}
	// Liveness does not depend on the backends.
	if res := do(t, http.MethodGet, ts.url("/healthz"), nil); res.StatusCode != 200 {
		t.Fatalf("healthz = %d", res.StatusCode)
	}
}

func TestMetricsExposeRequestsAndJobs(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	id := doneJob(t, b)
	getState(t, ts, id)
	res := do(t, http.MethodGet, ts.url("/metrics"), nil)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`backless_http_requests_total{code="200",method="GET",route="/api/jobs/{id}"} 1`,
		`backless_http_request_duration_seconds_count{route="/api/jobs/{id}"} 1`,
		"backless_websockets_open 0",
		"go_goroutines",
		"process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

func do(t *testing.T, method, url string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestMethodsAndUnknownRoutesAnswerJSON(t *testing.T) {
	ts := newTestServer(t, newBackends(t), refusingQueue(t), nil)
	res := do(t, http.MethodPut, ts.url(routeJobs), nil)
	if allow := res.Header.Get("Allow"); allow != http.MethodPost {
		t.Errorf("Allow = %q", allow)
	}
	wantError(t, res, http.StatusMethodNotAllowed, job.CodeMethodNotAllowed)
	wantError(t, do(t, http.MethodPost, ts.url(StatusPath(job.NewID())), nil), http.StatusMethodNotAllowed, job.CodeMethodNotAllowed)
	wantError(t, do(t, http.MethodGet, ts.url("/api/"), nil), http.StatusNotFound, job.CodeNotFound)
	wantError(t, do(t, http.MethodGet, ts.url("/ws/other"), nil), http.StatusNotFound, job.CodeNotFound)
	// HEAD is served wherever GET is.
	res = do(t, http.MethodHead, ts.url("/healthz"), nil)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("HEAD /healthz = %d", res.StatusCode)
	}
}

func TestRequestIDs(t *testing.T) {
	ts := newTestServer(t, newBackends(t), refusingQueue(t), nil)
	res := do(t, http.MethodGet, ts.url("/healthz"), http.Header{RequestIDHeader: {"abc-123"}})
	res.Body.Close()
	if got := res.Header.Get(RequestIDHeader); got != "abc-123" {
		t.Errorf("request id %q; want the client's", got)
	}
	res = do(t, http.MethodGet, ts.url("/healthz"), http.Header{RequestIDHeader: {"<script>"}})
	res.Body.Close()
	if got := res.Header.Get(RequestIDHeader); len(got) != 16 || strings.Contains(got, "<") {
		t.Errorf("request id %q; want a new one instead of a malformed one", got)
	}
}

func TestOriginPolicy(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), func(c *Config) {
		c.TrustedOrigins = []string{"wails://wails", "http://127.0.0.1:5173"}
	})
	id := doneJob(t, b)

	// Another site may not act on a job, even knowing its id.
	res := do(t, http.MethodDelete, ts.url(StatusPath(id)), http.Header{"Origin": {"https://evil.example"}})
	wantError(t, res, http.StatusForbidden, job.CodeForbidden)
	if _, res, err := dialWS(t, ts, id, http.Header{"Origin": {"https://evil.example"}}); err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("socket from another site: %v", err)
	}
	if _, code := getState(t, ts, id); code != 200 {
		t.Fatal("the refused request changed something")
	}

	// The page's own origin may.
	if w, _, err := dialWS(t, ts, id, http.Header{"Origin": {ts.http.URL}}); err != nil {
		t.Fatalf("same-origin socket refused: %v", err)
	} else {
		w.next(5 * time.Second)
	}

	// A trusted origin gets CORS headers, and its preflight is answered.
	res = do(t, http.MethodOptions, ts.url(routeJobs), http.Header{"Origin": {"wails://wails"},
		"Access-Control-Request-Method": {"POST"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "wails://wails" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	res = do(t, http.MethodOptions, ts.url(routeJobs), http.Header{"Origin": {"https://evil.example"},
		"Access-Control-Request-Method": {"POST"}})
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("an untrusted origin got CORS headers")
	}
	wantError(t, res, http.StatusForbidden, job.CodeForbidden)
	res = do(t, http.MethodDelete, ts.url(StatusPath(id)), http.Header{"Origin": {"http://127.0.0.1:5173"}})
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:5173" {
		t.Fatalf("DELETE from a trusted origin: %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Referrer-Policy") != "same-origin" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("security headers missing: %v", res.Header)
	}
}

func TestAllowedHosts(t *testing.T) {
	ts := newTestServer(t, newBackends(t), refusingQueue(t), func(c *Config) {
		c.AllowedHosts = []string{"backless.example", ".run.app", "127.0.0.1"}
	})
	for host, want := range map[string]int{
		// Allowed hosts reach the routes (no app is served here, hence 404).
		"backless.example":         404,
		"svc-abc.a.run.app":        404,
		"run.app":                  404,
		"127.0.0.1:8080":           404,
		"evil.example":             400,
		"backless.example.evil.io": 400,
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.url("/"), nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, res.StatusCode, want)
		}
	}
	// Health checks come from the platform, whatever Host it uses.
	req, _ := http.NewRequest(http.MethodGet, ts.url("/healthz"), nil)
	req.Host = "10.0.0.7:8080"
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz with another Host: %v %v", res, err)
	}
	res.Body.Close()
	// A page on an allowed host may post from there.
	op, _ := newOriginPolicy([]string{"backless.example"}, nil)
	r := httptest.NewRequest(http.MethodPost, "http://backless.example/api/jobs", nil)
	r.Header.Set("Origin", "https://backless.example")
	if !op.originAllowed(r) {
		t.Fatal("an origin on an allowed host is refused")
	}
	r.Header.Set("Origin", "null")
	if op.originAllowed(r) {
		t.Fatal("an opaque origin is allowed")
	}
}

func TestRecovererAnswers500(t *testing.T) {
	h := chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
		zerolog.New(io.Discard), NewMetrics(), originPolicy{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), `"code":"internal"`) || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("panic answered %d %q", rec.Code, rec.Body.String())
	}
}

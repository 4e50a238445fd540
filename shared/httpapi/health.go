package httpapi

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// checkTimeout bounds each readiness check; a backend slower than this is as good as down for a probe.
const checkTimeout = 3 * time.Second

// healthz is GET /healthz: the process is alive and serving. It checks no backend, so that a database outage does
// not make the platform restart every replica.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is GET /readyz: every backend answers. 503 with the failing checks otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	status, body := runChecks(r.Context(), s.cfg.Checks)
	writeJSON(w, status, body)
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// runChecks runs the checks at once and reports each as "ok" or its error.
func runChecks(ctx context.Context, checks []Check) (int, readiness) {
	body := readiness{Status: "ok", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			res := "ok"
			if err := c.Check(cctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			body.Checks[c.Name] = res
			if res != "ok" {
				body.Status = "unavailable"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if body.Status != "ok" {
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}

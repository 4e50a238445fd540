// Package httpapi is Backless's HTTP surface: the server's job API, synchronous removal, websockets, the frontend,
// health and metrics (Server), and the worker's task endpoint (TaskHandler). Errors travel as
// {"error":{"code","message"}} with the status job.HTTPStatus gives their code, the one table of that mapping.
package httpapi

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/pipeline"
)

// Check is one readiness check: a backend answering.
type Check struct {
	Name  string
	Check func(context.Context) error
}

// Config holds the parts and settings of a Server.
type Config struct {
	Store job.Store
	Blobs job.Blobs
	Queue job.Queue
	Hub   job.Hub
	// Limits bound uploads (bytes, pixels); zero fields mean imageio's defaults.
	Limits imageio.Limits
	// DeleteGrace is how long a finished job is kept after its last socket closed, for a reload (default 30 s).
	DeleteGrace time.Duration
	// SyncTimeout bounds how long POST /api/remove waits for its result (default 5 minutes).
	SyncTimeout time.Duration
	// AllowedHosts are the host names the server answers to ("" or empty: any); ".example.com" matches
	// subdomains. Browser origins on these hosts may post and open sockets too.
	AllowedHosts []string
	// TrustedOrigins are other sites' origins allowed to use the API from a browser (CORS) and open sockets.
	TrustedOrigins []string
	// Frontend is the web app's files (frontend.FS()); nil serves no app.
	Frontend fs.FS
	// Checks are run by /readyz.
	Checks  []Check
	Log     zerolog.Logger
	Metrics *Metrics
	// Purger deletes jobs; nil builds one on Store, Blobs and Hub.
	Purger *pipeline.Purger
}

// Server is the HTTP server's handler and the state of its websockets.
type Server struct {
	cfg     Config
	purger  *pipeline.Purger
	reaper  *reaper
	origins originPolicy
	handler http.Handler

	// base is the context of every websocket and deferred deletion; Close cancels it.
	base    context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex // guards closing, so no socket is added to the group Close waits for once it waits
	closing bool
	sockets sync.WaitGroup
}

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Blobs == nil || cfg.Queue == nil || cfg.Hub == nil {
		return nil, errors.New("httpapi: Store, Blobs, Queue and Hub are required")
	}
	def := imageio.DefaultLimits()
	if cfg.Limits.MaxBytes <= 0 {
		cfg.Limits.MaxBytes = def.MaxBytes
	}
	if cfg.Limits.MaxPixels <= 0 {
		cfg.Limits.MaxPixels = def.MaxPixels
	}
	if cfg.DeleteGrace <= 0 {
		cfg.DeleteGrace = 30 * time.Second
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = 5 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Purger == nil {
		cfg.Purger = &pipeline.Purger{Store: cfg.Store, Blobs: cfg.Blobs, Hub: cfg.Hub, Log: cfg.Log,
			OnPurge: cfg.Metrics.Deleted}
	}
	origins, err := newOriginPolicy(cfg.AllowedHosts, cfg.TrustedOrigins)
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, purger: cfg.Purger, origins: origins, base: base, cancel: cancel}
	s.reaper = newReaper(base, cfg.Hub, cfg.Store, cfg.Purger, cfg.DeleteGrace, cfg.Log)
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.handler }

// Close ends the websockets (they tell their clients the server is going away, and the clients reconnect to another
// replica) and the pending deletions; jobs whose deletion was pending are left to the sweeper's TTL. Call it after
// http.Server.Shutdown, which does not wait for hijacked connections.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.sockets.Wait()
		s.reaper.wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/jobs", methods{http.MethodPost: s.createJob})
	mux.Handle("/api/jobs/{id}", methods{http.MethodGet: s.getJob, http.MethodDelete: s.deleteJob})
	mux.Handle("/api/jobs/{id}/result", methods{http.MethodGet: s.getResult})
	mux.Handle("/api/remove", methods{http.MethodPost: s.removeSync})
	mux.Handle("/ws/jobs/{id}", methods{http.MethodGet: s.serveWS})
	mux.Handle("/api/", http.HandlerFunc(notFound))
	mux.Handle("/ws/", http.HandlerFunc(notFound))
	mux.Handle("/healthz", methods{http.MethodGet: healthz})
	mux.Handle("/readyz", methods{http.MethodGet: s.readyz})
	mux.Handle("/metrics", methods{http.MethodGet: s.cfg.Metrics.Handler().ServeHTTP})
	if s.cfg.Frontend != nil {
		mux.Handle("/", newStatic(s.cfg.Frontend))
	} else {
		mux.Handle("/", http.HandlerFunc(notFound))
	}
	return chain(mux, s.cfg.Log, s.cfg.Metrics, s.origins)
}

// methods routes by method and answers others with a JSON 405 (the standard mux's own answer is plain text).
// GET also serves HEAD.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if h, ok := m[method]; ok {
		h(w, r)
		return
	}
	if r.Method == http.MethodOptions {
		// A CORS preflight the origin middleware did not answer: the origin is not trusted.
		writeError(w, r, job.Errorf(job.CodeForbidden, "cross-origin requests from this origin are not allowed"))
		return
	}
	allowed := make([]string, 0, len(m)+1)
	for k := range m {
		allowed = append(allowed, k)
		if k == http.MethodGet {
			allowed = append(allowed, http.MethodHead)
		}
	}
	sort.Strings(allowed)
	allow := strings.Join(allowed, ", ")
	w.Header().Set("Allow", allow)
	writeError(w, r, job.Errorf(job.CodeMethodNotAllowed, "%s is not allowed here", r.Method))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, job.Errorf(job.CodeNotFound, "no such endpoint"))
}

// socketStarted counts a websocket for Close to wait for, unless the server is closing.
func (s *Server) socketStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sockets.Add(1)
	return true
}

// jobID reads and checks the {id} of the path; a malformed id is not found, and never reaches a backend.
func jobID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !job.ValidID(id) {
		return "", job.NotFound("job")
	}
	logWith(r, "job_id", id)
	return id, nil
}

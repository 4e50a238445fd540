package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/felixge/httpsnoop"
	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

// RequestIDHeader carries the request id: taken from the client (or a proxy) when it looks sane, made up otherwise,
// and sent back, so a user's report can be matched with the logs.
const RequestIDHeader = "X-Request-Id"

// chain wraps the routes in what every request goes through: request id and access log, panic recovery, the host
// check, and the origin policy.
func chain(next http.Handler, log zerolog.Logger, m *Metrics, op originPolicy) http.Handler {
	inner := recoverer(op.middleware(next))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		l := log.With().Str("request_id", id).Logger()
		r = r.WithContext(l.WithContext(r.Context()))
		snoop := httpsnoop.CaptureMetrics(inner, w, r)
		// The mux records the matched pattern on the request it was given (this r), which labels the metrics
		// without the ids that would make every path a label of its own.
		route := r.Pattern
		if route == "" {
			route = "other"
		}
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		m.request(route, r.Method, snoop.Code, snoop.Duration, upgrade)
		lvl := zerolog.InfoLevel
		switch {
		case snoop.Code >= 500:
			lvl = zerolog.ErrorLevel
		case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" ||
			strings.HasPrefix(r.URL.Path, "/assets/"):
			lvl = zerolog.DebugLevel
		}
		zerolog.Ctx(r.Context()).WithLevel(lvl).Str("method", r.Method).Str("path", r.URL.Path).
			Str("route", route).Int("status", snoop.Code).Int64("bytes", snoop.Written).
			Dur("duration_ms", snoop.Duration).Str("remote", r.RemoteAddr).Msg("request")
	})
}

// logWith adds a field to the request's logger, so the access log and every later line carry it (the job id).
func logWith(r *http.Request, key, value string) {
	zerolog.Ctx(r.Context()).UpdateContext(func(c zerolog.Context) zerolog.Context { return c.Str(key, value) })
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recoverer turns a panic in a handler into a logged 500, so one bad request cannot take the process down.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			zerolog.Ctx(r.Context()).Error().Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("handler panicked")
			writeError(w, r, job.Errorf(job.CodeInternal, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// originPolicy decides which hosts the server answers to and which browser origins may act on it.
type originPolicy struct {
	hosts   []string        // lower-case host names; ".example.com" matches subdomains; empty: any host
	trusted map[string]bool // normalised origins of other sites (CSRF_TRUSTED_ORIGINS)
}

func newOriginPolicy(hosts, trusted []string) (originPolicy, error) {
	p := originPolicy{trusted: map[string]bool{}}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "*" {
			p.hosts = nil
			break
		}
		if h != "" {
			p.hosts = append(p.hosts, h)
		}
	}
	for _, o := range trusted {
		n, ok := normalizeOrigin(o)
		if !ok {
			return p, fmt.Errorf("httpapi: trusted origin %q is not like https://example.com", o)
		}
		p.trusted[n] = true
	}
	return p, nil
}

func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

// hostAllowed checks a Host header (or an origin's host) against the allowed host names.
func (p originPolicy) hostAllowed(hostport string) bool {
	if len(p.hosts) == 0 {
		return true
	}
	return p.matchHost(hostport)
}

func (p originPolicy) matchHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	for _, a := range p.hosts {
		a = strings.Trim(a, "[]")
		if host == a || strings.HasPrefix(a, ".") && (host == a[1:] || strings.HasSuffix(host, a)) {
			return true
		}
	}
	return false
}

// originAllowed reports whether a browser request may act: no Origin header (not a browser, or a same-origin GET),
// the server's own origin, a trusted origin, or an origin on one of the allowed hosts. A wildcard ALLOWED_HOSTS
// does not open the API to every site.
func (p originPolicy) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	n, ok := normalizeOrigin(o)
	if !ok {
		return false
	}
	if p.trusted[n] {
		return true
	}
	u, _ := url.Parse(n)
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return len(p.hosts) > 0 && p.matchHost(u.Host)
}

func (p originPolicy) isTrusted(origin string) bool {
	n, ok := normalizeOrigin(origin)
	return ok && p.trusted[n]
}

// middleware applies the host check, CORS for trusted origins, the origin check of state-changing requests, and
// the headers every answer carries.
func (p originPolicy) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// A job's page address holds its id, which is the key to it: never send it to another site.
		h.Set("Referrer-Policy", "same-origin")
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !p.hostAllowed(r.Host) {
			writeError(w, r, job.Errorf(job.CodeBadRequest, "this server does not answer to host %q", r.Host))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && p.isTrusted(origin) && !strings.HasPrefix(r.URL.Path, "/ws/") {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Content-Disposition, Location, "+RequestIDHeader)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, "+RequestIDHeader)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if !p.originAllowed(r) {
				writeError(w, r, job.Errorf(job.CodeForbidden, "requests from origin %q are not allowed", r.Header.Get("Origin")))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

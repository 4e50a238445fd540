package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

// The routes of the job API. The frontend's src/lib/api.ts holds the same paths; the two must agree.
const (
	routeJobs   = "/api/jobs"
	routeRemove = "/api/remove"
	prefixJobs  = "/api/jobs/"
	prefixWS    = "/ws/jobs/"
)

// StatusPath is where a job's state is polled: GET /api/jobs/{id}.
func StatusPath(id string) string { return prefixJobs + url.PathEscape(id) }

// ResultPath is where a job's result is downloaded: GET /api/jobs/{id}/result. The pipeline publishes it with done.
func ResultPath(id string) string { return prefixJobs + url.PathEscape(id) + "/result" }

// WSPath is the websocket of a job: GET /ws/jobs/{id}.
func WSPath(id string) string { return prefixWS + url.PathEscape(id) }

// state is a job's state as GET /api/jobs/{id} and every websocket message carry it (api.ts's JobState). Events
// say only what changed, so the socket merges them into the state it last sent.
type state struct {
	Type      string     `json:"type"` // always "status"
	ID        string     `json:"id"`
	Status    job.Status `json:"status"`
	Filename  string     `json:"filename,omitempty"`
	Width     int        `json:"width,omitempty"`
	Height    int        `json:"height,omitempty"`
	ResultURL string     `json:"result_url,omitempty"`
	Error     *job.Error `json:"error,omitempty"`
	Progress  *float64   `json:"progress,omitempty"`
}

func stateOf(j *job.Job) state {
	s := state{Type: "status", ID: j.ID, Status: j.Status, Filename: j.Filename, Width: j.Width, Height: j.Height}
	if j.Status == job.StatusDone {
		s.ResultURL = ResultPath(j.ID)
	}
	if j.Error != nil {
		s.Error = &job.Error{Code: j.Error.Code, Message: j.Error.Message}
	}
	return s
}

// with applies an event to the state. The result URL is always the server's own route: the event's may come from a
// worker that does not know how this server is reached.
func (s state) with(e job.Event) state {
	s.Status = e.Status
	s.Progress = nil
	if e.Progress > 0 && e.Status == job.StatusProcessing {
		p := e.Progress
		s.Progress = &p
	}
	s.ResultURL = ""
	if e.Status == job.StatusDone {
		s.ResultURL = ResultPath(s.ID)
	}
	s.Error = nil
	if e.Error != nil {
		s.Error = &job.Error{Code: e.Error.Code, Message: e.Error.Message}
	}
	return s
}

// rank orders the states: a job never goes back, so an event of a lower rank than what was sent is stale.
func rank(s job.Status) int {
	switch s {
	case job.StatusQueued:
		return 0
	case job.StatusProcessing:
		return 1
	}
	return 2
}

// created is the answer to POST /api/jobs (api.ts's CreatedJob).
type created struct {
	ID        string     `json:"id"`
	Status    job.Status `json:"status"`
	Filename  string     `json:"filename"`
	StatusURL string     `json:"status_url"`
	WSURL     string     `json:"ws_url"`
	ResultURL string     `json:"result_url"`
}

type errorBody struct {
	Error *job.Error `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client going away is the only failure, and nothing can be done then
}

// writeError answers {"error":{"code","message"}} with the status job.HTTPStatus gives the code. Only the public part
// of err is sent; server errors are logged with their cause.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	pub := job.Public(err)
	status := job.HTTPStatus(pub.Code)
	log := zerolog.Ctx(r.Context())
	if status >= 500 {
		log.Error().Err(err).Int("status", status).Msg("request failed")
	} else {
		log.Debug().Err(err).Int("status", status).Msg("request refused")
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, errorBody{Error: pub})
}

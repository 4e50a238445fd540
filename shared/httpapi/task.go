package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/pipeline"
)

// Processor processes one delivery of a job: *pipeline.Pipeline.
type Processor interface {
	Process(ctx context.Context, id string) (pipeline.Outcome, error)
}

// TokenVerifier checks the OIDC token a task carries: *oidc.Verifier. Its errors carry a job.Code.
type TokenVerifier interface {
	Verify(ctx context.Context, r *http.Request) error
}

// TaskConfig holds the parts of the worker's HTTP side.
type TaskConfig struct {
	// Secret must arrive in the job.TaskSecretHeader header of every task.
	Secret string
	// Token, when set, must also accept each task's OIDC token (Google Cloud Tasks with an oidc_token).
	Token     TokenVerifier
	Processor Processor
	// Concurrency bounds the jobs processed at once (default 2); further deliveries wait for a slot.
	Concurrency int
	// Stop, when done, cuts short the processing in hand (the end of the shutdown's grace period): the job is
	// released and the delivery answered 503, so the queue gives it to another worker.
	Stop    context.Context
	Checks  []Check
	Log     zerolog.Logger
	Metrics *Metrics
}

// NewTaskHandler returns the worker's HTTP surface: POST /_tasks/remove-background/ (job.TaskPath), which Cloud
// Tasks calls with a job id, and GET /healthz, /readyz, /metrics.
func NewTaskHandler(cfg TaskConfig) (http.Handler, error) {
	if cfg.Secret == "" || cfg.Processor == nil {
		return nil, errors.New("httpapi: a task handler needs a Secret and a Processor")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.Stop == nil {
		cfg.Stop = context.Background()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	t := &tasks{cfg: cfg, slots: make(chan struct{}, cfg.Concurrency)}
	mux := http.NewServeMux()
	mux.Handle(job.TaskPath, methods{http.MethodPost: t.serve})
	mux.Handle("/healthz", methods{http.MethodGet: healthz})
	mux.Handle("/readyz", methods{http.MethodGet: func(w http.ResponseWriter, r *http.Request) {
		status, body := runChecks(r.Context(), cfg.Checks)
		writeJSON(w, status, body)
	}})
	mux.Handle("/metrics", methods{http.MethodGet: cfg.Metrics.Handler().ServeHTTP})
	mux.Handle("/", http.HandlerFunc(notFound))
	// No browser ever calls the worker: no origin policy beyond the defaults.
	op, _ := newOriginPolicy(nil, nil)
	return chain(mux, cfg.Log, cfg.Metrics, op), nil
}

type tasks struct {
	cfg   TaskConfig
	slots chan struct{}
}

// taskAnswer is the body of the worker's answer, for the queue's logs.
type taskAnswer struct {
	JobID   string `json:"job_id"`
	Outcome string `json:"outcome"`
}

// serve handles one task. Final outcomes (done, failed, duplicate, gone) answer 200 so the queue forgets the task;
// busy and transient ones answer 503 so it retries with back-off.
func (t *tasks) serve(w http.ResponseWriter, r *http.Request) {
	code := t.handle(w, r)
	t.cfg.Metrics.task(code)
}

func (t *tasks) handle(w http.ResponseWriter, r *http.Request) int {
	got := r.Header.Get(job.TaskSecretHeader)
	if got == "" {
		writeError(w, r, job.Errorf(job.CodeUnauthorized, "tasks must carry the %s header", job.TaskSecretHeader))
		return http.StatusUnauthorized
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(t.cfg.Secret)) != 1 {
		writeError(w, r, job.Errorf(job.CodeForbidden, "wrong task secret"))
		return http.StatusForbidden
	}
	if t.cfg.Token != nil {
		if err := t.cfg.Token.Verify(r.Context(), r); err != nil {
			writeError(w, r, err)
			return job.HTTPStatus(job.ErrorCode(err))
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		writeError(w, r, job.Wrap(job.CodeBadRequest, err, "the task body cannot be read"))
		return http.StatusBadRequest
	}
	id, err := job.ParseTaskBody(body)
	if err != nil {
		writeError(w, r, err)
		return job.HTTPStatus(job.ErrorCode(err))
	}
	logWith(r, "job_id", id)
	log := zerolog.Ctx(r.Context())
	if n := r.Header.Get("X-CloudTasks-TaskRetryCount"); n != "" {
		log.UpdateContext(func(c zerolog.Context) zerolog.Context {
			return c.Str("task", r.Header.Get("X-CloudTasks-TaskName")).Str("retry", n)
		})
	}

	// The job runs until it ends, the queue gives up on the request, or the shutdown's grace period is over.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(t.cfg.Stop, cancel)
	defer stop()

	select {
	case t.slots <- struct{}{}:
	case <-ctx.Done():
		writeError(w, r, job.Errorf(job.CodeUnavailable, "the worker is shutting down"))
		return http.StatusServiceUnavailable
	}
	t.cfg.Metrics.JobStarted()
	out, err := t.cfg.Processor.Process(ctx, id)
	t.cfg.Metrics.JobEnded()
	<-t.slots

	if !out.Final() {
		if err == nil {
			err = errors.New(out.String())
		}
		w.Header().Set("Retry-After", strconv.Itoa(5))
		writeError(w, r, job.Wrap(job.CodeUnavailable, err, "the job could not be processed now ("+out.String()+"); retry later"))
		return http.StatusServiceUnavailable
	}
	writeJSON(w, http.StatusOK, taskAnswer{JobID: id, Outcome: out.String()})
	return http.StatusOK
}

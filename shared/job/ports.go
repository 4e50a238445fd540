package job

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// Store keeps job rows. Every method returns a NotFound *Error for an unknown id, and a conflict *Error when the job
// exists but is not in a state that allows the transition, so callers can tell "gone" from "someone else has it".
type Store interface {
	// Create inserts j, which must have an ID and status queued; CreatedAt/UpdatedAt are set by the store.
	// An existing id is a conflict.
	Create(ctx context.Context, j *Job) error
	Get(ctx context.Context, id string) (*Job, error)
	// Claim atomically moves a queued job to processing for the store's lease and counts an attempt. A job still
	// processing whose lease has lapsed (its worker died) can be claimed again. Anything else (processing under a
	// live lease, done, failed) is a conflict: a duplicate or retried delivery must not process twice or clobber a
	// result.
	Claim(ctx context.Context, id string) (*Job, error)
	// Complete moves a processing job to done with the blob key of its result.
	Complete(ctx context.Context, id, resultKey string) (*Job, error)
	// Fail moves a queued or processing job to failed with the reason.
	Fail(ctx context.Context, id string, reason *Error) (*Job, error)
	// Release gives a processing job back to the queue (graceful shutdown), so it can be claimed at once.
	Release(ctx context.Context, id string) error
	// Delete removes the row.
	Delete(ctx context.Context, id string) error
	// ListExpired returns up to limit jobs (all if limit <= 0), whatever their status, last updated before the given
	// time, oldest first: the sweeper deletes their blobs and rows.
	ListExpired(ctx context.Context, before time.Time, limit int) ([]*Job, error)
	// ListPending returns the queued and processing jobs, oldest first, so a process using an in-process queue can
	// enqueue them again at start.
	ListPending(ctx context.Context) ([]*Job, error)
}

// Blobs stores the uploaded originals and the cutouts under keys from OriginalKey and CutoutKey.
type Blobs interface {
	// Put stores size bytes read from r under key. size is the exact length, or -1 if unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the blob; the caller closes it. A missing key is a NotFound *Error.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the keys; keys that do not exist are not an error.
	Delete(ctx context.Context, keys ...string) error
	// URL returns an address from which a browser can download the blob as downloadName (a presigned GET for S3,
	// sending Content-Disposition: attachment). An empty string with a nil error means the backend has no such
	// address and the server must stream the blob itself (the local folder).
	URL(ctx context.Context, key, downloadName string) (string, error)
}

// Queue hands a job to whatever processes it: Cloud Tasks, which POSTs to the worker, or an in-process pool.
type Queue interface {
	Enqueue(ctx context.Context, jobID string) error
}

// Hub carries job events from whoever processes a job to whoever watches it (a websocket on any server replica).
type Hub interface {
	Publish(ctx context.Context, e Event) error
	// Subscribe starts listening for the job's events. When it returns without error the subscription is already in
	// place, so a caller may subscribe, then read the job's current state, then forward events, and lose nothing.
	// The subscription ends when ctx is done or Close is called; its channel is then closed.
	Subscribe(ctx context.Context, jobID string) (Subscription, error)
}

// Subscription is one listener on one job's events.
type Subscription interface {
	Events() <-chan Event
	Close() error
}

// Event is what a watcher of a job is told: the new status, and for done the result's URL, for failed the error.
type Event struct {
	JobID     string `json:"job_id"`
	Status    Status `json:"status"`
	ResultURL string `json:"result_url,omitempty"`
	Error     *Error `json:"error,omitempty"`
	// Progress, from 0 to 1, is an optional hint while processing.
	Progress float64   `json:"progress,omitempty"`
	At       time.Time `json:"at"`
}

// EventOf returns the event describing j's current state (without a result URL, which only the server can make).
func EventOf(j *Job) Event {
	e := Event{JobID: j.ID, Status: j.Status, At: j.UpdatedAt}
	if j.Error != nil {
		e.Error = &Error{Code: j.Error.Code, Message: j.Error.Message}
	}
	return e
}

// TaskSecretHeader is the header carrying the shared secret on each task the queue delivers to the worker, which
// rejects requests without it (unless it verifies an OIDC token instead).
const TaskSecretHeader = "X-Backless-Task-Secret"

// TaskPath is the worker's endpoint for tasks, the path the original service used.
const TaskPath = "/_tasks/remove-background/"

// TaskURL returns the URL tasks are delivered to for a worker at workerURL (WORKER_URL): workerURL itself if it
// already ends in TaskPath, otherwise workerURL with TaskPath appended.
func TaskURL(workerURL string) string {
	if strings.HasSuffix(workerURL, TaskPath) {
		return workerURL
	}
	return strings.TrimRight(workerURL, "/") + TaskPath
}

// taskBody is the JSON body of a task delivered to the worker.
type taskBody struct {
	JobID string `json:"job_id"`
}

// TaskBody is the body of the HTTP task that asks the worker to process a job: {"job_id":"..."}.
func TaskBody(id string) []byte {
	b, _ := json.Marshal(taskBody{JobID: id}) // cannot fail for a struct of one string
	return b
}

// ParseTaskBody reads a job id from a task body. It accepts the JSON form TaskBody writes and, as the original
// service sent, the bare id as plain text. The id must be valid (ValidID); otherwise a bad_request *Error.
func ParseTaskBody(body []byte) (string, error) {
	s := strings.TrimSpace(string(body))
	id := s
	if strings.HasPrefix(s, "{") {
		var t taskBody
		if err := json.Unmarshal([]byte(s), &t); err != nil {
			return "", Wrap(CodeBadRequest, err, "task body is not valid JSON")
		}
		id = t.JobID
	}
	if !ValidID(id) {
		return "", Errorf(CodeBadRequest, "task body does not hold a valid job id")
	}
	return id, nil
}

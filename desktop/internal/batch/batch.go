// Package batch is the desktop app's work queue: images go in (dropped, picked, or handed over by the page), each
// becomes a job that a Processor turns into a PNG off the UI thread, a few at a time, in order. Every change of a
// job is reported, so the page can show per-file and overall progress; a failure ends only its own job; any job can
// be cancelled; finished results are kept in a private folder until they are saved or deleted.
//
// The Processor does the work: the local segmentation engine or a Backless server (see desktop/internal/engine and
// desktop/internal/cloud). The queue knows neither.
package batch

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// Options are the user's choices for one image. The JSON names are the HTTP API's form fields, which are also the
// fields of the desktop binding's opts object (frontend/src/lib/api.ts optionsFields).
type Options struct {
	MaskOnly bool   `json:"mask_only"`
	BgColor  string `json:"bg_color"`
	Crop     bool   `json:"crop"`
}

// Request is one image handed to a Processor.
type Request struct {
	// Name is the user's file name; a server uses it only to name the download.
	Name    string
	Data    []byte
	Options Options
	// Info is the image's header, already checked against the limits.
	Info imageio.Info
}

// Result is a finished image.
type Result struct {
	PNG []byte
}

// Processor turns an image into a PNG. It reports progress from 0 to 1 through progress (optional, any number of
// times, from any goroutine) and stops promptly when ctx is cancelled. Errors that are the user's fault should be
// (or wrap) a *job.Error or one of imageio's sentinel errors, so the page can say what went wrong.
type Processor interface {
	Process(ctx context.Context, req Request, progress func(float64)) (Result, error)
}

// Input is an image to add: a file, read when its job starts (so a folder of photos is not all in memory at once),
// or bytes the page already holds.
type Input struct {
	// Name is the name shown and used for <name>.png; for a path it defaults to the file's base name.
	Name    string
	Path    string
	Data    []byte
	Options Options
}

// State is a job as the page sees it: the JSON of the server's GET /api/jobs/{id}, plus the source path for jobs
// added from files.
type State struct {
	ID       string     `json:"id"`
	Status   job.Status `json:"status"`
	Filename string     `json:"filename"`
	Path     string     `json:"path,omitempty"`
	Width    int        `json:"width,omitempty"`
	Height   int        `json:"height,omitempty"`
	// Progress is 0 to 1; 1 once done.
	Progress float64 `json:"progress"`
	// Size is the result's size in bytes once done.
	Size  int64      `json:"size,omitempty"`
	Error *job.Error `json:"error,omitempty"`
}

// Cancelled reports whether the job ended because the user cancelled it.
func (s State) Cancelled() bool {
	return s.Status == job.StatusFailed && s.Error != nil && s.Error.Code == CodeCancelled
}

// Summary is the whole queue at a glance, for the overall progress bar.
type Summary struct {
	Total      int `json:"total"`
	Queued     int `json:"queued"`
	Processing int `json:"processing"`
	Done       int `json:"done"`
	Failed     int `json:"failed"` // not counting cancelled jobs
	Cancelled  int `json:"cancelled"`
	// Progress is 0 to 1 over all jobs: finished ones count fully, running ones by their own progress.
	Progress float64 `json:"progress"`
}

// Finished is the number of jobs that will not change any more.
func (s Summary) Finished() int { return s.Done + s.Failed + s.Cancelled }

// Error codes the queue adds to the HTTP API's (shared/job).
const (
	// CodeCancelled: the user cancelled the job.
	CodeCancelled job.Code = "cancelled"
	// CodeUnreadable: the file could not be read (gone, no permission).
	CodeUnreadable job.Code = "unreadable"
	// CodeNotDone: the job has no result (yet).
	CodeNotDone job.Code = "not_done"
)

// Classify turns a processing error into what the page shows: the error's own *job.Error if it carries one, the
// HTTP API's code for imageio's refusals, else an internal error with the error's text (this is the user's own
// machine, so the real reason helps more than a vague one).
func Classify(err error) *job.Error {
	var je *job.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &je):
		return &job.Error{Code: je.Code, Message: je.Message}
	case errors.Is(err, imageio.ErrTooLarge):
		return &job.Error{Code: job.CodeTooLarge, Message: err.Error()}
	case errors.Is(err, imageio.ErrUnsupported), errors.Is(err, imageio.ErrCorrupt):
		return &job.Error{Code: job.CodeNotAnImage, Message: err.Error()}
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission):
		return &job.Error{Code: CodeUnreadable, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &job.Error{Code: job.CodeTimeout, Message: err.Error()}
	}
	return &job.Error{Code: job.CodeInternal, Message: err.Error()}
}

func notFound(id string) *job.Error {
	return &job.Error{Code: job.CodeNotFound, Message: fmt.Sprintf("no job %q", id)}
}

// Package cloud is the desktop app's cloud mode: a client of a Backless server's HTTP API (the contract in
// frontend/src/lib/api.ts) that submits an image as a job, follows it over the server's websocket (asking with GET
// when the socket fails), fetches the PNG and deletes the job, behind the batch queue's Processor interface.
package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/shared/job"
)

// Timeouts. Every request has one; the whole job has one too, so a server that never finishes cannot hold a
// worker of the queue forever.
const (
	requestTimeout  = 30 * time.Second // small JSON requests
	transferTimeout = 5 * time.Minute  // uploading the image, downloading the PNG
	jobTimeout      = 30 * time.Minute // from upload to result
	socketIdle      = 45 * time.Second // silence on the socket before asking with GET instead
	maxBackoff      = 10 * time.Second
	maxJSON         = 1 << 20
	maxResult       = 1 << 30
)

// CodeNetwork is the job error code when the server cannot be reached (the page's words for it exist already).
const CodeNetwork job.Code = "network"

// Client talks to one Backless server.
type Client struct {
	base   *url.URL
	http   *http.Client
	dialer *websocket.Dialer
}

var _ batch.Processor = (*Client)(nil)

// New returns a client for the server at baseURL (http or https, optionally with a path prefix). hc may be nil for
// a default client; its Timeout is not used (each call sets its own deadline).
func New(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cloud: server address %q must be http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{
		base:   u,
		http:   hc,
		dialer: &websocket.Dialer{HandshakeTimeout: requestTimeout, Proxy: http.ProxyFromEnvironment},
	}, nil
}

// BaseURL is the server's address.
func (c *Client) BaseURL() string { return c.base.String() }

// JobState is a job as GET /api/jobs/{id} and the websocket's messages report it.
type JobState struct {
	Type      string     `json:"type,omitempty"`
	ID        string     `json:"id"`
	Status    job.Status `json:"status"`
	Filename  string     `json:"filename,omitempty"`
	Width     int        `json:"width,omitempty"`
	Height    int        `json:"height,omitempty"`
	ResultURL string     `json:"result_url,omitempty"`
	Progress  float64    `json:"progress,omitempty"`
	Error     *job.Error `json:"error,omitempty"`
}

// Created is the answer to POST /api/jobs.
type Created struct {
	ID        string     `json:"id"`
	Status    job.Status `json:"status"`
	Filename  string     `json:"filename"`
	StatusURL string     `json:"status_url"`
	WSURL     string     `json:"ws_url"`
}

// Process implements batch.Processor: upload, follow, download, delete. The job is deleted on the server however
// this ends (done, failed, cancelled), since the user keeps the result on this computer.
func (c *Client) Process(ctx context.Context, req batch.Request, progress func(float64)) (batch.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	created, err := c.Create(ctx, req.Name, req.Data, req.Options, func(sent, total int64) {
		progress(progressUploaded * float64(sent) / float64(max(total, 1)))
	})
	if err != nil {
		return batch.Result{}, err
	}
	defer c.deleteQuietly(ctx, created.ID)
	final, err := c.Wait(ctx, created.ID, created.WSURL, func(s JobState) {
		switch s.Status {
		case job.StatusQueued:
			progress(progressQueued)
		case job.StatusProcessing:
			progress(progressQueued + (progressProcessed-progressQueued)*min(max(s.Progress, 0), 1))
		}
	})
	if err != nil {
		return batch.Result{}, err
	}
	if final.Status == job.StatusFailed {
		if final.Error == nil {
			return batch.Result{}, &job.Error{Code: job.CodeInternal, Message: "the server could not process the image"}
		}
		return batch.Result{}, final.Error
	}
	progress(progressProcessed)
	png, err := c.Result(ctx, created.ID)
	if err != nil {
		return batch.Result{}, err
	}
	return batch.Result{PNG: png}, nil
}

// Share of a job's progress bar: the upload, then the server's work; the download is the rest.
const (
	progressUploaded  = 0.2
	progressQueued    = 0.25 // the server has the job
	progressProcessed = 0.9
)

func (c *Client) deleteQuietly(ctx context.Context, id string) {
	// The job's own context may be cancelled already (that may be why we are here); the delete still has to go out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	_ = c.Delete(ctx, id) // best effort: the server's sweeper removes it after its TTL anyway
}

// Create uploads an image: POST /api/jobs with the multipart fields image, mask_only, bg_color, crop. sent reports
// the upload's progress (optional).
func (c *Client) Create(ctx context.Context, name string, data []byte, opts batch.Options, sent func(n, total int64)) (Created, error) {
	body, contentType, err := form(name, data, opts)
	if err != nil {
		return Created{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	var r io.Reader = bytes.NewReader(body)
	if sent != nil {
		r = &countingReader{r: r, total: int64(len(body)), report: sent}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/api/jobs"), r)
	if err != nil {
		return Created{}, fmt.Errorf("cloud: %w", err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	var out Created
	if err := c.doJSON(req, &out); err != nil {
		return Created{}, err
	}
	if out.ID == "" {
		return Created{}, &job.Error{Code: job.CodeInternal, Message: "the server did not return a job id"}
	}
	return out, nil
}

// form builds the multipart body the server expects (frontend/src/lib/api.ts buildForm).
func form(name string, data []byte, opts batch.Options) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("image", name)
	if err != nil {
		return nil, "", fmt.Errorf("cloud: form: %w", err)
	}
	if _, err := fw.Write(data); err != nil {
		return nil, "", fmt.Errorf("cloud: form: %w", err)
	}
	bg := opts.BgColor
	if opts.MaskOnly {
		bg = ""
	}
	for _, f := range [][2]string{
		{"mask_only", strconv.FormatBool(opts.MaskOnly)},
		{"bg_color", bg},
		{"crop", strconv.FormatBool(opts.Crop)},
	} {
		if err := w.WriteField(f[0], f[1]); err != nil {
			return nil, "", fmt.Errorf("cloud: form: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("cloud: form: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// Job asks for a job's state: GET /api/jobs/{id}.
func (c *Client) Job(ctx context.Context, id string) (JobState, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/api/jobs/"+url.PathEscape(id)), nil)
	if err != nil {
		return JobState{}, fmt.Errorf("cloud: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	var s JobState
	if err := c.doJSON(req, &s); err != nil {
		return JobState{}, err
	}
	if s.ID == "" || !s.Status.Valid() {
		return JobState{}, &job.Error{Code: job.CodeInternal, Message: "the server sent a job state this app cannot read"}
	}
	return s, nil
}

// Result downloads a finished job's PNG: GET /api/jobs/{id}/result (following a redirect to storage).
func (c *Client) Result(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/api/jobs/"+url.PathEscape(id)+"/result"), nil)
	if err != nil {
		return nil, fmt.Errorf("cloud: %w", err)
	}
	res, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResult+1))
	if err != nil {
		return nil, c.networkError(err)
	}
	if len(b) > maxResult {
		return nil, &job.Error{Code: job.CodeTooLarge, Message: "the server's result is larger than 1 GiB"}
	}
	return b, nil
}

// Delete removes a job and its images from the server: DELETE /api/jobs/{id}. A job already gone is no error.
func (c *Client) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.url("/api/jobs/"+url.PathEscape(id)), nil)
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	res, err := c.do(req)
	if job.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxJSON))
	return res.Body.Close()
}

// Check asks the server's GET /healthz, to tell a user at once whether the address they typed is a server.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/healthz"), nil)
	if err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	res, err := c.do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxJSON))
	return res.Body.Close()
}

// Wait follows a job until it is done or failed and returns that state; onState sees every state on the way. It
// listens on the websocket (wsURL, or the standard route when empty) and, whenever the socket fails or stays
// silent, asks once with GET and reconnects with back-off.
func (c *Client) Wait(ctx context.Context, id, wsURL string, onState func(JobState)) (JobState, error) {
	if onState == nil {
		onState = func(JobState) {}
	}
	target, err := c.socketURL(id, wsURL)
	if err != nil {
		return JobState{}, err
	}
	backoff := 250 * time.Millisecond
	for {
		s, err := c.listen(ctx, target, id, onState)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return JobState{}, fmt.Errorf("cloud: waiting for job %s: %w", id, ctx.Err())
		}
		s, err = c.Job(ctx, id)
		switch {
		case err == nil:
			onState(s)
			if s.Status.Terminal() {
				return s, nil
			}
		case job.IsNotFound(err), job.IsCode(err, job.CodeBadRequest), job.IsCode(err, job.CodeForbidden):
			return JobState{}, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return JobState{}, fmt.Errorf("cloud: waiting for job %s: %w", id, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen reads the job's socket until a terminal state (returned with a nil error) or any failure.
func (c *Client) listen(ctx context.Context, target, id string, onState func(JobState)) (JobState, error) {
	conn, res, err := c.dialer.DialContext(ctx, target, nil)
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	if err != nil {
		return JobState{}, fmt.Errorf("cloud: websocket: %w", err)
	}
	defer conn.Close()
	// Reading blocks outside ctx's reach; closing the connection ends the read when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetReadLimit(maxJSON)
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(socketIdle)) }
	alive()
	conn.SetPingHandler(func(data string) error {
		alive()
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return JobState{}, fmt.Errorf("cloud: websocket: %w", err)
		}
		alive()
		var s JobState
		if json.Unmarshal(msg, &s) != nil || (s.Type != "" && s.Type != "status") || s.ID != id || !s.Status.Valid() {
			continue // not a status message of this job: other types may come later
		}
		onState(s)
		if s.Status.Terminal() {
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(time.Second))
			return s, nil
		}
	}
}

// socketURL resolves the server's ws_url (absolute or a path) or the standard route, with a ws(s) scheme.
func (c *Client) socketURL(id, wsURL string) (string, error) {
	ref := wsURL
	if ref == "" {
		ref = "/ws/jobs/" + url.PathEscape(id)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("cloud: websocket address %q: %w", ref, err)
	}
	u := c.base.ResolveReference(r)
	if strings.HasPrefix(ref, "/") && c.base.Path != "" {
		// A path from the server is relative to its own root, which may sit under our base's path prefix.
		u.Path = strings.TrimRight(c.base.Path, "/") + r.Path
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("cloud: websocket address %q has scheme %q", ref, u.Scheme)
	}
	return u.String(), nil
}

func (c *Client) url(path string) string {
	return strings.TrimRight(c.base.String(), "/") + path
}

// do sends req and turns a failure to connect into a "network" error and a non-2xx answer into the server's
// *job.Error. On success the caller closes the body.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.networkError(err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, errorFromResponse(res)
	}
	return res, nil
}

func (c *Client) doJSON(req *http.Request, out any) error {
	res, err := c.do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if err := json.NewDecoder(io.LimitReader(res.Body, maxJSON)).Decode(out); err != nil {
		return &job.Error{Code: job.CodeInternal, Message: "the server sent an answer this app cannot read", Err: err}
	}
	return nil
}

func (c *Client) networkError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &job.Error{Code: CodeNetwork, Message: "could not reach the Backless server at " + c.base.String(), Err: err}
}

// errorFromResponse reads the server's {"error":{"code","message"}}, falling back to a code for the status.
func errorFromResponse(res *http.Response) *job.Error {
	var body struct {
		Error *job.Error `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxJSON))
	if json.Unmarshal(b, &body) == nil && body.Error != nil && body.Error.Code != "" {
		return &job.Error{Code: body.Error.Code, Message: body.Error.Message}
	}
	code := job.CodeInternal
	switch res.StatusCode {
	case http.StatusBadRequest:
		code = job.CodeBadRequest
	case http.StatusNotFound:
		code = job.CodeNotFound
	case http.StatusRequestEntityTooLarge:
		code = job.CodeTooLarge
	case http.StatusUnsupportedMediaType:
		code = job.CodeNotAnImage
	case http.StatusTooManyRequests:
		code = job.CodeTooManyRequests
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		code = job.CodeUnavailable
	case http.StatusGatewayTimeout:
		code = job.CodeTimeout
	}
	return &job.Error{Code: code, Message: fmt.Sprintf("the server answered %s", res.Status)}
}

// countingReader reports how much of the body has been read (sent).
type countingReader struct {
	r      io.Reader
	n      int64
	total  int64
	report func(n, total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.report(c.n, c.total)
	}
	return n, err
}

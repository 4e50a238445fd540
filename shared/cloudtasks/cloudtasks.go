// Package cloudtasks is the production job.Queue: each job becomes a Google Cloud Tasks HTTP-target task that POSTs
// the job id to the worker, which Cloud Tasks retries with back-off while the worker answers 5xx. With an emulator
// address configured it talks to a local emulator (aertje/cloud-tasks-emulator) over plain gRPC instead.
package cloudtasks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	tasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/backless/backless/shared/job"
)

var _ job.Queue = (*Queue)(nil)

// Config names the queue and says where and how its tasks are delivered.
type Config struct {
	Project string // PROJECT_NAME
	Region  string // QUEUE_REGION
	QueueID string // QUEUE_ID
	// TargetURL is the full URL tasks are POSTed to: job.TaskURL(WORKER_URL).
	TargetURL string
	// Secret, when set, is sent in the job.TaskSecretHeader header of every task; the worker compares it.
	Secret string
	// OIDCServiceAccount, when set, makes Google attach an OIDC token for this service account to every task, which
	// the worker can verify instead of (or as well as) the secret. OIDCAudience defaults to TargetURL.
	OIDCServiceAccount string
	OIDCAudience       string
	// EmulatorHost (host:port), when set, targets a Cloud Tasks emulator without TLS or credentials.
	EmulatorHost string
	// DispatchDeadline is how long Cloud Tasks waits for the worker's answer (default 10 minutes; Google allows 15
	// seconds to 30 minutes). It should cover the slowest job.
	DispatchDeadline time.Duration
	// Timeout bounds each call to the Cloud Tasks API (default 10 seconds).
	Timeout time.Duration
	// ClientOptions are added to the client's options (credentials for the real service, for instance).
	ClientOptions []option.ClientOption
}

// Queue creates Cloud Tasks tasks.
type Queue struct {
	client *tasks.Client
	parent string
	cfg    Config
}

func (c *Config) validate() error {
	var errs []error
	if c.Project == "" || c.Region == "" || c.QueueID == "" {
		errs = append(errs, errors.New("the project, region and queue id must all be set"))
	}
	u, err := url.Parse(c.TargetURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("the worker URL %q is not an absolute http(s) URL", c.TargetURL))
	}
	if c.Secret == "" && c.OIDCServiceAccount == "" {
		// The worker would have no way to tell the queue's requests from anyone's.
		errs = append(errs, errors.New("set a shared secret or an OIDC service account: tasks must be authenticated"))
	}
	if c.DispatchDeadline == 0 {
		c.DispatchDeadline = 10 * time.Minute
	}
	if c.DispatchDeadline < 15*time.Second || c.DispatchDeadline > 30*time.Minute {
		errs = append(errs, fmt.Errorf("the dispatch deadline %v is outside Cloud Tasks' 15s to 30m", c.DispatchDeadline))
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cloudtasks: %w", err)
	}
	return nil
}

// New builds the client. With EmulatorHost set it connects to the emulator; otherwise to Google with the
// application's default credentials (or those in ClientOptions). Close the Queue when done.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := cfg.ClientOptions
	if cfg.EmulatorHost != "" {
		opts = append([]option.ClientOption{
			option.WithEndpoint(cfg.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		}, opts...)
	}
	client, err := tasks.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("cloudtasks: create client: %w", err)
	}
	return &Queue{
		client: client,
		parent: fmt.Sprintf("projects/%s/locations/%s/queues/%s", cfg.Project, cfg.Region, cfg.QueueID),
		cfg:    cfg,
	}, nil
}

// Close closes the client's connection.
func (q *Queue) Close() error { return q.client.Close() }

// Enqueue creates a task that POSTs {"job_id": jobID} to the worker. The task is not named: a name would make Cloud
// Tasks refuse a second task for the same job for up to an hour, and duplicates are harmless anyway because the
// worker claims the job atomically.
func (q *Queue) Enqueue(parent context.Context, jobID string) error {
	headers := map[string]string{"Content-Type": "application/json"}
	if q.cfg.Secret != "" {
		headers[job.TaskSecretHeader] = q.cfg.Secret
	}
	req := &cloudtaskspb.HttpRequest{
		Url:        q.cfg.TargetURL,
		HttpMethod: cloudtaskspb.HttpMethod_POST,
		Headers:    headers,
		Body:       job.TaskBody(jobID),
	}
	if q.cfg.OIDCServiceAccount != "" {
		req.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
			ServiceAccountEmail: q.cfg.OIDCServiceAccount,
			Audience:            q.cfg.OIDCAudience,
		}}
	}
	ctx, cancel := context.WithTimeout(parent, q.cfg.Timeout)
	defer cancel()
	_, err := q.client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{
		Parent: q.parent,
		Task: &cloudtaskspb.Task{
			MessageType:      &cloudtaskspb.Task_HttpRequest{HttpRequest: req},
			DispatchDeadline: durationpb.New(q.cfg.DispatchDeadline),
		},
	})
	if err != nil {
		return classify(parent, jobID, err)
	}
	return nil
}

// classify marks the failures worth retrying later as unavailable; a missing queue or a permission problem is a
// configuration error and stays internal.
func classify(parent context.Context, jobID string, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("cloudtasks: enqueue job %s: %w", jobID, err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal:
		return fmt.Errorf("cloudtasks: enqueue job %s: %w", jobID,
			job.Wrap(job.CodeUnavailable, err, "the task queue is unavailable"))
	}
	return fmt.Errorf("cloudtasks: enqueue job %s: %w", jobID, err)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/config"
	"github.com/backless/backless/shared/httpapi"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/local"
	"github.com/backless/backless/shared/oidc"
	"github.com/backless/backless/shared/pipeline"
	"github.com/backless/backless/shared/postgres"
	"github.com/backless/backless/shared/redis"
	"github.com/backless/backless/shared/s3"
	"github.com/backless/backless/shared/segment"
)

const serveUsage = `Usage: worker [serve]

Answers POST ` + job.TaskPath + ` from Cloud Tasks on $HOST:$PORT: each task names a job, which is claimed,
segmented, stored and announced. Configured by environment variables:

`

// runServe is `worker serve`. Exit codes as run's.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, serveUsage+config.Usage(config.RoleWorker))
			return 0
		}
		fmt.Fprintf(stderr, "worker serve: unexpected argument %q\n\n%s", args[0], serveUsage+config.Usage(config.RoleWorker))
		return 2
	}
	cfg, err := config.Load(getenv, config.RoleWorker)
	if err != nil {
		fmt.Fprintf(stderr, "worker: %v\n", err)
		return 2
	}
	w := stderr
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	log := zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Str("service", "worker").Logger()
	log.Info().Object("config", cfg).Msg("starting worker")
	if err := serveTasks(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("worker failed")
		return 1
	}
	log.Info().Msg("worker stopped")
	return 0
}

// serveTasks runs the task endpoint until ctx ends. On shutdown the jobs in hand get SHUTDOWN_TIMEOUT to finish;
// after that they are cut short, released, and answered 503 so that Cloud Tasks delivers them to another worker.
func serveTasks(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	store, blobs, hub, checks, closeAll, err := openWorkerBackends(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()

	start := time.Now()
	rt, err := segment.LoadRuntime(cfg.Engine.Library)
	if err != nil {
		return err
	}
	defer rt.Close()
	eng, err := segment.New(ctx, rt, cfg.Engine.Segment())
	if err != nil {
		return err
	}
	defer eng.Close()
	log.Info().Str("model", cfg.Engine.Model).Str("profile", eng.Profile().Name).
		Dur("load_ms", time.Since(start)).Msg("model loaded")

	metrics := httpapi.NewMetrics()
	pipe, err := pipeline.New(pipeline.Config{
		Store: store, Blobs: blobs, Hub: hub, Engine: eng,
		Limits:    cfg.Limits(),
		Timeout:   cfg.JobTimeout,
		ResultURL: httpapi.ResultPath,
		Log:       log,
		Observer:  metrics,
	})
	if err != nil {
		return err
	}
	var token httpapi.TokenVerifier
	if o := cfg.TaskOIDC; o.ServiceAccount != "" {
		v, err := oidc.New(oidc.Config{Issuer: o.Issuer, Audience: o.Audience, ServiceAccount: o.ServiceAccount})
		if err != nil {
			return err
		}
		token = v
		log.Info().Str("service_account", o.ServiceAccount).Str("issuer", o.Issuer).
			Msg("tasks must carry an OIDC token of the queue's service account")
	}
	stopCtx, stopProcessing := context.WithCancel(context.Background())
	defer stopProcessing()
	h, err := httpapi.NewTaskHandler(httpapi.TaskConfig{
		Secret: cfg.TaskSecret, Token: token, Processor: pipe, Concurrency: cfg.Concurrency, Stop: stopCtx,
		Checks: checks, Log: log, Metrics: metrics,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	// No write timeout: a task's answer comes when its job is processed, bounded by JOB_TIMEOUT.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: stdlog.New(log.With().Str("component", "http").Logger(), "", 0)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Str("path", job.TaskPath).Msg("listening")

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// The grace period is over: release the jobs in hand and answer their tasks, which takes a moment.
		log.Warn().Msg("jobs still running at the end of the shutdown grace period; releasing them")
		stopProcessing()
		rctx, rcancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer rcancel()
		err = srv.Shutdown(rctx)
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// openWorkerBackends connects to the store, blobs and hub the worker shares with the servers; the configuration
// has made sure the store and the hub are services (Postgres and Redis), since the worker is its own process.
func openWorkerBackends(ctx context.Context, cfg config.Config) (store job.Store, blobs job.Blobs, hub job.Hub,
	checks []httpapi.Check, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Lease: cfg.JobLease})
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("job store: %w", err)
	}
	closers = append(closers, db.Close)
	checks = append(checks, httpapi.Check{Name: "postgres", Check: db.Ping})

	if cfg.Storage == config.StorageS3 {
		bucket, err := s3.New(ctx, s3.Config{
			Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, Endpoint: cfg.S3.Endpoint, PathStyle: cfg.S3.PathStyle,
			AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
		})
		if err == nil {
			err = bucket.Check(ctx)
		}
		if err != nil {
			return nil, nil, nil, nil, nil, fmt.Errorf("blobs: %w", err)
		}
		blobs = bucket
		checks = append(checks, httpapi.Check{Name: "s3", Check: bucket.Check})
	} else {
		// A folder shared with the servers (same machine, or a mounted volume).
		lb, err := local.NewBlobs(filepath.Join(cfg.DataDir, "blobs"))
		if err != nil {
			return nil, nil, nil, nil, nil, fmt.Errorf("blobs: %w", err)
		}
		blobs = lb
	}

	h, err := redis.Open(ctx, cfg.RedisURL, redis.Options{})
	if err != nil {
		return nil, nil, nil, nil, nil, fmt.Errorf("event hub: %w", err)
	}
	closers = append(closers, func() { _ = h.Close() })
	checks = append(checks, httpapi.Check{Name: "redis", Check: h.Ping})
	return db, blobs, h, checks, closeAll, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/frontend"
	"github.com/backless/backless/shared/cloudtasks"
	"github.com/backless/backless/shared/config"
	"github.com/backless/backless/shared/httpapi"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/local"
	"github.com/backless/backless/shared/pipeline"
	"github.com/backless/backless/shared/segment"
)

// serve builds the parts the configuration names, serves until ctx ends, then shuts down in order: stop taking
// requests, close the sockets, finish or release the jobs in hand, close the backends.
func serve(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	b, err := openBackends(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer b.close()

	metrics := httpapi.NewMetrics()
	purger := &pipeline.Purger{Store: b.store, Blobs: b.blobs, Hub: b.hub, Log: log, OnPurge: metrics.Deleted}

	var queue job.Queue
	var closeQueue func(context.Context) error
	if cfg.InProcessQueue() {
		q, closeEngine, err := inProcessQueue(ctx, cfg, b, metrics, log)
		if err != nil {
			return err
		}
		defer closeEngine()
		queue, closeQueue = q, q.Close
	} else {
		q, err := cloudtasks.New(ctx, cloudtasks.Config{
			Project: cfg.Queue.Project, Region: cfg.Queue.Region, QueueID: cfg.Queue.ID,
			TargetURL: job.TaskURL(cfg.WorkerURL),
			Secret:    cfg.TaskSecret,
			// Google signs a token for this account on each task; the worker checks it (TASK_OIDC_*).
			OIDCServiceAccount: cfg.TaskOIDC.ServiceAccount,
			OIDCAudience:       cfg.TaskOIDC.Audience,
			EmulatorHost:       cfg.Queue.EmulatorHost,
			DispatchDeadline:   min(max(cfg.JobTimeout+time.Minute, 15*time.Second), 30*time.Minute),
		})
		if err != nil {
			return fmt.Errorf("cloud tasks queue: %w", err)
		}
		queue, closeQueue = q, func(context.Context) error { return q.Close() }
		log.Info().Str("worker", job.TaskURL(cfg.WorkerURL)).Msg("jobs go to the worker through Cloud Tasks")
	}

	api, err := httpapi.New(httpapi.Config{
		Store: b.store, Blobs: b.blobs, Queue: queue, Hub: b.hub,
		Limits:         cfg.Limits(),
		DeleteGrace:    cfg.DeleteGrace,
		SyncTimeout:    cfg.JobTimeout + time.Minute,
		AllowedHosts:   cfg.AllowedHosts,
		TrustedOrigins: cfg.TrustedOrigins,
		Frontend:       frontend.FS(),
		Checks:         b.checks,
		Log:            log,
		Metrics:        metrics,
		Purger:         purger,
	})
	if err != nil {
		return err
	}
	if !frontend.Built() {
		log.Warn().Msg("the web app is not built (npm run build in frontend/); serving a placeholder page")
	}

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	sweeping := make(chan struct{})
	go func() {
		defer close(sweeping)
		purger.RunSweeper(sweepCtx, cfg.JobTTL, cfg.SweepInterval, nil)
	}()
	defer func() { stopSweep(); <-sweeping }()

	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr(), err)
	}
	// No write timeout: POST /api/remove answers when its job is done, and websockets live long. The read timeout
	// bounds an upload (64 MiB on a slow line); hijacked websockets set their own deadlines.
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          stdlog.New(log.With().Str("component", "http").Logger(), "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Bool("in_process_queue", cfg.InProcessQueue()).Msg("listening")

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if err := api.Close(sctx); err != nil {
		errs = append(errs, fmt.Errorf("close websockets: %w", err))
	}
	// The in-process queue waits for the jobs in hand until sctx ends, then cancels them: they are released and
	// resumed at the next start.
	if err := closeQueue(sctx); err != nil {
		errs = append(errs, fmt.Errorf("close queue: %w", err))
	}
	return errors.Join(errs...)
}

// inProcessQueue loads the engine and returns a queue that runs the pipeline in this process, with the jobs left
// over from the previous run enqueued again.
func inProcessQueue(ctx context.Context, cfg config.Config, b *backends, metrics *httpapi.Metrics,
	log zerolog.Logger) (*local.Queue, func(), error) {
	start := time.Now()
	rt, err := segment.LoadRuntime(cfg.Engine.Library)
	if err != nil {
		return nil, nil, err
	}
	eng, err := segment.New(ctx, rt, cfg.Engine.Segment())
	if err != nil {
		_ = rt.Close()
		return nil, nil, err
	}
	closeEngine := func() {
		_ = eng.Close()
		_ = rt.Close()
	}
	log.Info().Str("model", cfg.Engine.Model).Str("profile", eng.Profile().Name).
		Dur("load_ms", time.Since(start)).Msg("model loaded; jobs are processed in this process")

	pipe, err := pipeline.New(pipeline.Config{
		Store: b.store, Blobs: b.blobs, Hub: b.hub, Engine: eng,
		Limits:    cfg.Limits(),
		Timeout:   cfg.JobTimeout,
		ResultURL: httpapi.ResultPath,
		Log:       log,
		Observer:  metrics,
	})
	if err != nil {
		closeEngine()
		return nil, nil, err
	}
	q := local.NewQueue(func(ctx context.Context, id string) error {
		metrics.JobStarted()
		defer metrics.JobEnded()
		return pipe.Handle(ctx, id)
	}, local.QueueOptions{
		Workers:  cfg.Concurrency,
		OnGiveUp: func(id string, err error) { pipe.GiveUp(context.Background(), id, err) },
	})
	if err := resume(ctx, b.store, q, log); err != nil {
		log.Error().Err(err).Msg("resume the jobs of the previous run; they expire with their TTL")
	}
	return q, closeEngine, nil
}

// resume enqueues the jobs a previous run accepted but did not finish. Without WORKER_URL this process is the only
// one processing jobs, so a job still marked processing was cut off by the restart: it is released first, rather
// than left waiting for its lease to lapse.
func resume(ctx context.Context, store job.Store, q job.Queue, log zerolog.Logger) error {
	pending, err := store.ListPending(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range pending {
		if j.Status == job.StatusProcessing {
			if err := store.Release(ctx, j.ID); err != nil && !job.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("release %s: %w", j.ID, err))
				continue
			}
		}
		if err := q.Enqueue(ctx, j.ID); err != nil {
			errs = append(errs, fmt.Errorf("enqueue %s: %w", j.ID, err))
		}
	}
	if len(pending) > 0 {
		log.Info().Int("jobs", len(pending)).Msg("resumed the jobs of the previous run")
	}
	return errors.Join(errs...)
}

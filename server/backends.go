package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/config"
	"github.com/backless/backless/shared/httpapi"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/local"
	"github.com/backless/backless/shared/postgres"
	"github.com/backless/backless/shared/redis"
	"github.com/backless/backless/shared/s3"
)

// backends are the store, blobs and hub the configuration names, with their readiness checks.
type backends struct {
	store   job.Store
	blobs   job.Blobs
	hub     job.Hub
	checks  []httpapi.Check
	closers []func()
}

func (b *backends) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// openBackends connects to each configured service (and checks it answers, so a wrong setting fails the start
// rather than the first upload), or opens the embedded default in its place.
func openBackends(ctx context.Context, cfg config.Config, log zerolog.Logger) (_ *backends, err error) {
	b := &backends{}
	defer func() {
		if err != nil {
			b.close()
		}
	}()

	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Lease: cfg.JobLease})
		if err != nil {
			return nil, fmt.Errorf("job store: %w", err)
		}
		b.store = db
		b.closers = append(b.closers, db.Close)
		b.checks = append(b.checks, httpapi.Check{Name: "postgres", Check: db.Ping})
	} else {
		dir := filepath.Join(cfg.DataDir, "jobs")
		st, err := local.OpenStore(dir, local.StoreOptions{Lease: cfg.JobLease, OnCorrupt: func(path string, err error) {
			log.Error().Err(err).Str("file", path).Msg("unreadable job file set aside")
		}})
		if err != nil {
			return nil, fmt.Errorf("job store: %w", err)
		}
		b.store = st
		b.checks = append(b.checks, httpapi.Check{Name: "jobs_folder", Check: st.Check})
		log.Info().Str("dir", dir).Msg("jobs are kept in a folder (no DATABASE_URL)")
	}

	switch cfg.Storage {
	case config.StorageS3:
		bucket, err := s3.New(ctx, s3.Config{
			Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, Endpoint: cfg.S3.Endpoint, PathStyle: cfg.S3.PathStyle,
			PublicEndpoint: cfg.S3.PublicEndpoint,
			AccessKey:      cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
		})
		if err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
		if err := bucket.Check(ctx); err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
		b.blobs = bucket
		b.checks = append(b.checks, httpapi.Check{Name: "s3", Check: bucket.Check})
	default:
		dir := filepath.Join(cfg.DataDir, "blobs")
		blobs, err := local.NewBlobs(dir)
		if err != nil {
			return nil, fmt.Errorf("blobs: %w", err)
		}
		b.blobs = blobs
		b.checks = append(b.checks, httpapi.Check{Name: "blobs_folder", Check: blobs.Check})
		log.Info().Str("dir", dir).Msg("images are kept in a folder (STORAGE=fs)")
	}

	if cfg.RedisURL != "" {
		h, err := redis.Open(ctx, cfg.RedisURL, redis.Options{})
		if err != nil {
			return nil, fmt.Errorf("event hub: %w", err)
		}
		b.hub = h
		b.closers = append(b.closers, func() { _ = h.Close() })
		b.checks = append(b.checks, httpapi.Check{Name: "redis", Check: h.Ping})
	} else {
		b.hub = local.NewHub(0)
	}
	return b, nil
}

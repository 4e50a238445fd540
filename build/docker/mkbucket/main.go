// Command mkbucket creates the S3 bucket that STORAGE=s3 names if it does not exist yet. docker-compose.yml runs it
// once, after MinIO is healthy and before the server and the workers start, because they check the bucket at start
// and refuse to run without it. It reads the variables they read (S3_BUCKET, S3_ENDPOINT, S3_REGION, S3_PATH_STYLE,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, LOG_LEVEL, LOG_FORMAT) through shared/config, so it creates exactly the
// bucket they will use, on AWS as well as on MinIO.
//
// It is a program of its own rather than a MinIO client container because MinIO no longer publishes container
// images (its community edition is source-only), and because this one needs no second copy of the settings.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/config"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/s3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr, os.Getenv, 2*time.Second)
	stop()
	os.Exit(code)
}

// attempts is how often a bucket store that is not answering yet is tried; with the pause between tries this covers
// a store that is still starting.
const attempts = 5

// run returns the exit code: 0 when the bucket exists (or none is needed), 1 when it could not be created, 2 for bad
// usage or configuration. pause is the wait between tries of a store that did not answer.
func run(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string, pause time.Duration) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: mkbucket   (configured by STORAGE, S3_* and AWS_* as the server is)")
		return 2
	}
	// The server's role: without WORKER_URL it needs nothing but what is given here.
	cfg, err := config.Load(getenv, config.RoleServer)
	if err != nil {
		fmt.Fprintf(stderr, "mkbucket: %v\n", err)
		return 2
	}
	w := stderr
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	log := zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Str("service", "mkbucket").Logger()

	if cfg.Storage != config.StorageS3 {
		log.Info().Str("storage", string(cfg.Storage)).Msg("no bucket needed")
		return 0
	}
	bucket, err := s3.New(ctx, s3.Config{
		Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, Endpoint: cfg.S3.Endpoint, PathStyle: cfg.S3.PathStyle,
		AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey,
	})
	if err != nil {
		log.Error().Err(err).Msg("cannot build the S3 client")
		return 2
	}
	logger := log.With().Str("bucket", cfg.S3.Bucket).Str("endpoint", cfg.S3.Endpoint).Logger()
	for i := 1; ; i++ {
		err = bucket.CreateBucket(ctx)
		if err == nil {
			err = bucket.Check(ctx)
		}
		if err == nil {
			logger.Info().Msg("bucket ready")
			return 0
		}
		// Only an unreachable store is worth waiting for; a refusal (bad keys, a name taken by another account)
		// will not change.
		if !job.IsCode(err, job.CodeUnavailable) || i == attempts {
			logger.Error().Err(err).Int("attempt", i).Msg("cannot create the bucket")
			return 1
		}
		logger.Warn().Err(err).Int("attempt", i).Msg("bucket store not answering; trying again")
		select {
		case <-ctx.Done():
			logger.Error().Err(ctx.Err()).Msg("stopped")
			return 1
		case <-time.After(pause):
		}
	}
}

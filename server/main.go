// Command server is Backless's web server: the job API, the websockets and the web app. With WORKER_URL it hands jobs
// to Cloud Tasks, which calls the worker; without it, it processes them itself with an in-process queue, the
// all-in-one mode that `make run` starts. Configuration comes from environment variables (`server -h` lists them).
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
)

const usage = `Usage: server

Serves the Backless web app and its API on $HOST:$PORT. Configured by environment variables:

`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run returns the process's exit code: 0 after a clean shutdown, 1 on a failure, 2 for bad usage or configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, usage+config.Usage(config.RoleServer))
			return 0
		}
		fmt.Fprintf(stderr, "server: unexpected argument %q\n\n%s", args[0], usage+config.Usage(config.RoleServer))
		return 2
	}
	cfg, err := config.Load(getenv, config.RoleServer)
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	log.Info().Object("config", cfg).Msg("starting server")
	if err := serve(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("server failed")
		return 1
	}
	log.Info().Msg("server stopped")
	return 0
}

func newLogger(cfg config.Config, w io.Writer) zerolog.Logger {
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Str("service", "server").Logger()
}

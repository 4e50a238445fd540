// Command worker is Backless's processing side: `worker serve` (the default) answers the tasks Cloud Tasks delivers
// for the web pipeline, and `worker remove FILES…` removes backgrounds on the command line.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage:
  worker [serve]                            process the web pipeline's jobs delivered by Cloud Tasks (the default)
  worker remove [flags] IN… [-o FILE|DIR]   remove the background of images (files, folders, or - for stdin)

Run "worker serve -h" for its environment variables, "worker remove -h" for the flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process's exit code: 0 ok, 1 some work failed, 2 bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		// What a container runs: `worker` with no argument is the task server.
		return runServe(ctx, nil, stdout, stderr, getenv)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv)
	case "remove":
		return runRemove(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "worker: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

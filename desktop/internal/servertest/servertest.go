// Package servertest runs a real Backless server for the desktop's cloud-mode tests: the binary of ./server, built
// from this module (or taken from $BACKLESS_TEST_SERVER_BIN), started all-in-one (no database, queue or bucket
// configured, so it processes jobs itself with the real model) on a free port of 127.0.0.1 with a private data
// folder.
package servertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EnvBinary names a prebuilt server binary to use instead of building one.
const EnvBinary = "BACKLESS_TEST_SERVER_BIN"

// Server is a running server process.
type Server struct {
	// URL is its base address, http://127.0.0.1:port.
	URL  string
	cmd  *exec.Cmd
	dir  string
	logs *syncBuffer
	done chan error
}

// Start builds and starts the server and waits until GET /readyz answers 200 (the model is loaded).
func Start(ctx context.Context) (*Server, error) {
	dir, err := os.MkdirTemp("", "backless-servertest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, logs: &syncBuffer{}, done: make(chan error, 1)}
	bin, err := binary(ctx, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(),
		"HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "DATA_DIR="+filepath.Join(dir, "data"), "LOG_LEVEL=warn",
		// Whatever the caller's environment says: the all-in-one server.
		"DATABASE_URL=", "REDIS_URL=", "WORKER_URL=", "STORAGE=fs", "ALLOWED_HOSTS=", "CSRF_TRUSTED_ORIGINS=",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("servertest: start %s: %w", bin, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, s.Logs())
	}
	return s, nil
}

func binary(ctx context.Context, dir string) (string, error) {
	if b := os.Getenv(EnvBinary); b != "" {
		return b, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("servertest: go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./server")
	build.Dir = root
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("servertest: go build ./server (the cloud-mode tests need the real server): %w\n%s", err, msg)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("servertest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // loading the model on a busy machine
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("servertest: the server exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("servertest: not ready: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Logs is what the server printed.
func (s *Server) Logs() string { return s.logs.String() }

// Close stops the server (SIGTERM, then SIGKILL after 30 s) and removes its data.
func (s *Server) Close() error {
	var err error
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr := <-s.done:
			var exit *exec.ExitError
			if werr != nil && !errors.As(werr, &exit) {
				err = werr
			} else if werr != nil {
				err = fmt.Errorf("servertest: server exited with %v", werr)
			}
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
			err = errors.New("servertest: the server did not stop within 30 s of SIGTERM")
		}
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// syncBuffer is a bytes.Buffer for two writers (stdout and stderr).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backless/backless/shared/config"
)

// The tests in this package run the real binaries as processes, the way they are deployed: `go build` once in
// TestMain, then each test starts servers and workers on free 127.0.0.1 ports (PORT=0; the address is read from
// the "listening" log line).

// binaries holds the paths of the binaries TestMain built. Test-only state; the product has none.
var binaries struct{ server, worker string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "backless-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaries.server = filepath.Join(dir, "server")
	binaries.worker = filepath.Join(dir, "worker")
	for _, b := range []struct{ out, pkg string }{{binaries.server, "."}, {binaries.worker, "../worker"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n", b.pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running server or worker.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	addr string // host:port it listens on
	done chan struct{}

	mu   sync.Mutex
	logs bytes.Buffer
}

// cleanEnv is the test process's environment without any variable the programs read, so a developer's own
// settings (say, a sourced app.env) cannot change what a test runs against.
func cleanEnv(extra map[string]string) []string {
	ours := map[string]bool{}
	for _, v := range config.Vars() {
		ours[v.Name] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !ours[k] || k == "BACKLESS_CACHE" || k == "BACKLESS_MODEL" || k == "BACKLESS_ORT_LIB" {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return append(env, "HOST=127.0.0.1", "PORT=0")
}

// start runs bin with the environment and waits until it listens.
func start(t *testing.T, name, bin string, env map[string]string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: exec.Command(bin), done: make(chan struct{})}
	p.cmd.Env = cleanEnv(env)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var m struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &m) == nil && m.Message == "listening" {
				listening <- m.Addr
			}
		}
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s's log:\n%s", p.name, p.log())
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.done:
		t.Fatalf("%s exited before listening:\n%s", name, p.log())
	case <-time.After(3 * time.Minute): // loading the model on a busy 2-core machine
		t.Fatalf("%s did not listen in time:\n%s", name, p.log())
	}
	return p
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends SIGTERM and waits for a graceful exit (SIGKILL if it does not come).
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s did not stop within 30 s of SIGTERM", p.name)
		p.kill()
	}
}

// kill ends the process at once, as a crash or an OOM kill would.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// metric reads one sample of the process's /metrics (0 when absent).
func (p *proc) metric(t *testing.T, series string) float64 {
	t.Helper()
	res, err := http.Get(p.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

func upload(t *testing.T, url, filename string, data []byte, fields map[string]string) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("image", filename)
	_, _ = fw.Write(data)
	_ = mw.Close()
	res, err := http.Post(url, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type jobState struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Status    string `json:"status"`
	Filename  string `json:"filename"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	ResultURL string `json:"result_url"`
	Error     *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func readJSON[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("HTTP %d answer is not JSON: %q", res.StatusCode, b)
	}
	return v
}

// submit uploads a photo and returns the new job's id.
func submit(t *testing.T, server *proc, photo []byte) string {
	t.Helper()
	res := upload(t, server.url("/api/jobs"), "coffee.jpg", photo, nil)
	if res.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("upload: HTTP %d %s", res.StatusCode, b)
	}
	c := readJSON[map[string]any](t, res)
	id, _ := c["id"].(string)
	return id
}

// poll reads the job's state until it is done or failed.
func poll(t *testing.T, server *proc, id string, timeout time.Duration) jobState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res, err := http.Get(server.url("/api/jobs/" + id))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			res.Body.Close()
			t.Fatalf("GET job: HTTP %d", res.StatusCode)
		}
		st := readJSON[jobState](t, res)
		if st.Status == "done" || st.Status == "failed" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %v", id, st.Status, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func statusOf(t *testing.T, server *proc, id string) int {
	t.Helper()
	res, err := http.Get(server.url("/api/jobs/" + id))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readPhoto(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "shared", "testdata", "coffee.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Command loadgen sends concurrent uploads to a Backless server and reports throughput and latency: each simulated
// user uploads a photo (POST /api/jobs), follows the job on its websocket until done, downloads the result and
// leaves, as the web app does. It only talks to the server given, and stops after -n uploads or -timeout.
//
//	go run ./build/bench/loadgen -url http://127.0.0.1:8080 -n 16 -c 4 -image shared/testdata/coffee.jpg -pid 1234
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "server base URL (this machine only)")
	n := flag.Int("n", 16, "uploads in all")
	c := flag.Int("c", 4, "uploads in flight at once")
	imagePath := flag.String("image", "shared/testdata/coffee.jpg", "photo to upload")
	pid := flag.Int("pid", 0, "server process id, to read its peak RSS (VmHWM) from /proc")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long")
	header := flag.Bool("header", false, "print the table header first")
	flag.Parse()
	if err := run(*base, *n, *c, *imagePath, *pid, *timeout, *header); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(base string, n, c int, imagePath string, pid int, timeout time.Duration, header bool) error {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad -url %q", base)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return fmt.Errorf("refusing to load %s: only servers on this machine", h)
	}
	photo, err := os.ReadFile(imagePath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Minute}

	jobs := make(chan int)
	var mu sync.Mutex
	var lat []time.Duration
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for range jobs {
				d, err := oneUser(ctx, client, u, photo, filepath.Base(imagePath))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start)

	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(p*float64(len(lat))+0.5) - 1
		return lat[min(max(i, 0), len(lat)-1)].Seconds()
	}
	if header {
		fmt.Println("| uploads | concurrency | ok | errors | wall s | jobs/s | p50 s | p95 s | max s | server peak RSS MiB |")
		fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	}
	rss := "n/a"
	if pid > 0 {
		if kb, err := vmHWM(pid); err == nil {
			rss = fmt.Sprintf("%.0f", float64(kb)/1024)
		}
	}
	fmt.Printf("| %d | %d | %d | %d | %.1f | %.3f | %.2f | %.2f | %.2f | %s |\n",
		n, c, len(lat), len(errs), wall.Seconds(), float64(len(lat))/wall.Seconds(), pct(0.50), pct(0.95), pct(1), rss)
	for i, err := range errs {
		if i == 5 {
			fmt.Fprintf(os.Stderr, "… and %d more errors\n", len(errs)-5)
			break
		}
		fmt.Fprintln(os.Stderr, "error:", err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d uploads failed", len(errs), n)
	}
	return nil
}

// oneUser is one visit of the web app: upload, follow, download. It returns the time from the upload's start to the
// result's last byte.
func oneUser(ctx context.Context, client *http.Client, base *url.URL, photo []byte, name string) (time.Duration, error) {
	t0 := time.Now()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", name)
	_, _ = fw.Write(photo)
	_ = mw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/api/jobs", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	var created struct {
		ID    string `json:"id"`
		WSURL string `json:"ws_url"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || err != nil {
		return 0, fmt.Errorf("upload: HTTP %d %v", res.StatusCode, err)
	}

	ws := *base
	ws.Scheme = strings.Replace(base.Scheme, "http", "ws", 1)
	ws.Path = created.WSURL
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, ws.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("websocket: %w", err)
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(d)
	}
	var st struct {
		Status    string `json:"status"`
		ResultURL string `json:"result_url"`
		Error     *struct {
			Code, Message string
		} `json:"error"`
	}
	for st.Status != "done" {
		if err := conn.ReadJSON(&st); err != nil {
			return 0, fmt.Errorf("websocket read: %w", err)
		}
		if st.Status == "failed" {
			return 0, fmt.Errorf("job %s failed: %+v", created.ID, st.Error)
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base.String()+st.ResultURL, nil)
	res, err = client.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || err != nil || n == 0 {
		return 0, fmt.Errorf("result: HTTP %d, %d bytes, %v", res.StatusCode, n, err)
	}
	return time.Since(t0), nil
}

// vmHWM reads a process's peak resident set size in KiB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, errors.New("no VmHWM line")
}

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backless/backless/shared/cloudtasks"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/postgres"
	"github.com/backless/backless/shared/s3"
)

// services are the endpoints build/services/start.sh writes to its env file.
type services struct {
	databaseURL, redisURL                         string
	s3Endpoint, s3Bucket, s3Region, s3Key, s3Secr string
	tasksHost, project, region, queue             string
}

func needServices(t *testing.T) services {
	t.Helper()
	s := services{
		databaseURL: os.Getenv("BACKLESS_TEST_DATABASE_URL"), redisURL: os.Getenv("BACKLESS_TEST_REDIS_URL"),
		s3Endpoint: os.Getenv("BACKLESS_TEST_S3_ENDPOINT"), s3Bucket: os.Getenv("BACKLESS_TEST_S3_BUCKET"),
		s3Region: os.Getenv("BACKLESS_TEST_S3_REGION"), s3Key: os.Getenv("BACKLESS_TEST_S3_ACCESS_KEY"),
		s3Secr:    os.Getenv("BACKLESS_TEST_S3_SECRET_KEY"),
		tasksHost: os.Getenv("BACKLESS_TEST_CLOUD_TASKS_EMULATOR_HOST"), project: os.Getenv("BACKLESS_TEST_PROJECT_NAME"),
		region: os.Getenv("BACKLESS_TEST_QUEUE_REGION"), queue: os.Getenv("BACKLESS_TEST_QUEUE_ID"),
	}
	if s.databaseURL == "" || s.redisURL == "" || s.s3Endpoint == "" || s.tasksHost == "" {
		// Only outside the test command, which always starts the services.
		t.Skip(`needs Postgres, Redis, MinIO and the Cloud Tasks emulator: . "$(build/services/start.sh)"`)
	}
	return s
}

func (s services) env(secret string) map[string]string {
	return map[string]string{
		"DATABASE_URL": s.databaseURL, "REDIS_URL": s.redisURL,
		"STORAGE": "s3", "S3_ENDPOINT": s.s3Endpoint, "S3_BUCKET": s.s3Bucket, "S3_REGION": s.s3Region,
		"AWS_ACCESS_KEY_ID": s.s3Key, "AWS_SECRET_ACCESS_KEY": s.s3Secr,
		"TASK_SECRET": secret, "LOG_LEVEL": "debug",
		"DELETE_GRACE": "1s",
		// The database is shared with other tests: sweep nothing young enough to be theirs.
		"JOB_TTL": "6h",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func randomSecret(t *testing.T) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// checkCutout fails unless b is an RGBA PNG of the photo's size.
func checkCutout(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("result is not a PNG: %v", err)
	}
	if _, ok := img.(*image.NRGBA); !ok || img.Bounds() != image.Rect(0, 0, 600, 400) {
		t.Fatalf("result is %T %v; want RGBA 600×400", img, img.Bounds())
	}
}

// wsWatch follows a job's socket and returns the statuses it heard up to done or failed, with the last state.
type watcher struct {
	c *websocket.Conn
}

func watch(t *testing.T, server *proc, id string) *watcher {
	t.Helper()
	c, res, err := websocket.DefaultDialer.Dial("ws://"+server.addr+"/ws/jobs/"+id, nil)
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		t.Fatalf("websocket: %v (HTTP %d)", err, code)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &watcher{c: c}
}

func (w *watcher) until(t *testing.T, timeout time.Duration) ([]string, jobState) {
	t.Helper()
	var statuses []string
	var last jobState
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	for {
		var st jobState
		if err := w.c.ReadJSON(&st); err != nil {
			t.Fatalf("socket read after %v: %v", statuses, err)
		}
		if st.Type != "status" {
			t.Fatalf("message type %q", st.Type)
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != st.Status {
			statuses = append(statuses, st.Status)
		}
		last = st
		if st.Status == "done" || st.Status == "failed" {
			return statuses, last
		}
	}
}

func (w *watcher) close() {
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	_ = w.c.Close()
}

// TestProduction runs the production path: two server replicas and a worker as separate processes, the job rows in
// Postgres, the images in MinIO, the tasks through the Cloud Tasks emulator, the events through Redis.
func TestProduction(t *testing.T) {
	svc := needServices(t)
	ctx := ctxT(t)
	secret := randomSecret(t)
	worker := start(t, "worker", binaries.worker, svc.env(secret))
	serverEnv := with(svc.env(secret), "WORKER_URL", "http://"+worker.addr,
		"CLOUD_TASKS_EMULATOR_HOST", svc.tasksHost, "PROJECT_NAME", svc.project,
		"QUEUE_REGION", svc.region, "QUEUE_ID", svc.queue)
	a := start(t, "server A", binaries.server, serverEnv)
	b := start(t, "server B", binaries.server, serverEnv)
	photo := readPhoto(t)

	// Direct clients of the services, to look behind the servers' backs.
	db, err := postgres.Open(ctx, svc.databaseURL, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bucket, err := s3.New(ctx, s3.Config{Bucket: svc.s3Bucket, Region: svc.s3Region, Endpoint: svc.s3Endpoint,
		PathStyle: true, AccessKey: svc.s3Key, SecretKey: svc.s3Secr})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := cloudtasks.New(ctx, cloudtasks.Config{Project: svc.project, Region: svc.region, QueueID: svc.queue,
		TargetURL: job.TaskURL("http://" + worker.addr), Secret: secret, EmulatorHost: svc.tasksHost})
	if err != nil {
		t.Fatal(err)
	}
	defer tasks.Close()
	blobGone := func(key string) bool {
		rc, err := bucket.Get(ctx, key)
		if err == nil {
			rc.Close()
			return false
		}
		if !job.IsNotFound(err) {
			t.Fatalf("S3 get %s: %v", key, err)
		}
		return true
	}
	// newJob makes a queued job behind the servers' backs, as a server would, without enqueueing it.
	newJob := func(t *testing.T) string {
		t.Helper()
		id := job.NewID()
		if err := bucket.Put(ctx, job.OriginalKey(id), bytes.NewReader(photo), int64(len(photo)), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		if err := db.Create(ctx, &job.Job{ID: id, Filename: "coffee.jpg", Width: 600, Height: 400}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = bucket.Delete(ctx, job.OriginalKey(id), job.CutoutKey(id))
			_ = db.Delete(ctx, id)
		})
		return id
	}

	t.Run("upload on A, socket on B, result, nothing kept", func(t *testing.T) {
		id := submit(t, a, photo)
		w := watch(t, b, id)
		statuses, last := w.until(t, 3*time.Minute)
		if strings.Join(statuses, ",") != "queued,processing,done" && strings.Join(statuses, ",") != "processing,done" {
			t.Fatalf("socket heard %v; want processing then done", statuses)
		}
		if last.ResultURL != "/api/jobs/"+id+"/result" || last.Width != 600 || last.Filename != "coffee.jpg" {
			t.Fatalf("done state %+v", last)
		}

		// The result: a redirect to a presigned S3 URL that downloads under the user's name.
		var redirected string
		client := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			redirected = req.URL.String()
			return nil
		}}
		res, err := client.Get(b.url(last.ResultURL))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(redirected, svc.s3Endpoint) ||
			!strings.Contains(res.Header.Get("Content-Disposition"), `filename="coffee.png"`) {
			t.Fatalf("result: HTTP %d via %q, %v", res.StatusCode, redirected, res.Header)
		}
		checkCutout(t, body)
		if !blobGone(job.OriginalKey(id)) {
			t.Error("the original is kept after processing")
		}

		// A client connecting after the end still hears it; polling says the same.
		late := watch(t, a, id)
		if st, lastLate := late.until(t, 10*time.Second); len(st) != 1 || lastLate.Status != "done" {
			t.Fatalf("late socket heard %v", st)
		}
		if st := poll(t, a, id, time.Second); st.Status != "done" || st.ResultURL != last.ResultURL {
			t.Fatalf("poll %+v", st)
		}

		// B's socket closes, but one is open on A: B's deletion must give way.
		w.close()
		time.Sleep(2500 * time.Millisecond) // 2.5 × DELETE_GRACE
		if code := statusOf(t, b, id); code != 200 || blobGone(job.CutoutKey(id)) {
			t.Fatalf("deleted under an open socket on the other replica (GET %d)", code)
		}
		// The last socket closes: after the grace period the row and the objects are gone.
		late.close()
		eventually(t, 20*time.Second, "job deleted after the last socket closed", func() bool {
			_, err := db.Get(ctx, id)
			return job.IsNotFound(err)
		})
		if !blobGone(job.CutoutKey(id)) || !blobGone(job.OriginalKey(id)) {
			t.Fatal("objects left in S3 after the job was deleted")
		}
		if code := statusOf(t, a, id); code != 404 {
			t.Fatalf("GET after deletion = %d", code)
		}
	})

	t.Run("polling without sockets, duplicate delivery processed once", func(t *testing.T) {
		id := submit(t, b, photo)
		st := poll(t, a, id, 3*time.Minute)
		if st.Status != "done" {
			t.Fatalf("job %+v", st)
		}
		before, err := db.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		cut := func() []byte {
			rc, err := bucket.Get(ctx, job.CutoutKey(id))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
		cutBefore := cut()
		dups := worker.metric(t, `backless_job_deliveries_total{outcome="duplicate"}`)
		// The same task again, as a queue redelivering it.
		if err := tasks.Enqueue(ctx, id); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "the redelivery reached the worker", func() bool {
			return worker.metric(t, `backless_job_deliveries_total{outcome="duplicate"}`) > dups
		})
		after, _ := db.Get(ctx, id)
		if after.Attempts != 1 || after.Status != job.StatusDone || !after.UpdatedAt.Equal(before.UpdatedAt) ||
			!bytes.Equal(cut(), cutBefore) {
			t.Fatalf("a duplicate delivery changed the job: %+v → %+v", before, after)
		}
		del(t, a, id)

		// Two deliveries at once: one processes, the other waits (503, retried) and then finds it done.
		id = newJob(t)
		done := worker.metric(t, `backless_job_deliveries_total{outcome="done"}`)
		dups = worker.metric(t, `backless_job_deliveries_total{outcome="duplicate"}`)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if err := tasks.Enqueue(ctx, id); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		eventually(t, 3*time.Minute, "both deliveries settled", func() bool {
			return worker.metric(t, `backless_job_deliveries_total{outcome="done"}`) >= done+1 &&
				worker.metric(t, `backless_job_deliveries_total{outcome="duplicate"}`) >= dups+1
		})
		j, _ := db.Get(ctx, id)
		if j.Status != job.StatusDone || j.Attempts != 1 {
			t.Fatalf("job %+v; want done after exactly one claim", j)
		}
		if got := worker.metric(t, `backless_job_deliveries_total{outcome="done"}`); got != done+1 {
			t.Fatalf("%v jobs processed for one job", got-done)
		}
	})

	t.Run("a 5xx answer is retried by the queue", func(t *testing.T) {
		id := newJob(t)
		// A worker claimed the job and died: its lease (2 s) still runs when the task arrives.
		crashed, err := postgres.Open(ctx, svc.databaseURL, postgres.Options{Lease: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer crashed.Close()
		if _, err := crashed.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
		refused := worker.metric(t, `backless_worker_tasks_total{code="503"}`)
		if err := tasks.Enqueue(ctx, id); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Minute, "the job is done", func() bool {
			j, err := db.Get(ctx, id)
			return err == nil && j.Status == job.StatusDone
		})
		if got := worker.metric(t, `backless_worker_tasks_total{code="503"}`); got <= refused {
			t.Fatal("the worker never answered 503, so the retry was not tested")
		}
		if j, _ := db.Get(ctx, id); j.Attempts != 2 {
			t.Fatalf("attempts %d; want the dead worker's and the retry's", j.Attempts)
		}
	})

	t.Run("the task endpoint refuses requests without the secret", func(t *testing.T) {
		id := newJob(t)
		for _, h := range []map[string]string{{}, {job.TaskSecretHeader: "guess"}} {
			req, _ := http.NewRequest(http.MethodPost, worker.url(job.TaskPath), bytes.NewReader(job.TaskBody(id)))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 && res.StatusCode != 403 {
				t.Fatalf("task with %v: HTTP %d", h, res.StatusCode)
			}
		}
		if j, _ := db.Get(ctx, id); j.Status != job.StatusQueued || j.Attempts != 0 {
			t.Fatalf("a refused task touched the job: %+v", j)
		}
	})

	t.Run("synchronous removal through the worker", func(t *testing.T) {
		res := upload(t, b.url("/api/remove"), "coffee.jpg", photo, map[string]string{"crop": "true", "crop_margin": "5"})
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("POST /api/remove: HTTP %d %.300s", res.StatusCode, body)
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if r := img.Bounds(); r.Dx() >= 600 && r.Dy() >= 400 || r.Dx() < 50 || r.Dy() < 50 {
			t.Fatalf("cropped result is %v", r)
		}
	})

	t.Run("bad uploads", func(t *testing.T) {
		for name, data := range map[string][]byte{
			"text":      []byte("just text"),
			"truncated": photo[:len(photo)/2],
			"empty":     {},
		} {
			res := upload(t, a.url("/api/jobs"), "x.jpg", data, nil)
			e := readJSON[map[string]map[string]string](t, res)
			if res.StatusCode < 400 || res.StatusCode >= 500 || e["error"]["code"] == "" {
				t.Errorf("%s: HTTP %d %v", name, res.StatusCode, e)
			}
		}
	})

	// Both servers and the worker say they are ready and count what they did.
	for _, p := range []*proc{a, b, worker} {
		res, err := http.Get(p.url("/readyz"))
		if err != nil {
			t.Fatal(err)
		}
		r := readJSON[map[string]any](t, res)
		if res.StatusCode != 200 || r["status"] != "ok" {
			t.Errorf("%s not ready: %v", p.name, r)
		}
	}
	if n := a.metric(t, `backless_jobs_total{state="queued"}`) + b.metric(t, `backless_jobs_total{state="queued"}`); n < 3 {
		t.Errorf("servers counted %v created jobs", n)
	}
	if n := worker.metric(t, `backless_stage_duration_seconds_count{stage="inference"}`); n < 4 {
		t.Errorf("worker counted %v inferences", n)
	}
}

func del(t *testing.T, server *proc, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, server.url("/api/jobs/"+id), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: HTTP %d", res.StatusCode)
	}
}

// TestEmbedded runs the all-in-one server `make run` starts: no service configured, jobs processed in the process,
// kept in a folder, and resumed after a crash.
func TestEmbedded(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"DATA_DIR": data, "LOG_LEVEL": "debug"}
	srv := start(t, "all-in-one server", binaries.server, env)
	photo := readPhoto(t)

	id := submit(t, srv, photo)
	w := watch(t, srv, id)
	if statuses, last := w.until(t, 3*time.Minute); last.Status != "done" {
		t.Fatalf("socket heard %v, ending %+v", statuses, last)
	}
	res, err := http.Get(srv.url("/api/jobs/" + id + "/result"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Disposition") != `attachment; filename="coffee.png"` {
		t.Fatalf("result: HTTP %d %v", res.StatusCode, res.Header)
	}
	checkCutout(t, body)
	w.close()

	// The web app is served for its routes.
	res, err = http.Get(srv.url("/wait/" + id))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("GET /wait/{id}: HTTP %d", res.StatusCode)
	}

	// Ready, having checked that both folders take writes.
	res, err = http.Get(srv.url("/readyz"))
	if err != nil {
		t.Fatal(err)
	}
	ready := readJSON[struct {
		Status string
		Checks map[string]string
	}](t, res)
	if res.StatusCode != 200 || ready.Status != "ok" || ready.Checks["jobs_folder"] != "ok" || ready.Checks["blobs_folder"] != "ok" {
		t.Fatalf("readyz: HTTP %d %+v", res.StatusCode, ready)
	}

	// A job accepted just before a crash is finished after the restart.
	id = submit(t, srv, photo)
	eventually(t, 3*time.Minute, "the job is being processed", func() bool {
		r, err := http.Get(srv.url("/api/jobs/" + id))
		if err != nil {
			return false
		}
		return readJSON[jobState](t, r).Status == "processing"
	})
	srv.kill()
	var onDisk job.Job
	raw, err := os.ReadFile(filepath.Join(data, "jobs", id+".json"))
	if err != nil || json.Unmarshal(raw, &onDisk) != nil || onDisk.Status != job.StatusProcessing {
		t.Fatalf("after the crash the job file says %q (%v); the test needs it unfinished", onDisk.Status, err)
	}
	srv = start(t, "restarted server", binaries.server, env)
	if st := poll(t, srv, id, 3*time.Minute); st.Status != "done" {
		t.Fatalf("resumed job ended %+v", st)
	}
	res, err = http.Get(srv.url("/api/jobs/" + id + "/result"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	checkCutout(t, body)
}

package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	endpoint := os.Getenv("BACKLESS_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip(`BACKLESS_TEST_S3_ENDPOINT is unset; start MinIO with: . "$(build/services/start.sh minio)"`)
	}
	return Config{
		Endpoint:  endpoint,
		Bucket:    os.Getenv("BACKLESS_TEST_S3_BUCKET"),
		Region:    os.Getenv("BACKLESS_TEST_S3_REGION"),
		AccessKey: os.Getenv("BACKLESS_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("BACKLESS_TEST_S3_SECRET_KEY"),
		PathStyle: true,
	}
}

func newTest(t *testing.T) *Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := New(ctx, testConfig(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.CreateBucket(ctx); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	return b
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, b *Bucket, key string) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func TestPutGetDelete(t *testing.T) {
	b := newTest(t)
	ctx := context.Background()
	id := job.NewID()
	orig, cut := job.OriginalKey(id), job.CutoutKey(id)
	t.Cleanup(func() { _ = b.Delete(context.Background(), orig, cut) })

	// A seekable body (hashed and signed) and a streamed one (unsigned payload), both of 1 MiB + 3 bytes, so a
	// truncation or a chunking mistake would show.
	a := randomBytes(t, 1<<20+3)
	if err := b.Put(ctx, orig, bytes.NewReader(a), int64(len(a)), "image/jpeg"); err != nil {
		t.Fatalf("Put seekable: %v", err)
	}
	c := randomBytes(t, 1<<20+3)
	pr, pw := io.Pipe()
	go func() { _, err := pw.Write(c); pw.CloseWithError(err) }()
	if err := b.Put(ctx, cut, pr, int64(len(c)), "image/png"); err != nil {
		t.Fatalf("Put streamed: %v", err)
	}
	if got := readAll(t, b, orig); !bytes.Equal(got, a) {
		t.Fatalf("original: got %d bytes, not what was put", len(got))
	}
	if got := readAll(t, b, cut); !bytes.Equal(got, c) {
		t.Fatalf("cutout: got %d bytes, not what was put", len(got))
	}

	if err := b.Delete(ctx, orig, cut, job.CutoutKey(job.NewID())); err != nil {
		t.Fatalf("Delete (with a key that never existed): %v", err)
	}
	for _, k := range []string{orig, cut} {
		if _, err := b.Get(ctx, k); !job.IsNotFound(err) {
			t.Fatalf("Get after Delete: %v, want not_found", err)
		}
	}
}

func TestPutUnknownSize(t *testing.T) {
	b := newTest(t)
	ctx := context.Background()
	key := job.OriginalKey(job.NewID())
	t.Cleanup(func() { _ = b.Delete(context.Background(), key) })

	if err := b.Put(ctx, key, io.MultiReader(strings.NewReader("abc")), -1, "text/plain"); err == nil {
		t.Fatal("Put of a non-seekable body of unknown size succeeded")
	}
	if err := b.Put(ctx, key, strings.NewReader("seekable"), -1, "text/plain"); err != nil {
		t.Fatalf("Put of a seekable body of unknown size: %v", err)
	}
	if got := string(readAll(t, b, key)); got != "seekable" {
		t.Fatalf("got %q", got)
	}
}

func TestPresignedURLDownloadsWithName(t *testing.T) {
	b := newTest(t)
	ctx := context.Background()
	key := job.CutoutKey(job.NewID())
	t.Cleanup(func() { _ = b.Delete(context.Background(), key) })
	data := randomBytes(t, 4096)
	if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	for _, name := range []string{job.DownloadName("Holiday photo.JPG"), job.DownloadName("été à Paris.webp")} {
		u, err := b.URL(ctx, key, name)
		if err != nil {
			t.Fatalf("URL: %v", err)
		}
		if !strings.Contains(u, "X-Amz-Signature=") || !strings.Contains(u, "response-content-disposition=") {
			t.Fatalf("not a presigned URL: %s", u)
		}
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET presigned URL: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET presigned URL: %s: %s", resp.Status, body)
		}
		if !bytes.Equal(body, data) {
			t.Fatalf("presigned GET returned %d bytes, not the object", len(body))
		}
		if got, want := resp.Header.Get("Content-Disposition"), job.ContentDisposition(name); got != want {
			t.Fatalf("Content-Disposition = %q, want %q", got, want)
		}
		if got := resp.Header.Get("Content-Type"); got != "image/png" {
			t.Fatalf("Content-Type = %q", got)
		}
	}
	if got := job.ContentDisposition(job.DownloadName("Holiday photo.JPG")); got != `attachment; filename="Holiday photo.png"` {
		t.Fatalf("disposition = %q", got)
	}

	// A tampered URL (another key, same signature) is refused by the server.
	u, err := b.URL(ctx, key, "x.png")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(strings.Replace(u, "cutout.png", "original", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered URL: %s, want 403", resp.Status)
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	cfg := testConfig(t)
	cfg.Endpoint = "http://127.0.0.1:1"
	cfg.Timeout = 3 * time.Second
	cfg.TransferTimeout = 3 * time.Second
	ctx := context.Background()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", strings.NewReader("x"), 1, "text/plain"); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Put to a closed port: %v, want unavailable", err)
	}
	if _, err := b.Get(ctx, "k"); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("Get from a closed port: %v, want unavailable", err)
	}
	if _, err := New(ctx, Config{}); err == nil {
		t.Fatal("New accepted a config without a bucket")
	}
	if _, err := New(ctx, Config{Bucket: "b", AccessKey: "only-one"}); err == nil {
		t.Fatal("New accepted an access key without a secret")
	}
}

// TestPresignForPublicEndpoint reaches the same MinIO under a second name (localhost instead of 127.0.0.1), as a
// browser reaches a MinIO that the programs call minio:9000: the URL must name the public host and its signature
// must hold there.
func TestPresignForPublicEndpoint(t *testing.T) {
	b := newTest(t)
	ctx := context.Background()
	key := job.CutoutKey(job.NewID())
	t.Cleanup(func() { _ = b.Delete(context.Background(), key) })
	data := randomBytes(t, 1024)
	if err := b.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	public := strings.Replace(cfg.Endpoint, "127.0.0.1", "localhost", 1)
	if public == cfg.Endpoint {
		t.Fatalf("test endpoint %s does not name 127.0.0.1", cfg.Endpoint)
	}
	cfg.PublicEndpoint = public
	pb, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, err := pb.URL(ctx, key, "x.png")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, public+"/") {
		t.Fatalf("URL %s is not on the public endpoint %s", u, public)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET on the public endpoint: %s, %d bytes", resp.Status, len(body))
	}
}

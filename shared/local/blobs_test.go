package local

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backless/backless/shared/job"
)

func TestBlobsPutGetDelete(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := job.NewID()
	data := bytes.Repeat([]byte("backless"), 100_000)
	if err := b.Put(ctx, job.OriginalKey(id), bytes.NewReader(data), int64(len(data)), "image/jpeg"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := b.Put(ctx, job.CutoutKey(id), strings.NewReader("png"), -1, "image/png"); err != nil {
		t.Fatalf("Put of unknown size: %v", err)
	}
	rc, err := b.Get(ctx, job.OriginalKey(id))
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, %v", len(got), err)
	}
	if _, ok := rc.(io.ReadSeeker); !ok {
		t.Fatal("Get's reader cannot seek; the server needs that to serve ranges")
	}
	if u, err := b.URL(ctx, job.CutoutKey(id), "x.png"); u != "" || err != nil {
		t.Fatalf("URL = %q, %v; want empty (the server streams)", u, err)
	}
	// No temporary files are left beside the blobs.
	entries, _ := os.ReadDir(filepath.Join(dir, "jobs", id))
	if len(entries) != 2 {
		t.Fatalf("job folder holds %d entries, want 2", len(entries))
	}

	if err := b.Delete(ctx, job.OriginalKey(id), job.CutoutKey(id), job.CutoutKey(job.NewID())); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, job.CutoutKey(id)); !job.IsNotFound(err) {
		t.Fatalf("Get after Delete: %v, want not_found", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs", id)); !os.IsNotExist(err) {
		t.Fatalf("the job's empty folder is left: %v", err)
	}
}

func TestBlobsRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"../escape", "/etc/passwd", "jobs/../../x", "", "a\\b", "jobs//x"} {
		if err := b.Put(ctx, key, strings.NewReader("x"), 1, ""); err == nil {
			t.Errorf("Put accepted key %q", key)
		}
		if _, err := b.Get(ctx, key); err == nil {
			t.Errorf("Get accepted key %q", key)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "escape")); !os.IsNotExist(err) {
		t.Fatal("a key escaped the folder")
	}
	key := job.OriginalKey(job.NewID())
	if err := b.Put(ctx, key, strings.NewReader("short"), 10, ""); err == nil {
		t.Fatal("Put accepted a body shorter than its size")
	}
	if err := b.Put(ctx, key, strings.NewReader("much too long"), 4, ""); err == nil {
		t.Fatal("Put accepted a body longer than its size")
	}
	if _, err := b.Get(ctx, key); !job.IsNotFound(err) {
		t.Fatalf("a failed Put left a blob: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Put(cctx, key, strings.NewReader("x"), 1, ""); err == nil {
		t.Fatal("Put ignored a cancelled context")
	}
}

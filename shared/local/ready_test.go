package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestChecksFollowTheFolders(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(filepath.Join(dir, "jobs"), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := NewBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Check(ctx); err != nil {
		t.Fatalf("store: %v", err)
	}
	if err := blobs.Check(ctx); err != nil {
		t.Fatalf("blobs: %v", err)
	}
	for _, sub := range []string{"jobs", "blobs"} {
		left, _ := os.ReadDir(filepath.Join(dir, sub))
		if len(left) != 0 {
			t.Fatalf("%s: the checks left %v behind", sub, left)
		}
	}

	// The folders are removed under the running process (tests run as root, so a read-only mode would not stop
	// the writes; a missing folder does).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx); err == nil {
		t.Error("store: no error with its folder gone")
	}
	if err := blobs.Check(ctx); err == nil {
		t.Error("blobs: no error with their folder gone")
	}
}

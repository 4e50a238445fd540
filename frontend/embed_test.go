package frontend

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// Built must agree with what is on disk at compile time: the test binary
// embeds the same dist/ that this test stats.
func TestBuiltMatchesDist(t *testing.T) {
	_, err := os.Stat("dist/index.html")
	onDisk := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat dist/index.html: %v", err)
	}
	if got := Built(); got != onDisk {
		t.Fatalf("Built() = %v, but dist/index.html exists on disk = %v", got, onDisk)
	}
}

// Whatever state the checkout is in, FS serves a page; a built app's page
// references embedded scripts.
func TestFSServesAnIndex(t *testing.T) {
	page := readIndex(t, FS())
	if !Built() {
		if !strings.Contains(page, "npm run build") {
			t.Fatalf("placeholder does not say how to build: %.200q", page)
		}
		return
	}
	if strings.Contains(page, "frontend not built") {
		t.Fatal("Built() is true but FS serves the placeholder")
	}
	entries, err := fs.ReadDir(FS(), "assets")
	if err != nil || len(entries) == 0 {
		t.Fatalf("built app has no assets: %v (%d entries)", err, len(entries))
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".js") && !strings.Contains(page, "/assets/"+e.Name()) {
			t.Errorf("index.html does not reference %s", e.Name())
		}
	}
}

// Both states, independent of the checkout: an unbuilt dist holds only the
// .gitkeep marker.
func TestPick(t *testing.T) {
	ph := fstest.MapFS{"placeholder/index.html": {Data: []byte("<html>placeholder")}}
	unbuilt := fstest.MapFS{"dist/.gitkeep": {}}
	builtFS := fstest.MapFS{
		"dist/.gitkeep":        {},
		"dist/index.html":      {Data: []byte("<html>app")},
		"dist/assets/index.js": {Data: []byte("x")},
	}

	if built(unbuilt) {
		t.Error("built(dist with only .gitkeep) = true")
	}
	if got := readIndex(t, pick(unbuilt, ph)); got != "<html>placeholder" {
		t.Errorf("unbuilt index = %q, want the placeholder", got)
	}
	if _, err := fs.Stat(pick(unbuilt, ph), ".gitkeep"); err == nil {
		t.Error("placeholder FS exposes .gitkeep")
	}

	if !built(builtFS) {
		t.Error("built(dist with index.html) = false")
	}
	app := pick(builtFS, ph)
	if got := readIndex(t, app); got != "<html>app" {
		t.Errorf("built index = %q, want the app", got)
	}
	if _, err := fs.Stat(app, "assets/index.js"); err != nil {
		t.Errorf("built FS is not rooted at dist: %v", err)
	}

	dirIndex := fstest.MapFS{"dist/index.html/x": {}}
	if built(dirIndex) {
		t.Error("built() accepts a directory named index.html")
	}
}

func readIndex(t *testing.T, f fs.FS) string {
	t.Helper()
	b, err := fs.ReadFile(f, "index.html")
	if err != nil {
		t.Fatalf("read index.html: %v", err)
	}
	if !strings.Contains(string(b), "<html") {
		t.Fatalf("index.html is not an HTML page: %.80q", b)
	}
	return string(b)
}

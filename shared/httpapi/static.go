package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzhttp"

	"github.com/backless/backless/shared/job"
)

// static serves the single-page app: its files as they are, and index.html for every other path (the app's own
// router shows /wait/{id} and its not-found page). Vite names the files under assets/ after their content, so
// those are cached for a year; index.html is revalidated on every visit so a new release is seen at once.
type static struct {
	fsys  fs.FS
	etags map[string]string // file → strong ETag from its content
}

func newStatic(fsys fs.FS) http.Handler {
	s := &static{fsys: fsys, etags: map[string]string{}}
	// The files are embedded and few: hashing them once at start gives every answer a validator.
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		s.etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	// Compressed when the client accepts it; the ETag gets a suffix then, as the bytes differ.
	return gzhttp.GzipHandler(s)
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, r, job.Errorf(job.CodeMethodNotAllowed, "%s is not allowed here", r.Method))
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if _, ok := s.etags[name]; !ok {
		if strings.HasPrefix(name, "assets/") {
			// A missing script or style must not be answered with the page's HTML, which a browser would
			// then fail to run with a confusing error.
			writeError(w, r, job.Errorf(job.CodeNotFound, "no such file"))
			return
		}
		name = "index.html"
	}
	cache := "public, max-age=3600"
	switch {
	case name == "index.html":
		cache = "no-cache"
	case strings.HasPrefix(name, "assets/"):
		cache = "public, max-age=31536000, immutable"
	}
	s.serveFile(w, r, name, cache)
}

func (s *static) serveFile(w http.ResponseWriter, r *http.Request, name, cache string) {
	f, err := s.fsys.Open(name)
	if err != nil {
		writeError(w, r, job.Errorf(job.CodeNotFound, "no such file"))
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rs = bytes.NewReader(b)
	}
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("ETag", s.etags[name])
	// ServeContent picks the type from the name, answers If-None-Match with 304, and serves ranges.
	http.ServeContent(w, r, name, time.Time{}, rs)
}

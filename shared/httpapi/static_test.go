package httpapi

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/backless/backless/shared/job"
)

func TestStaticServesTheAppForEveryPage(t *testing.T) {
	app := fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><html><script src=/assets/app-1a2b.js></script>" + strings.Repeat(" ", 2000) + "</html>")},
		"assets/app-1a2b.js":  {Data: []byte("console.log('app');" + strings.Repeat("//", 1000))},
		"favicon.svg":         {Data: []byte("<svg/>")},
		"assets/sub/font.txt": {Data: []byte("f")},
	}
	ts := newTestServer(t, newBackends(t), refusingQueue(t), func(c *Config) { c.Frontend = app })
	get := func(path string, h http.Header) (*http.Response, string) {
		res := do(t, http.MethodGet, ts.url(path), h)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, p := range []string{"/", "/index.html", "/wait/abc", "/wait/abc/", "/some/unknown/page"} {
		res, body := get(p, nil)
		if res.StatusCode != 200 || !strings.HasPrefix(body, "<!doctype html>") ||
			res.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q %v", p, res.StatusCode, body[:min(20, len(body))], res.Header)
		}
	}
	res, body := get("/assets/app-1a2b.js", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(body, "console.log") ||
		res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
		!strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("asset: %d %v", res.StatusCode, res.Header)
	}
	etag := res.Header.Get("ETag")
	res, _ = get("/assets/app-1a2b.js", http.Header{"If-None-Match": {etag}})
	if etag == "" || res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation with ETag %q: %d", etag, res.StatusCode)
	}
	res, _ = get("/favicon.svg", nil)
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("favicon: %d %v", res.StatusCode, res.Header)
	}
	// A missing asset is a 404, not the page.
	res = do(t, http.MethodGet, ts.url("/assets/app-old.js"), nil)
	wantError(t, res, http.StatusNotFound, job.CodeNotFound)
	res = do(t, http.MethodPost, ts.url("/wait/abc"), nil)
	wantError(t, res, http.StatusMethodNotAllowed, job.CodeMethodNotAllowed)

	// Text is compressed for clients that accept it.
	req, _ := http.NewRequest(http.MethodGet, ts.url("/assets/app-1a2b.js"), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("not compressed: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); !strings.HasPrefix(string(b), "console.log") {
		t.Fatal("compressed body differs")
	}
}

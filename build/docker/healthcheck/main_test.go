package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestHTTP(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()

	var stderr bytes.Buffer
	if code := run([]string{srv.URL + "/healthz"}, env(nil), &stderr); code != 0 {
		t.Fatalf("healthy server: exit %d, stderr %q", code, stderr.String())
	}
	status = http.StatusServiceUnavailable
	stderr.Reset()
	if code := run([]string{srv.URL + "/healthz"}, env(nil), &stderr); code != 1 {
		t.Fatalf("503: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "503") {
		t.Errorf("stderr %q does not give the status", stderr.String())
	}
}

// The default target is the local /healthz on $PORT, which is what the images' HEALTHCHECK relies on.
func TestDefaultTargetUsesPort(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run(nil, env(map[string]string{"PORT": u.Port()}), &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if code := run(nil, env(map[string]string{"PORT": u.Port(), "HOST": "0.0.0.0"}), &stderr); code != 0 {
		t.Fatalf("wildcard HOST: exit %d, stderr %q", code, stderr.String())
	}

	got, err := targetURL("", env(nil))
	if err != nil || got.String() != "http://127.0.0.1:8080/healthz" {
		t.Errorf("no PORT: %v, %v; want http://127.0.0.1:8080/healthz", got, err)
	}
	got, err = targetURL("", env(map[string]string{"PORT": "9000", "HOST": "::1"}))
	if err != nil || got.String() != "http://[::1]:9000/healthz" {
		t.Errorf("HOST ::1: %v, %v", got, err)
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var stderr bytes.Buffer
	if code := run([]string{"tcp://" + addr}, env(nil), &stderr); code != 0 {
		t.Fatalf("listening port: exit %d, stderr %q", code, stderr.String())
	}
	ln.Close()
	if code := run([]string{"tcp://" + addr}, env(nil), &stderr); code != 1 {
		t.Fatalf("closed port: exit %d, want 1", code)
	}
}

// A server that never answers is reported as unhealthy within the timeout rather than hanging the probe.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	var stderr bytes.Buffer
	if code := run([]string{"-timeout", "100ms", srv.URL}, env(nil), &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "deadline") {
		t.Errorf("stderr %q does not say it timed out", stderr.String())
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"ftp://x:1"},
		{"tcp://host-without-port"},
		{"http://a", "http://b"},
		{"-timeout", "0s"},
		{"-nope"},
	} {
		var stderr bytes.Buffer
		if code := run(args, env(nil), &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	var stderr bytes.Buffer
	if code := run(nil, env(map[string]string{"PORT": "http"}), &stderr); code != 2 {
		t.Errorf("PORT=http: exit %d, want 2", code)
	}
}

// Command healthcheck is the HEALTHCHECK of Backless's container images. The slim Debian images carry neither curl
// nor wget, and installing them for one probe would add a network tool to every container; this program uses the
// standard library only and is built with CGO_ENABLED=0, so the same static binary serves every image.
//
//	healthcheck                       GET http://127.0.0.1:$PORT/healthz (PORT as the server and worker read it)
//	healthcheck http://host:port/path GET that URL; healthy means a 2xx answer
//	healthcheck tcp://host:port       open a TCP connection (the Cloud Tasks emulator speaks only gRPC)
//
// It exits 0 when healthy, 1 when not (with the reason on stderr, which Docker keeps in the container's health log),
// and 2 for bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

func run(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Below Docker's own --timeout (5s in build/Dockerfile), so a hung service is reported with a reason rather
	// than the probe being killed.
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 1 || *timeout <= 0 {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout D] [http://host:port/path | tcp://host:port]")
		return 2
	}
	target, err := targetURL(fs.Arg(0), getenv)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := probe(ctx, target); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %s: %v\n", target.Redacted(), err)
		return 1
	}
	return 0
}

// targetURL returns the URL to probe: arg if given, else the local /healthz of a Backless process.
func targetURL(arg string, getenv func(string) string) (*url.URL, error) {
	if arg == "" {
		port := getenv("PORT")
		if port == "" {
			port = "8080"
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("PORT %q is not a port number", port)
		}
		// HOST is the listening address; unset or a wildcard means every interface, loopback included.
		host := getenv("HOST")
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		arg = "http://" + net.JoinHostPort(host, port) + "/healthz"
	}
	u, err := url.Parse(arg)
	if err != nil {
		return nil, fmt.Errorf("bad target: %w", err)
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("bad target %q: no host", arg)
	case u.Scheme == "tcp" && u.Port() == "":
		return nil, fmt.Errorf("bad target %q: tcp needs a port", arg)
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tcp":
		return nil, fmt.Errorf("bad target %q: want http://, https:// or tcp://", arg)
	}
	return u, nil
}

func probe(ctx context.Context, u *url.URL) error {
	if u.Scheme == "tcp" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	// A fresh transport without proxies: an HTTP_PROXY set for the application must not capture a local probe.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New(resp.Status)
	}
	return nil
}

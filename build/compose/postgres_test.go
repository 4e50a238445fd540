package compose

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runPostgresFromURL runs build/docker/postgres-from-url.sh with DATABASE_URL set to dbURL. The official postgres
// image's docker-entrypoint.sh cannot run here (no Docker engine, no postgres image), so a stand-in on PATH prints
// what it was given: the variables the real one reads, and its arguments.
func runPostgresFromURL(t *testing.T, dbURL string, set bool) (stdout, stderr string, err error) {
	t.Helper()
	bin := t.TempDir()
	fake := "#!/bin/sh\n" +
		`printf 'USER=%s\nPASSWORD=%s\nDB=%s\nDATABASE_URL=%s\nARGS=%s\n' ` +
		`"$POSTGRES_USER" "$POSTGRES_PASSWORD" "$POSTGRES_DB" "${DATABASE_URL-unset}" "$*"` + "\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-entrypoint.sh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(root(t), "build/docker/postgres-from-url.sh"), "postgres")
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
	if set {
		cmd.Env = append(cmd.Env, "DATABASE_URL="+dbURL)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func TestPostgresFromURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string
	}{
		{"postgres://backless:pg-Password_1@postgres:5432/backless?sslmode=disable",
			"USER=backless\nPASSWORD=pg-Password_1\nDB=backless\nDATABASE_URL=unset\nARGS=postgres\n"},
		{"postgresql://app:s3cr.t~x@db/appdb",
			"USER=app\nPASSWORD=s3cr.t~x\nDB=appdb\nDATABASE_URL=unset\nARGS=postgres\n"},
		// No database in the URL: PostgreSQL's own default, the user's name.
		{"postgres://app:pw@db:5432",
			"USER=app\nPASSWORD=pw\nDB=app\nDATABASE_URL=unset\nARGS=postgres\n"},
	} {
		stdout, stderr, err := runPostgresFromURL(t, tc.url, true)
		if err != nil {
			t.Errorf("%s: %v\n%s", tc.url, err, stderr)
			continue
		}
		if stdout != tc.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.url, stdout, tc.want)
		}
	}
}

func TestPostgresFromURLRefusesBadURLs(t *testing.T) {
	for _, tc := range []struct {
		url  string
		set  bool
		want string
	}{
		{"", false, "DATABASE_URL is not set"},
		{"", true, "DATABASE_URL is not set"},
		{"postgres://postgres:5432/db", true, "no user:password@"},
		{"postgres://backless@postgres:5432/db", true, "no password"},
		{"postgres://backless:@postgres:5432/db", true, "empty password"},
		{"postgres://:pw@postgres:5432/db", true, "empty user"},
		{"postgres://backless:p%40ss@postgres:5432/db", true, "percent-encoded"},
	} {
		stdout, stderr, err := runPostgresFromURL(t, tc.url, tc.set)
		if err == nil {
			t.Errorf("%q accepted: %s", tc.url, stdout)
			continue
		}
		if stdout != "" {
			t.Errorf("%q: postgres was started anyway", tc.url)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: error %q does not say %q", tc.url, stderr, tc.want)
		}
	}
}

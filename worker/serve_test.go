package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeIsTheDefaultAndNeedsTheServices(t *testing.T) {
	var out, errOut bytes.Buffer
	// No argument runs the task server, which refuses to start without its services.
	code := run(context.Background(), nil, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if code != 2 || !strings.Contains(errOut.String(), "DATABASE_URL and REDIS_URL") || !strings.Contains(errOut.String(), "TASK_SECRET") {
		t.Fatalf("worker with no configuration: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"serve", "-h"}, nil, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	if !strings.Contains(out.String(), "TASK_SECRET") || strings.Contains(out.String(), "WORKER_URL") {
		t.Fatalf("serve -h lists the wrong variables:\n%s", out.String())
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunUsageAndBadConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, v := range []string{"PORT", "WORKER_URL", "DELETE_GRACE", "CSRF_TRUSTED_ORIGINS"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("usage lacks %s", v)
		}
	}
	out.Reset()
	env := map[string]string{"PORT": "eighty", "STORAGE": "s3"}
	code := run(context.Background(), nil, &out, &errOut, func(k string) string { return env[k] })
	if code != 2 || !strings.Contains(errOut.String(), "PORT") || !strings.Contains(errOut.String(), "S3_BUCKET") {
		t.Fatalf("bad configuration: exit %d, %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"serve"}, &out, &errOut, func(string) string { return "" }); code != 2 {
		t.Fatalf("unknown argument: exit %d", code)
	}
}

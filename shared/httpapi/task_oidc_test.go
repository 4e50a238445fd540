package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/oidc"
	"github.com/backless/backless/shared/oidc/oidctesting"
	"github.com/backless/backless/shared/pipeline"
)

// The worker with OIDC verification on, as behind Google Cloud Tasks. Google's issuer cannot be reached from here:
// an issuer of the test's own on 127.0.0.1 (oidctesting) signs the tokens, the real verifier checks them.
func TestTaskEndpointChecksTheOIDCToken(t *testing.T) {
	const account = "tasks@backless-test.iam.gserviceaccount.com"
	is := oidctesting.New(t)

	b := newBackends(t)
	p, err := pipeline.New(pipeline.Config{
		Store: b.store, Blobs: b.blobs, Hub: b.hub, Engine: testEngine(t),
		ResultURL: ResultPath, Log: zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	audience := "http://" + ts.Listener.Addr().String() + job.TaskPath
	v, err := oidc.New(oidc.Config{Issuer: is.URL, Audience: audience, ServiceAccount: account})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewTaskHandler(TaskConfig{Secret: "s3cret", Token: v, Processor: p, Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = h
	ts.Start()
	t.Cleanup(ts.Close)

	token := func(email string) string { return is.Token(audience, email) }
	post := func(secret, bearer, id string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+job.TaskPath, strings.NewReader(string(job.TaskBody(id))))
		req.Header.Set(job.TaskSecretHeader, secret)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	ctx := context.Background()
	id := job.NewID()
	if err := b.store.Create(ctx, &job.Job{ID: id}); err != nil {
		t.Fatal(err)
	}
	// The secret alone no longer does; nor does a token of another account, nor a token without the secret.
	wantError(t, post("s3cret", "", id), http.StatusUnauthorized, job.CodeUnauthorized)
	wantError(t, post("s3cret", token("someone@example.com"), id), http.StatusForbidden, job.CodeForbidden)
	wantError(t, post("wrong", token(account), id), http.StatusForbidden, job.CodeForbidden)
	if j, _ := b.store.Get(ctx, id); j.Status != job.StatusQueued || j.Attempts != 0 {
		t.Fatalf("a refused task touched the job: %+v", j)
	}
	// Both together: the task is taken (a job that is gone is answered 200 without running the model).
	res := post("s3cret", token(account), job.NewID())
	if a := decodeJSON[map[string]any](t, res); res.StatusCode != http.StatusOK || a["outcome"] != "gone" {
		t.Fatalf("secret and token: %d %v", res.StatusCode, a)
	}
}

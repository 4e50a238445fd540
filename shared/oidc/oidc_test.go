package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/backless/backless/shared/job"
)

// Google's issuer cannot be reached from here, so these tests stand up an OpenID issuer of their own on 127.0.0.1
// (go-oidc's oidctest: discovery document and key set, as accounts.google.com serves them) and sign tokens with its
// key, shaped as Cloud Tasks' are. The emulator's tokens are checked in shared/cloudtasks.

const (
	audience = "https://worker.backless.example/_tasks/remove-background/"
	account  = "tasks@backless-test.iam.gserviceaccount.com"
)

type issuer struct {
	url   string
	key   *rsa.PrivateKey
	calls atomic.Int32
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: gooidc.RS256}}}
	is := &issuer{key: key}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.calls.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.SetIssuer(srv.URL)
	is.url = srv.URL
	return is
}

// token signs claims as Cloud Tasks' tokens have them; change edits them first.
func (is *issuer) token(key *rsa.PrivateKey, change func(c map[string]any)) string {
	now := time.Now()
	c := map[string]any{
		"iss": is.url, "aud": audience, "sub": "1234567890", "email": account, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	if change != nil {
		change(c)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		panic(err) // only maps of strings, numbers and booleans come here
	}
	return oidctest.SignIDToken(key, "k1", gooidc.RS256, string(raw))
}

func request(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/_tasks/remove-background/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestVerify(t *testing.T) {
	is := newIssuer(t)
	v, err := New(Config{Issuer: is.url, Audience: audience, ServiceAccount: account})
	if err != nil {
		t.Fatal(err)
	}
	if is.calls.Load() != 0 {
		t.Fatal("New called the issuer: a worker must start without it")
	}
	ctx := context.Background()
	if err := v.Verify(ctx, request(is.token(is.key, nil))); err != nil {
		t.Fatalf("a valid token was refused: %v", err)
	}
	// The same account's address in other case is the same account.
	if err := v.Verify(ctx, request(is.token(is.key, func(c map[string]any) { c["email"] = "Tasks@Backless-Test.iam.gserviceaccount.com" }))); err != nil {
		t.Fatalf("the account in other case was refused: %v", err)
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		req  *http.Request
		code job.Code
	}{
		"no token":           {request(""), job.CodeUnauthorized},
		"not a JWT":          {request("not-a-token"), job.CodeUnauthorized},
		"basic auth":         {func() *http.Request { r := request(""); r.SetBasicAuth("a", "b"); return r }(), job.CodeUnauthorized},
		"signed by another":  {request(is.token(other, nil)), job.CodeUnauthorized},
		"other audience":     {request(is.token(is.key, func(c map[string]any) { c["aud"] = "https://elsewhere.example/" })), job.CodeUnauthorized},
		"other issuer":       {request(is.token(is.key, func(c map[string]any) { c["iss"] = "https://accounts.example.com" })), job.CodeUnauthorized},
		"expired":            {request(is.token(is.key, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), job.CodeUnauthorized},
		"other account":      {request(is.token(is.key, func(c map[string]any) { c["email"] = "someone@example.com" })), job.CodeForbidden},
		"unverified address": {request(is.token(is.key, func(c map[string]any) { c["email_verified"] = false })), job.CodeForbidden},
	} {
		err := v.Verify(ctx, tc.req)
		if !job.IsCode(err, tc.code) {
			t.Errorf("%s: %v, want code %s", name, err, tc.code)
		}
	}
}

func TestIssuerUnreachable(t *testing.T) {
	is := newIssuer(t)
	token := is.token(is.key, nil)
	// A port nothing listens on: the task is refused as unavailable, so the queue retries it.
	v, err := New(Config{Issuer: "http://127.0.0.1:1", Audience: audience, ServiceAccount: account, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), request(token)); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("unreachable issuer: %v, want unavailable", err)
	}
	// An issuer that accepts the connection but never answers: the timeout ends the wait.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	v.cfg.Issuer = hang.URL
	v.cfg.Timeout = 200 * time.Millisecond
	if err := v.Verify(context.Background(), request(token)); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("silent issuer: %v, want unavailable", err)
	}
	// Once the issuer answers, the next task goes through: a failed discovery is not remembered.
	v.cfg.Issuer = is.url
	if err := v.Verify(context.Background(), request(token)); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
}

func TestConfig(t *testing.T) {
	if _, err := New(Config{Audience: audience}); err == nil {
		t.Error("no service account accepted")
	}
	if _, err := New(Config{ServiceAccount: account}); err == nil {
		t.Error("no audience accepted")
	}
	v, err := New(Config{Audience: audience, ServiceAccount: account})
	if err != nil || v.cfg.Issuer != GoogleIssuer {
		t.Fatalf("default issuer: %+v, %v", v, err)
	}
}

package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/oidc/oidctesting"
)

// Google's issuer cannot be reached from here: these tests run one of their own (oidctesting).

const (
	audience = "https://worker.backless.example/_tasks/remove-background/"
	account  = "tasks@backless-test.iam.gserviceaccount.com"
)

// token signs a Cloud Tasks token of is with key; change edits its claims first.
func token(is *oidctesting.Issuer, key *rsa.PrivateKey, change func(c map[string]any)) string {
	c := is.Claims(audience, account)
	if change != nil {
		change(c)
	}
	return is.Sign(key, c)
}

func request(token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/_tasks/remove-background/", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func TestVerify(t *testing.T) {
	is := oidctesting.New(t)
	v, err := New(Config{Issuer: is.URL, Audience: audience, ServiceAccount: account})
	if err != nil {
		t.Fatal(err)
	}
	if is.Calls() != 0 {
		t.Fatal("New called the issuer: a worker must start without it")
	}
	ctx := context.Background()
	if err := v.Verify(ctx, request(token(is, is.Key, nil))); err != nil {
		t.Fatalf("a valid token was refused: %v", err)
	}
	// The same account's address in other case is the same account.
	if err := v.Verify(ctx, request(token(is, is.Key, func(c map[string]any) { c["email"] = "Tasks@Backless-Test.iam.gserviceaccount.com" }))); err != nil {
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
		"signed by another":  {request(token(is, other, nil)), job.CodeUnauthorized},
		"other audience":     {request(token(is, is.Key, func(c map[string]any) { c["aud"] = "https://elsewhere.example/" })), job.CodeUnauthorized},
		"other issuer":       {request(token(is, is.Key, func(c map[string]any) { c["iss"] = "https://accounts.example.com" })), job.CodeUnauthorized},
		"expired":            {request(token(is, is.Key, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), job.CodeUnauthorized},
		"other account":      {request(token(is, is.Key, func(c map[string]any) { c["email"] = "someone@example.com" })), job.CodeForbidden},
		"unverified address": {request(token(is, is.Key, func(c map[string]any) { c["email_verified"] = false })), job.CodeForbidden},
	} {
		err := v.Verify(ctx, tc.req)
		if !job.IsCode(err, tc.code) {
			t.Errorf("%s: %v, want code %s", name, err, tc.code)
		}
	}
}

func TestIssuerUnreachable(t *testing.T) {
	is := oidctesting.New(t)
	tok := token(is, is.Key, nil)
	// A port nothing listens on: the task is refused as unavailable, so the queue retries it.
	v, err := New(Config{Issuer: "http://127.0.0.1:1", Audience: audience, ServiceAccount: account, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), request(tok)); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("unreachable issuer: %v, want unavailable", err)
	}
	// An issuer that accepts the connection but never answers: the timeout ends the wait.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	v.cfg.Issuer = hang.URL
	v.cfg.Timeout = 200 * time.Millisecond
	if err := v.Verify(context.Background(), request(tok)); !job.IsCode(err, job.CodeUnavailable) {
		t.Fatalf("silent issuer: %v, want unavailable", err)
	}
	// Once the issuer answers, the next task goes through: a failed discovery is not remembered.
	v.cfg.Issuer = is.URL
	if err := v.Verify(context.Background(), request(tok)); err != nil {
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

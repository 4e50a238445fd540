// Package oidc verifies the OpenID Connect ID tokens that Google Cloud Tasks attaches to a task when the queue is
// told to (an HTTP task's oidc_token, see shared/cloudtasks): the worker then knows a request was made by Google on
// behalf of the project's service account, not merely by someone who learnt the shared secret. It wraps
// github.com/coreos/go-oidc, which does the discovery, the key-set caching and rotation, and the JWT checks.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/backless/backless/shared/job"
)

// GoogleIssuer is the issuer of the tokens Google Cloud Tasks sends.
const GoogleIssuer = "https://accounts.google.com"

// Config says which tokens are accepted.
type Config struct {
	// Issuer is the token issuer's URL, whose /.well-known/openid-configuration names its signing keys.
	// Default GoogleIssuer.
	Issuer string
	// Audience must be the token's aud claim: what the queue was told to put there (by default the task's URL).
	Audience string
	// ServiceAccount must be the token's verified email claim: the account the queue signs tasks as.
	ServiceAccount string
	// Timeout bounds each call to the issuer (discovery and keys). Default 10 s.
	Timeout time.Duration
	// Client makes those calls. Default: an http.Client with Timeout.
	Client *http.Client
}

// Verifier checks the bearer token of a request. It is safe for concurrent use.
type Verifier struct {
	cfg Config

	mu       sync.Mutex
	verifier *gooidc.IDTokenVerifier // nil until the issuer's discovery document has been read
}

// New returns a verifier. It does not call the issuer yet: the first request does, so that a worker starts (and
// answers its health checks) while the issuer is unreachable; tasks are refused as unavailable until it is reached.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		cfg.Issuer = GoogleIssuer
	}
	if cfg.Audience == "" || cfg.ServiceAccount == "" {
		return nil, errors.New("oidc: an audience and a service account are needed")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	return &Verifier{cfg: cfg}, nil
}

// claims are the token's claims beyond those go-oidc checks (issuer, audience, expiry, signature).
type claims struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// Verify checks the request's "Authorization: Bearer <ID token>". The error's code is unauthorized for a missing,
// malformed, expired or badly signed token, forbidden for a valid token of another account, and unavailable when the
// issuer cannot be reached (the queue then retries).
func (v *Verifier) Verify(ctx context.Context, r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return job.Errorf(job.CodeUnauthorized, "tasks must carry an OIDC token (Authorization: Bearer)")
	}
	verifier, err := v.get(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		if ctx.Err() != nil {
			return job.Wrap(job.CodeUnavailable, err, "the OIDC token's keys cannot be fetched")
		}
		return job.Wrap(job.CodeUnauthorized, err, "the OIDC token is not valid")
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return job.Wrap(job.CodeUnauthorized, err, "the OIDC token's claims cannot be read")
	}
	if !strings.EqualFold(c.Email, v.cfg.ServiceAccount) || !c.EmailVerified {
		return job.Errorf(job.CodeForbidden, "the OIDC token is not from the queue's service account")
	}
	return nil
}

// get returns the verifier, reading the issuer's discovery document on first use (and again after a failure).
func (v *Verifier) get(ctx context.Context) (*gooidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	// The provider keeps the client for its later key fetches; the request's deadline only bounds this one.
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, v.cfg.Client), v.cfg.Issuer)
	if err != nil {
		return nil, job.Wrap(job.CodeUnavailable, err, fmt.Sprintf("the OIDC issuer %s cannot be read", v.cfg.Issuer))
	}
	v.verifier = p.Verifier(&gooidc.Config{ClientID: v.cfg.Audience})
	return v.verifier, nil
}

// Package oidctesting runs an OpenID Connect issuer on 127.0.0.1 for tests: Google's cannot be reached from here.
// It serves the discovery document and key set as accounts.google.com does (go-oidc's oidctest) and signs tokens
// shaped as Cloud Tasks' are.
package oidctesting

import (
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
)

const keyID = "k1"

// Issuer is a running issuer. Key signs its tokens; URL is its issuer URL.
type Issuer struct {
	URL   string
	Key   *rsa.PrivateKey
	calls atomic.Int32
}

// New starts an issuer, stopped when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: keyID, Algorithm: gooidc.RS256}}}
	is := &Issuer{Key: key}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.calls.Add(1)
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.SetIssuer(srv.URL)
	is.URL = srv.URL
	return is
}

// Calls counts the requests the issuer has answered.
func (is *Issuer) Calls() int { return int(is.calls.Load()) }

// Claims are a Cloud Tasks token's claims for audience and the account email, valid for five minutes.
func (is *Issuer) Claims(audience, email string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "aud": audience, "sub": "1234567890", "email": email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}

// Sign signs claims with key under the issuer's key id (key need not be the issuer's: a forged token).
func (is *Issuer) Sign(key *rsa.PrivateKey, claims map[string]any) string {
	raw, err := json.Marshal(claims)
	if err != nil {
		panic(err) // only maps of strings, numbers and booleans come here
	}
	return oidctest.SignIDToken(key, keyID, gooidc.RS256, string(raw))
}

// Token is a valid token for audience and email.
func (is *Issuer) Token(audience, email string) string {
	return is.Sign(is.Key, is.Claims(audience, email))
}

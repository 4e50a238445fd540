package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backless/backless/shared/s3"
)

// minio returns the test MinIO's settings (build/services/start.sh starts it and build/test.sh exports them); the
// test is skipped only when run outside the test command.
func minio(t *testing.T) (endpoint, region, access, secret string) {
	t.Helper()
	endpoint = os.Getenv("BACKLESS_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("BACKLESS_TEST_S3_ENDPOINT unset: run under build/test.sh (or source build/services/start.sh's env)")
	}
	return endpoint, os.Getenv("BACKLESS_TEST_S3_REGION"), os.Getenv("BACKLESS_TEST_S3_ACCESS_KEY"),
		os.Getenv("BACKLESS_TEST_S3_SECRET_KEY")
}

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestCreatesBucketOnce(t *testing.T) {
	endpoint, region, access, secret := minio(t)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "mkbucket-test-" + hex.EncodeToString(b)
	vars := map[string]string{
		"STORAGE": "s3", "S3_BUCKET": name, "S3_ENDPOINT": endpoint, "S3_REGION": region,
		"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "BACKLESS_CACHE": t.TempDir(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() { deleteBucket(t, endpoint, region, access, secret, name) })

	bucket, err := s3.New(ctx, s3.Config{Bucket: name, Region: region, Endpoint: endpoint, PathStyle: true,
		AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.Check(ctx); err == nil {
		t.Fatalf("bucket %s exists before mkbucket ran", name)
	}
	var stderr bytes.Buffer
	if code := run(ctx, nil, &stderr, env(vars), time.Millisecond); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr.String())
	}
	if err := bucket.Check(ctx); err != nil {
		t.Fatalf("bucket missing after mkbucket: %v", err)
	}
	// Every `docker compose up` runs it again: an existing bucket is success.
	stderr.Reset()
	if code := run(ctx, nil, &stderr, env(vars), time.Millisecond); code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"bucket ready"`) {
		t.Errorf("log does not say the bucket is ready: %s", stderr.String())
	}
}

// Wrong keys will not become right by waiting: one try, exit 1.
func TestWrongKeysFailAtOnce(t *testing.T) {
	endpoint, region, access, _ := minio(t)
	vars := map[string]string{
		"STORAGE": "s3", "S3_BUCKET": "mkbucket-wrong-keys", "S3_ENDPOINT": endpoint, "S3_REGION": region,
		"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": "not-the-secret", "BACKLESS_CACHE": t.TempDir(),
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, &stderr, env(vars), time.Hour); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "trying again"); n != 0 {
		t.Errorf("retried %d times a refusal that cannot change", n)
	}
}

// A store that does not answer is tried `attempts` times, then reported.
func TestUnreachableStoreIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	vars := map[string]string{
		"STORAGE": "s3", "S3_BUCKET": "b", "S3_ENDPOINT": "http://" + addr,
		"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "BACKLESS_CACHE": t.TempDir(),
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, &stderr, env(vars), time.Millisecond); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "trying again"); n != attempts-1 {
		t.Errorf("%d retries logged, want %d\n%s", n, attempts-1, stderr.String())
	}
}

func TestNothingToDoWithoutS3(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), nil, &stderr, env(map[string]string{"BACKLESS_CACHE": t.TempDir()}), time.Hour)
	if code != 0 || !strings.Contains(stderr.String(), "no bucket needed") {
		t.Fatalf("STORAGE unset: exit %d, log %q", code, stderr.String())
	}
}

func TestBadConfiguration(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), nil, &stderr, env(map[string]string{"STORAGE": "s3"}), time.Hour)
	if code != 2 || !strings.Contains(stderr.String(), "S3_BUCKET") {
		t.Fatalf("STORAGE=s3 without a bucket: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"extra"}, &stderr, env(nil), time.Hour); code != 2 {
		t.Fatalf("an argument: exit %d, want 2", code)
	}
}

func deleteBucket(t *testing.T, endpoint, region, access, secret, name string) {
	client := awss3.New(awss3.Options{
		Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Logf("cleanup: delete bucket %s: %v", name, err)
	}
}

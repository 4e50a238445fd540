package config

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsAreTheEmbeddedSetUp(t *testing.T) {
	c, err := Load(env(map[string]string{"HOME": "/home/u"}), RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Addr() != ":8080" || c.LogLevel != zerolog.InfoLevel || c.LogFormat != "json" {
		t.Errorf("listening/logging defaults: %+v", c)
	}
	if c.DataDir != "/home/u/.cache/backless/data" || c.Storage != StorageFS || c.DatabaseURL != "" || c.RedisURL != "" {
		t.Errorf("storage defaults: %+v", c)
	}
	if !c.InProcessQueue() {
		t.Error("without WORKER_URL the server must process jobs itself")
	}
	if c.MaxUploadBytes != 64<<20 || c.MaxPixels != 50_000_000 || c.JobTTL != time.Hour ||
		c.DeleteGrace != 30*time.Second || c.JobLease != 10*time.Minute || c.Concurrency != 2 {
		t.Errorf("limits: %+v", c)
	}
	if !strings.HasSuffix(c.Engine.Model, ".onnx") || c.Engine.Sessions != 1 || c.Engine.LowMemory {
		t.Errorf("engine: %+v", c.Engine)
	}
}

func TestProductionServer(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PORT": "9000", "HOST": "127.0.0.1", "LOG_LEVEL": "DEBUG",
		"DATABASE_URL": "postgres://u:pw@db:5432/x", "REDIS_URL": "redis://:rpw@r:6379/0",
		"STORAGE": "s3", "S3_BUCKET": "b", "S3_ENDPOINT": "http://127.0.0.1:9000",
		"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk",
		"WORKER_URL": "https://worker.example", "PROJECT_NAME": "p", "QUEUE_REGION": "r", "QUEUE_ID": "q",
		"SECRET_KEY": "django-secret", "ALLOWED_HOSTS": "a.example, .run.app,",
		"CSRF_TRUSTED_ORIGINS": "https://a.example", "DELETE_GRACE": "5s", "JOB_TTL": "2h",
		"BACKLESS_LOW_MEMORY": "true",
	}), RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	if c.InProcessQueue() || c.TaskSecret != "django-secret" || !c.S3.PathStyle || c.Addr() != "127.0.0.1:9000" ||
		c.LogLevel != zerolog.DebugLevel || len(c.AllowedHosts) != 2 || c.AllowedHosts[1] != ".run.app" ||
		c.DeleteGrace != 5*time.Second || c.JobTTL != 2*time.Hour || !c.Engine.LowMemory {
		t.Fatalf("%+v", c)
	}
	if c.TaskOIDC.ServiceAccount != "" || c.TaskOIDC.Audience != "" {
		t.Errorf("OIDC on without TASK_OIDC_SERVICE_ACCOUNT: %+v", c.TaskOIDC)
	}
	// With a service account, the token's audience defaults to the task URL, as Google's own default.
	o, err := Load(env(map[string]string{
		"WORKER_URL": "https://worker.example", "PROJECT_NAME": "p", "QUEUE_REGION": "r", "QUEUE_ID": "q",
		"TASK_SECRET": "t", "DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h:1",
		"TASK_OIDC_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com",
	}), RoleServer)
	if err != nil || o.TaskOIDC.Audience != "https://worker.example/_tasks/remove-background/" {
		t.Fatalf("OIDC audience default: %+v, %v", o.TaskOIDC, err)
	}
	// TASK_SECRET wins over SECRET_KEY.
	c2, _ := Load(env(map[string]string{"TASK_SECRET": "t", "SECRET_KEY": "s"}), RoleServer)
	if c2.TaskSecret != "t" {
		t.Fatalf("TaskSecret = %q", c2.TaskSecret)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PORT": "http", "STORAGE": "gcs", "JOB_TTL": "soon", "MAX_PIXELS": "-1", "LOG_LEVEL": "loud",
		"WORKER_URL": "worker:8080", "DATABASE_URL": "mysql://u:hunter2@x/y", "AWS_ACCESS_KEY_ID": "only-the-id",
		"CSRF_TRUSTED_ORIGINS": "example.com", "JOB_TIMEOUT": "20m", "BACKLESS_LOW_MEMORY": "a little",
	}), RoleServer)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"PORT", "STORAGE", "JOB_TTL", "MAX_PIXELS", "LOG_LEVEL", "WORKER_URL is not a valid URL",
		"PROJECT_NAME", "TASK_SECRET", "REDIS_URL", "DATABASE_URL must start", "AWS_SECRET_ACCESS_KEY",
		"CSRF_TRUSTED_ORIGINS", "JOB_TIMEOUT", "BACKLESS_LOW_MEMORY must be true or false"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Error("the error shows a password")
	}
	if _, err := Load(env(map[string]string{"STORAGE": "s3"}), RoleServer); err == nil || !strings.Contains(err.Error(), "S3_BUCKET") {
		t.Errorf("s3 without a bucket: %v", err)
	}
}

func TestWorkerNeedsTheSharedServices(t *testing.T) {
	_, err := Load(env(nil), RoleWorker)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL and REDIS_URL") || !strings.Contains(err.Error(), "TASK_SECRET") {
		t.Fatalf("worker without services: %v", err)
	}
	base := map[string]string{"DATABASE_URL": "postgres://h/db", "REDIS_URL": "redis://h:1", "TASK_SECRET": "x"}
	c, err := Load(env(base), RoleWorker)
	if err != nil {
		t.Fatal(err)
	}
	if c.TaskOIDC.ServiceAccount != "" || c.TaskOIDC.Issuer != "https://accounts.google.com" {
		t.Errorf("OIDC defaults: %+v", c.TaskOIDC)
	}
	// OIDC tokens: the worker cannot guess the audience the server's tokens carry.
	base["TASK_OIDC_SERVICE_ACCOUNT"] = "tasks@p.iam.gserviceaccount.com"
	if _, err := Load(env(base), RoleWorker); err == nil || !strings.Contains(err.Error(), "TASK_OIDC_AUDIENCE") {
		t.Fatalf("OIDC without an audience: %v", err)
	}
	base["TASK_OIDC_AUDIENCE"] = "https://w.example/_tasks/remove-background/"
	base["TASK_OIDC_ISSUER"] = "accounts.google.com"
	if _, err := Load(env(base), RoleWorker); err == nil || !strings.Contains(err.Error(), "TASK_OIDC_ISSUER") {
		t.Fatalf("issuer without a scheme: %v", err)
	}
	delete(base, "TASK_OIDC_ISSUER")
	if c, err = Load(env(base), RoleWorker); err != nil || c.TaskOIDC.Audience != base["TASK_OIDC_AUDIENCE"] {
		t.Fatalf("OIDC worker: %+v, %v", c.TaskOIDC, err)
	}
}

func TestSecretsAreMasked(t *testing.T) {
	c, err := Load(env(map[string]string{
		"DATABASE_URL": "postgres://user:pg-password@db/x", "REDIS_URL": "redis://:redis-password@r:1/0",
		"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "aws-secret", "TASK_SECRET": "task-secret",
	}), RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	log := zerolog.New(&b)
	log.Info().Object("config", c).Msg("x")
	for _, out := range []string{c.String(), b.String()} {
		for _, secret := range []string{"pg-password", "redis-password", "aws-secret", "task-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s printed:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "postgres://user:xxxxx@db/x") || !strings.Contains(out, "AKIA") {
			t.Errorf("non-secret parts missing:\n%s", out)
		}
	}
}

// Load reads exactly the variables Vars lists: a variable added in one place and not the other fails here, and this
// list is what the README table, docker-compose.yml and .env.example are checked against.
func TestVarsListsEveryVariableRead(t *testing.T) {
	read := map[string]bool{}
	getenv := func(k string) string {
		read[k] = true
		return ""
	}
	if _, err := Load(getenv, RoleServer); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(getenv, RoleWorker); err == nil {
		t.Fatal("an unconfigured worker was accepted")
	}
	// The user's folders, read to find the default cache; they are the system's, not ours.
	delete(read, "HOME")
	delete(read, "XDG_CACHE_HOME")
	listed := map[string]bool{}
	for _, v := range Vars() {
		if listed[v.Name] {
			t.Errorf("%s listed twice", v.Name)
		}
		listed[v.Name] = true
		if v.Doc == "" || (v.Used != "server" && v.Used != "worker" && v.Used != "both") {
			t.Errorf("%s: incomplete entry %+v", v.Name, v)
		}
		if !read[v.Name] {
			t.Errorf("%s is listed but never read", v.Name)
		}
	}
	var extra []string
	for k := range read {
		if !listed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("read but not listed: %v", extra)
	}
	md := Markdown()
	for _, v := range Vars() {
		if !strings.Contains(md, "| `"+v.Name+"` |") {
			t.Errorf("Markdown lacks %s", v.Name)
		}
	}
	if u := Usage(RoleWorker); strings.Contains(u, "WORKER_URL") || !strings.Contains(u, "TASK_SECRET") {
		t.Errorf("worker usage lists the wrong variables:\n%s", u)
	}
}

// TestReadmeTableIsCurrent keeps the README's configuration table generated from Vars, so documentation and code
// cannot drift apart.
func TestReadmeTableIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), Markdown()) {
		t.Fatal("README.md's configuration table differs from config.Markdown(); regenerate it from Vars()")
	}
}

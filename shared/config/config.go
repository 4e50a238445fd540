// Package config turns the environment into the typed, validated configuration of the server and the worker. It
// reads only the variables listed by Vars, reports every problem at once, and masks secrets when the configuration
// is printed. The mains choose the implementations (Postgres or files, S3 or a folder, Cloud Tasks or an in-process
// queue, Redis or an in-process hub) from what it says.
package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// Role says which program is loading the configuration; each validates what it needs.
type Role string

// The programs.
const (
	RoleServer Role = "server"
	RoleWorker Role = "worker"
)

// Storage names where blobs live.
type Storage string

// The storages.
const (
	StorageFS Storage = "fs"
	StorageS3 Storage = "s3"
)

// Config is the whole configuration. Zero values never reach the program: Load fills the defaults.
type Config struct {
	Role      Role
	Host      string
	Port      int
	LogLevel  zerolog.Level
	LogFormat string // json or console
	DataDir   string

	DatabaseURL string // empty: the embedded store under DataDir
	RedisURL    string // empty: the in-process hub
	Storage     Storage
	S3          S3

	// WorkerURL, with Queue, makes the server hand jobs to Cloud Tasks; empty: it processes them itself.
	WorkerURL  string
	Queue      Queue
	TaskSecret string
	TaskOIDC   TaskOIDC

	AllowedHosts   []string
	TrustedOrigins []string

	MaxUploadBytes  int64
	MaxPixels       int64
	JobTTL          time.Duration
	DeleteGrace     time.Duration
	SweepInterval   time.Duration
	JobLease        time.Duration
	JobTimeout      time.Duration
	Concurrency     int
	ShutdownTimeout time.Duration

	Engine Engine
}

// S3 locates the bucket (STORAGE=s3).
type S3 struct {
	Bucket    string
	Endpoint  string
	Region    string
	PathStyle bool
	// PublicEndpoint is where browsers reach the store, when not at Endpoint; result URLs are presigned for it.
	PublicEndpoint string
	AccessKey      string
	SecretKey      string
}

// TaskOIDC is the OIDC token Google Cloud Tasks signs for each task, on top of the shared secret: the server has the
// queue attach it, the worker requires it. Off while ServiceAccount is empty.
type TaskOIDC struct {
	ServiceAccount string
	// Audience is the token's aud. The server defaults it to the worker's task URL; the worker must be told.
	Audience string
	// Issuer (worker) is where the signing keys are found; default https://accounts.google.com.
	Issuer string
}

// Queue names the Cloud Tasks queue (with WORKER_URL).
type Queue struct {
	Project      string
	Region       string
	ID           string
	EmulatorHost string
}

// Engine is where the model and ONNX Runtime are and how much of the machine they may use.
type Engine struct {
	Model    string
	Library  string
	Profile  string
	Threads  int
	Sessions int
	// LowMemory: see segment.Config.LowMemory.
	LowMemory bool
}

// Segment is the engine's configuration.
func (e Engine) Segment() segment.Config {
	return segment.Config{ModelPath: e.Model, Profile: e.Profile, Sessions: e.Sessions, Threads: e.Threads,
		LowMemory: e.LowMemory}
}

// Limits are the upload limits every door applies before decoding.
func (c Config) Limits() imageio.Limits {
	return imageio.Limits{MaxBytes: c.MaxUploadBytes, MaxPixels: c.MaxPixels}
}

// Addr is the address to listen on.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// InProcessQueue reports whether the server processes jobs itself (no WORKER_URL): it then loads the model.
func (c Config) InProcessQueue() bool { return c.WorkerURL == "" }

// Load reads the configuration for role from getenv (os.Getenv in the mains) and validates it. The error lists every
// problem found, one per line, so a deployment is fixed in one go.
func Load(getenv func(string) string, role Role) (Config, error) {
	p := parser{getenv: getenv}
	paths := segment.Locate(getenv)
	c := Config{
		Role:      role,
		Host:      p.str("HOST", ""),
		Port:      p.int("PORT", 8080, 0, 65535),
		LogFormat: p.oneOf("LOG_FORMAT", "json", "json", "console"),
		DataDir:   p.str("DATA_DIR", filepath.Join(segment.CacheDir(getenv), "data")),

		DatabaseURL: p.str("DATABASE_URL", ""),
		RedisURL:    p.str("REDIS_URL", ""),
		Storage:     Storage(p.oneOf("STORAGE", string(StorageFS), string(StorageFS), string(StorageS3))),
		S3: S3{
			Bucket:         p.str("S3_BUCKET", ""),
			Endpoint:       p.str("S3_ENDPOINT", ""),
			PublicEndpoint: p.str("S3_PUBLIC_ENDPOINT", ""),
			Region:         p.str("S3_REGION", "us-east-1"),
			AccessKey:      p.str("AWS_ACCESS_KEY_ID", ""),
			SecretKey:      p.str("AWS_SECRET_ACCESS_KEY", ""),
		},
		WorkerURL: p.str("WORKER_URL", ""),
		Queue: Queue{
			Project:      p.str("PROJECT_NAME", ""),
			Region:       p.str("QUEUE_REGION", ""),
			ID:           p.str("QUEUE_ID", ""),
			EmulatorHost: p.str("CLOUD_TASKS_EMULATOR_HOST", ""),
		},
		TaskSecret: p.str("TASK_SECRET", ""),
		TaskOIDC: TaskOIDC{
			ServiceAccount: p.str("TASK_OIDC_SERVICE_ACCOUNT", ""),
			Audience:       p.str("TASK_OIDC_AUDIENCE", ""),
			Issuer:         p.str("TASK_OIDC_ISSUER", "https://accounts.google.com"),
		},

		AllowedHosts:   p.list("ALLOWED_HOSTS"),
		TrustedOrigins: p.list("CSRF_TRUSTED_ORIGINS"),

		MaxUploadBytes:  p.int64("MAX_UPLOAD_BYTES", 64<<20, 1),
		MaxPixels:       p.int64("MAX_PIXELS", 50_000_000, 1),
		JobTTL:          p.duration("JOB_TTL", time.Hour),
		DeleteGrace:     p.duration("DELETE_GRACE", 30*time.Second),
		SweepInterval:   p.duration("SWEEP_INTERVAL", time.Minute),
		JobLease:        p.duration("JOB_LEASE", 10*time.Minute),
		JobTimeout:      p.duration("JOB_TIMEOUT", 5*time.Minute),
		Concurrency:     p.int("CONCURRENCY", 2, 1, 256),
		ShutdownTimeout: p.duration("SHUTDOWN_TIMEOUT", 10*time.Second),

		Engine: Engine{
			Model:     paths.Model,
			Library:   paths.Library,
			Profile:   p.str("BACKLESS_MODEL_PROFILE", ""),
			Threads:   p.int("BACKLESS_THREADS", 0, 0, 1024),
			Sessions:  p.int("BACKLESS_SESSIONS", 1, 1, 64),
			LowMemory: p.bool("BACKLESS_LOW_MEMORY", false),
		},
	}
	// segment.Locate read these; asking again records that they are part of the configuration.
	p.str("BACKLESS_MODEL", "")
	p.str("BACKLESS_ORT_LIB", "")
	p.str("BACKLESS_CACHE", "")
	if c.TaskSecret == "" {
		c.TaskSecret = p.str("SECRET_KEY", "")
	} else {
		p.str("SECRET_KEY", "")
	}
	c.S3.PathStyle = p.bool("S3_PATH_STYLE", c.S3.Endpoint != "")

	level := p.oneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error")
	if l, err := zerolog.ParseLevel(level); err == nil {
		c.LogLevel = l
	}

	if c.Role == RoleServer && c.WorkerURL != "" && c.TaskOIDC.ServiceAccount != "" && c.TaskOIDC.Audience == "" {
		// What Google itself would put in the token without an audience; the worker is told the same.
		c.TaskOIDC.Audience = job.TaskURL(c.WorkerURL)
	}
	p.errs = append(p.errs, c.validate()...)
	if len(p.errs) > 0 {
		msgs := make([]string, len(p.errs))
		for i, e := range p.errs {
			msgs[i] = e.Error()
		}
		return c, fmt.Errorf("configuration:\n  %s", strings.Join(msgs, "\n  "))
	}
	return c, nil
}

// validate checks what holds between variables; parser already checked each one alone.
func (c Config) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Storage == StorageS3 && c.S3.Bucket == "" {
		bad("STORAGE=s3 needs S3_BUCKET")
	}
	if c.S3.PublicEndpoint != "" {
		checkURL(&errs, "S3_PUBLIC_ENDPOINT", c.S3.PublicEndpoint, "http", "https")
	}
	if c.S3.Endpoint != "" {
		checkURL(&errs, "S3_ENDPOINT", c.S3.Endpoint, "http", "https")
	}
	if (c.S3.AccessKey == "") != (c.S3.SecretKey == "") {
		bad("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (for the default credential chain)")
	}
	if c.DatabaseURL != "" {
		checkURL(&errs, "DATABASE_URL", c.DatabaseURL, "postgres", "postgresql")
	}
	if c.RedisURL != "" {
		checkURL(&errs, "REDIS_URL", c.RedisURL, "redis", "rediss")
	}
	for _, o := range c.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" && u.Path != "/" {
			bad("CSRF_TRUSTED_ORIGINS: %q is not an origin like https://example.com", o)
		}
	}
	if c.TaskOIDC.Issuer != "" {
		checkURL(&errs, "TASK_OIDC_ISSUER", c.TaskOIDC.Issuer, "http", "https")
	}
	if c.JobTimeout >= c.JobLease {
		bad("JOB_TIMEOUT (%s) must be shorter than JOB_LEASE (%s), or a slow job would be processed twice", c.JobTimeout, c.JobLease)
	}

	switch c.Role {
	case RoleServer:
		if c.WorkerURL != "" {
			checkURL(&errs, "WORKER_URL", c.WorkerURL, "http", "https")
			if c.Queue.Project == "" || c.Queue.Region == "" || c.Queue.ID == "" {
				bad("WORKER_URL needs PROJECT_NAME, QUEUE_REGION and QUEUE_ID (the Cloud Tasks queue)")
			}
			if c.TaskSecret == "" {
				bad("WORKER_URL needs TASK_SECRET (or SECRET_KEY): the worker only accepts tasks that carry it")
			}
			if c.DatabaseURL == "" {
				bad("WORKER_URL needs DATABASE_URL: the worker must see the jobs the server creates")
			}
			if c.RedisURL == "" {
				bad("WORKER_URL needs REDIS_URL: the worker's events must reach the server's sockets")
			}
		}
	case RoleWorker:
		if c.DatabaseURL == "" || c.RedisURL == "" {
			bad("the worker serves Cloud Tasks and needs DATABASE_URL and REDIS_URL " +
				"(to process jobs in one process, run the server without WORKER_URL)")
		}
		if c.TaskSecret == "" {
			bad("the worker needs TASK_SECRET (or SECRET_KEY) to tell tasks from the queue apart from anyone else's requests")
		}
		if c.TaskOIDC.ServiceAccount != "" && c.TaskOIDC.Audience == "" {
			bad("TASK_OIDC_SERVICE_ACCOUNT needs TASK_OIDC_AUDIENCE on the worker: the audience the server's tokens "+
				"name (by default the server's WORKER_URL followed by %s)", job.TaskPath)
		}
	default:
		bad("unknown role %q", c.Role)
	}
	return errs
}

func checkURL(errs *[]error, name, raw string, schemes ...string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// The value may hold a password: never echo it.
		*errs = append(*errs, fmt.Errorf("%s is not a valid URL", name))
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	*errs = append(*errs, fmt.Errorf("%s must start with %s://", name, strings.Join(schemes, ":// or ")))
}

// Redacted returns the configuration as variable name → value, with secrets masked and passwords removed from URLs,
// for the start-up log.
func (c Config) Redacted() map[string]string {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "********"
	}
	return map[string]string{
		"HOST":                      c.Host,
		"PORT":                      strconv.Itoa(c.Port),
		"LOG_LEVEL":                 c.LogLevel.String(),
		"LOG_FORMAT":                c.LogFormat,
		"DATA_DIR":                  c.DataDir,
		"DATABASE_URL":              redactURL(c.DatabaseURL),
		"REDIS_URL":                 redactURL(c.RedisURL),
		"STORAGE":                   string(c.Storage),
		"S3_BUCKET":                 c.S3.Bucket,
		"S3_ENDPOINT":               c.S3.Endpoint,
		"S3_PUBLIC_ENDPOINT":        c.S3.PublicEndpoint,
		"S3_REGION":                 c.S3.Region,
		"S3_PATH_STYLE":             strconv.FormatBool(c.S3.PathStyle),
		"AWS_ACCESS_KEY_ID":         c.S3.AccessKey,
		"AWS_SECRET_ACCESS_KEY":     mask(c.S3.SecretKey),
		"WORKER_URL":                c.WorkerURL,
		"PROJECT_NAME":              c.Queue.Project,
		"QUEUE_REGION":              c.Queue.Region,
		"QUEUE_ID":                  c.Queue.ID,
		"CLOUD_TASKS_EMULATOR_HOST": c.Queue.EmulatorHost,
		"TASK_SECRET":               mask(c.TaskSecret),
		"TASK_OIDC_SERVICE_ACCOUNT": c.TaskOIDC.ServiceAccount,
		"TASK_OIDC_AUDIENCE":        c.TaskOIDC.Audience,
		"TASK_OIDC_ISSUER":          c.TaskOIDC.Issuer,
		"ALLOWED_HOSTS":             strings.Join(c.AllowedHosts, ","),
		"CSRF_TRUSTED_ORIGINS":      strings.Join(c.TrustedOrigins, ","),
		"MAX_UPLOAD_BYTES":          strconv.FormatInt(c.MaxUploadBytes, 10),
		"MAX_PIXELS":                strconv.FormatInt(c.MaxPixels, 10),
		"JOB_TTL":                   c.JobTTL.String(),
		"DELETE_GRACE":              c.DeleteGrace.String(),
		"SWEEP_INTERVAL":            c.SweepInterval.String(),
		"JOB_LEASE":                 c.JobLease.String(),
		"JOB_TIMEOUT":               c.JobTimeout.String(),
		"CONCURRENCY":               strconv.Itoa(c.Concurrency),
		"SHUTDOWN_TIMEOUT":          c.ShutdownTimeout.String(),
		"BACKLESS_MODEL":            c.Engine.Model,
		"BACKLESS_MODEL_PROFILE":    c.Engine.Profile,
		"BACKLESS_ORT_LIB":          c.Engine.Library,
		"BACKLESS_THREADS":          strconv.Itoa(c.Engine.Threads),
		"BACKLESS_SESSIONS":         strconv.Itoa(c.Engine.Sessions),
		"BACKLESS_LOW_MEMORY":       strconv.FormatBool(c.Engine.LowMemory),
	}
}

// MarshalZerologObject logs the redacted configuration, keys sorted.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	m := c.Redacted()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.Str(k, m[k])
	}
}

// String prints the redacted configuration, one NAME=value per line.
func (c Config) String() string {
	m := c.Redacted()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

// redactURL drops the password of a URL (user:password@host). A value that does not parse is masked whole, since
// it may be a secret in an unexpected form.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "********"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.Redacted()
}

// parser reads variables and collects errors instead of stopping at the first.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.errs = append(p.errs, fmt.Errorf("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), v))
	return def
}

func (p *parser) int(name string, def, lo, hi int) int {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.errs = append(p.errs, fmt.Errorf("%s must be a whole number from %d to %d, got %q", name, lo, hi, v))
		return def
	}
	return n
}

func (p *parser) int64(name string, def, lo int64) int64 {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo {
		p.errs = append(p.errs, fmt.Errorf("%s must be a whole number of at least %d, got %q", name, lo, v))
		return def
	}
	return n
}

func (p *parser) bool(name string, def bool) bool {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.errs = append(p.errs, fmt.Errorf("%s must be true or false, got %q", name, v))
		return def
	}
	return b
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		p.errs = append(p.errs, fmt.Errorf("%s must be a positive duration like 30s or 1h, got %q", name, v))
		return def
	}
	return d
}

// list splits a comma-separated value, dropping empty items.
func (p *parser) list(name string) []string {
	var out []string
	for _, s := range strings.Split(p.str(name, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

package config

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// Var documents one environment variable: its name, its default as a person would write it, what it does, and which
// programs read it. Vars is the one list of them; the README's table, docker-compose.yml and .env.example are checked
// against it.
type Var struct {
	Name    string
	Default string // "" when unset means "not used" or "embedded default", as Doc says
	Doc     string
	Secret  bool   // never printed: Config.Redacted masks it
	Used    string // "server", "worker" or "both"
}

// Vars returns every environment variable the server and the worker read, in the order the README lists them.
// It is a function rather than a package variable so that no package-level state exists.
func Vars() []Var {
	return []Var{
		{Name: "PORT", Default: "8080", Used: "both",
			Doc: "TCP port to listen on (Cloud Run sets it); 0 picks a free one and logs it."},
		{Name: "HOST", Used: "both",
			Doc: "Address to listen on, e.g. 127.0.0.1 to stay local. Unset: every interface."},
		{Name: "LOG_LEVEL", Default: "info", Used: "both",
			Doc: "debug, info, warn or error."},
		{Name: "LOG_FORMAT", Default: "json", Used: "both",
			Doc: "json (one object per line) or console (coloured, for people)."},
		{Name: "DATA_DIR", Default: "$BACKLESS_CACHE/data", Used: "both",
			Doc: "Folder of the embedded job store (without DATABASE_URL) and of the blobs with STORAGE=fs."},
		{Name: "DATABASE_URL", Used: "both", Secret: true,
			Doc: "PostgreSQL URL of the job store. Unset: jobs are files under DATA_DIR (one process only)."},
		{Name: "REDIS_URL", Used: "both", Secret: true,
			Doc: "Redis URL carrying job events between replicas. Unset: events stay in the process."},
		{Name: "STORAGE", Default: "fs", Used: "both",
			Doc: "Where images are kept: fs (folder DATA_DIR/blobs) or s3."},
		{Name: "S3_BUCKET", Used: "both",
			Doc: "Bucket of the originals and cutouts (STORAGE=s3)."},
		{Name: "S3_ENDPOINT", Used: "both",
			Doc: "S3-compatible endpoint, e.g. http://127.0.0.1:9000 for MinIO. Unset: AWS."},
		{Name: "S3_PUBLIC_ENDPOINT", Used: "server",
			Doc: "Address browsers reach the store at, when it differs from S3_ENDPOINT (e.g. http://localhost:9000 " +
				"for a MinIO the programs call minio:9000); result URLs are presigned for it. Unset: S3_ENDPOINT."},
		{Name: "S3_REGION", Default: "us-east-1", Used: "both",
			Doc: "Region of the bucket."},
		{Name: "S3_PATH_STYLE", Default: "true with S3_ENDPOINT", Used: "both",
			Doc: "Address objects as endpoint/bucket/key (MinIO needs it)."},
		{Name: "AWS_ACCESS_KEY_ID", Used: "both",
			Doc: "S3 access key. Unset (with the secret): the SDK's default credential chain."},
		{Name: "AWS_SECRET_ACCESS_KEY", Used: "both", Secret: true,
			Doc: "S3 secret key."},
		{Name: "WORKER_URL", Used: "server",
			Doc: "Base URL of the worker that Cloud Tasks calls. Unset: the server processes jobs itself."},
		{Name: "PROJECT_NAME", Used: "server",
			Doc: "Google Cloud project of the task queue (with WORKER_URL)."},
		{Name: "QUEUE_REGION", Used: "server",
			Doc: "Region of the task queue (with WORKER_URL)."},
		{Name: "QUEUE_ID", Used: "server",
			Doc: "Name of the task queue (with WORKER_URL)."},
		{Name: "CLOUD_TASKS_EMULATOR_HOST", Used: "server",
			Doc: "host:port of a Cloud Tasks emulator to use instead of Google's service."},
		{Name: "TASK_SECRET", Used: "both", Secret: true,
			Doc: "Shared secret sent with every task and checked by the worker. Default: SECRET_KEY."},
		{Name: "SECRET_KEY", Used: "both", Secret: true,
			Doc: "The original service's secret; used as TASK_SECRET when that is unset."},
		{Name: "TASK_OIDC_SERVICE_ACCOUNT", Used: "both",
			Doc: "Service account as which Google Cloud Tasks signs an OIDC token for every task; the worker then " +
				"requires that token as well as TASK_SECRET. Unset: the secret alone."},
		{Name: "TASK_OIDC_AUDIENCE", Default: "the worker's task URL", Used: "both",
			Doc: "Audience of that token. The server defaults it to the URL its tasks go to " +
				"(the worker's base URL + /_tasks/remove-background/); the worker needs it set to the same value."},
		{Name: "TASK_OIDC_ISSUER", Default: "https://accounts.google.com", Used: "worker",
			Doc: "Issuer of those tokens, whose signing keys the worker fetches."},
		{Name: "ALLOWED_HOSTS", Used: "server",
			Doc: "Comma-separated host names the server answers to (.example.com matches subdomains). " +
				"Unset: any. Browser origins on these hosts may also post and open sockets."},
		{Name: "CSRF_TRUSTED_ORIGINS", Used: "server",
			Doc: "Comma-separated origins (scheme://host[:port]) of other sites allowed to call the API " +
				"(CORS) and open sockets, e.g. the desktop app's."},
		{Name: "MAX_UPLOAD_BYTES", Default: "67108864", Used: "both",
			Doc: "Largest accepted upload, in bytes (64 MiB)."},
		{Name: "MAX_PIXELS", Default: "50000000", Used: "both",
			Doc: "Largest accepted image, in pixels (width × height)."},
		{Name: "JOB_TTL", Default: "1h", Used: "server",
			Doc: "A job and its images are deleted this long after their last change, whatever happened."},
		{Name: "DELETE_GRACE", Default: "30s", Used: "server",
			Doc: "After the last socket of a finished job closes, wait this long (for a reload) before deleting it."},
		{Name: "SWEEP_INTERVAL", Default: "1m", Used: "server",
			Doc: "How often expired jobs are looked for."},
		{Name: "JOB_LEASE", Default: "10m", Used: "both",
			Doc: "How long a claimed job is reserved; a job still processing after it (its worker died) is retried."},
		{Name: "JOB_TIMEOUT", Default: "5m", Used: "both",
			Doc: "Longest processing of one job; must be shorter than JOB_LEASE."},
		{Name: "CONCURRENCY", Default: "2", Used: "both",
			Doc: "Jobs processed at once by one process (decoding and encoding overlap the model run)."},
		{Name: "SHUTDOWN_TIMEOUT", Default: "10s", Used: "both",
			Doc: "On SIGTERM, time allowed to finish the jobs in hand before they are given back to the queue."},
		{Name: "BACKLESS_MODEL", Default: "the model `make setup` installs", Used: "both",
			Doc: "ONNX segmentation model file."},
		{Name: "BACKLESS_MODEL_PROFILE", Default: "detected from the model", Used: "both",
			Doc: "Model profile: isnet, u2net, u2netp or birefnet."},
		{Name: "BACKLESS_ORT_LIB", Default: "the library `make setup` installs", Used: "both",
			Doc: "ONNX Runtime shared library."},
		{Name: "BACKLESS_CACHE", Default: "~/.cache/backless", Used: "both",
			Doc: "Folder where `make setup` puts the model and the library."},
		{Name: "BACKLESS_THREADS", Default: "all CPUs", Used: "both",
			Doc: "Inference threads per model session."},
		{Name: "BACKLESS_SESSIONS", Default: "1", Used: "both",
			Doc: "Model sessions, i.e. images segmented at the same moment."},
		{Name: "BACKLESS_LOW_MEMORY", Default: "false", Used: "both",
			Doc: "true: about 110 MB less memory at peak for about a third slower inference (ONNX Runtime skips its layout optimisation)."},
	}
}

// Usage formats the variables the role reads as an aligned plain-text table, for `-h`.
func Usage(role Role) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range Vars() {
		if v.Used != "both" && v.Used != string(role) {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, v.Default, v.Doc)
	}
	_ = w.Flush()
	return b.String()
}

// Markdown formats every variable as the README's table.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | used by | meaning |\n|---|---|---|---|\n")
	for _, v := range Vars() {
		def := v.Default
		if def != "" && !strings.Contains(def, "`") {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Name, def, v.Used, strings.ReplaceAll(v.Doc, "|", `\|`))
	}
	return b.String()
}

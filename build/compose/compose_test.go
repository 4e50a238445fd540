package compose

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/backless/backless/shared/config"
)

// imageVars are the variables that the third-party images (and build/docker/postgres-from-url.sh, for the official
// postgres image) read; a service may set these besides the configuration's own.
var imageVars = map[string][]string{
	"postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
	"minio":    {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_REGION"},
}

// needs are the variables without which the self-hosted pipeline does not work (Postgres, Redis, S3, Cloud Tasks
// and the secret between server and workers); an embedded default in their place would silently run something else.
var needs = map[string][]string{
	"server": {"DATABASE_URL", "REDIS_URL", "STORAGE", "S3_BUCKET", "S3_ENDPOINT", "S3_REGION", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "WORKER_URL", "PROJECT_NAME", "QUEUE_REGION", "QUEUE_ID",
		"CLOUD_TASKS_EMULATOR_HOST", "TASK_SECRET", "BACKLESS_CACHE"},
	"worker": {"DATABASE_URL", "REDIS_URL", "STORAGE", "S3_BUCKET", "S3_ENDPOINT", "S3_REGION", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "TASK_SECRET", "BACKLESS_CACHE"},
}

// notPassed are the variables a program reads that docker-compose.yml deliberately does not hand on from .env.
var notPassed = map[string]string{
	"HOST": "a container must listen on every interface to be reachable",
}

// testSecrets fill the REQUIRED values of .env.example for `docker-compose config`.
var testSecrets = map[string]string{
	"DATABASE_URL":          "postgres://backless:pg-Password_1@postgres:5432/backless?sslmode=disable",
	"TASK_SECRET":           "task-secret-for-the-test",
	"AWS_ACCESS_KEY_ID":     "backless-test",
	"AWS_SECRET_ACCESS_KEY": "s3-secret-for-the-test",
}

func varsByName() map[string]config.Var {
	m := map[string]config.Var{}
	for _, v := range config.Vars() {
		m[v.Name] = v
	}
	return m
}

func readsVar(role string, v config.Var) bool { return v.Used == "both" || v.Used == role }

func envExample(t *testing.T) []envEntry {
	t.Helper()
	entries, err := parseEnvExample(readFile(t, ".env.example"))
	if err != nil {
		t.Fatalf(".env.example: %v", err)
	}
	return entries
}

// .env.example documents every variable of the configuration, and nothing else, each once and with a comment.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	vars := varsByName()
	seen := map[string]int{}
	for _, e := range envExample(t) {
		if prev, dup := seen[e.Name]; dup {
			t.Errorf(".env.example:%d: %s already on line %d", e.Line, e.Name, prev)
		}
		seen[e.Name] = e.Line
		v, known := vars[e.Name]
		if !known {
			t.Errorf(".env.example:%d: %s is not a variable of shared/config (config.Vars)", e.Line, e.Name)
			continue
		}
		if e.Doc == "" {
			t.Errorf(".env.example:%d: %s has no comment saying what it does", e.Line, e.Name)
		}
		// Nothing secret is committed: a value to fill in is left empty, and a default shown holds no password.
		if v.Secret && e.Value != "" && (e.Active || hasPassword(e.Value)) {
			t.Errorf(".env.example:%d: secret %s has a value in the example", e.Line, e.Name)
		}
	}
	for _, v := range config.Vars() {
		if _, ok := seen[v.Name]; !ok {
			t.Errorf(".env.example does not document %s (%s)", v.Name, v.Doc)
		}
	}
}

// Every ${VAR} of docker-compose.yml is a documented variable; the required ones are those .env.example asks to fill
// in, and a default shown in .env.example is the one the compose file uses.
func TestComposeReferencesResolveFromEnvExample(t *testing.T) {
	entries := map[string]envEntry{}
	for _, e := range envExample(t) {
		entries[e.Name] = e
	}
	refs, bare := composeRefs(readFile(t, "docker-compose.yml"))
	if len(bare) > 0 {
		t.Errorf("docker-compose.yml uses unbraced variables %v; write ${NAME} so they can be checked", bare)
	}
	if len(refs) == 0 {
		t.Fatal("docker-compose.yml references no variable at all")
	}
	required := map[string]bool{}
	for _, r := range refs {
		required[r.Name] = required[r.Name] || r.Required
	}
	defaults := map[string]string{}
	for _, r := range refs {
		e, ok := entries[r.Name]
		if !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which .env.example does not document", r.Name)
			continue
		}
		switch {
		case r.Required && !e.Active:
			t.Errorf("docker-compose.yml requires %s, but .env.example leaves it commented out", r.Name)
		case r.Required && !strings.Contains(r.Arg, ".env"):
			t.Errorf("the error for a missing %s (%q) should say to set it in .env", r.Name, r.Arg)
		case !required[r.Name] && e.Active:
			t.Errorf(".env.example sets %s on line %d, which docker-compose.yml has a default for: comment it out",
				r.Name, e.Line)
		case r.Op == ":-" || r.Op == "-":
			if prev, ok := defaults[r.Name]; ok && prev != r.Arg {
				t.Errorf("docker-compose.yml gives %s two defaults: %q and %q", r.Name, prev, r.Arg)
			}
			defaults[r.Name] = r.Arg
			if r.Arg != "" && e.Value != r.Arg {
				t.Errorf(".env.example shows %s=%s, but docker-compose.yml's default is %q", r.Name, e.Value, r.Arg)
			}
		}
	}
	for name, e := range entries {
		if e.Active && !required[name] {
			t.Errorf(".env.example asks to fill in %s, which docker-compose.yml does not require", name)
		}
	}
}

func hasPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	_, has := u.User.Password()
	return has
}

// ---- docker-compose config --------------------------------------------------------------------------------------

// dockerCompose runs Debian's docker-compose (v1) on the repository's compose file with envFile, in an environment
// cleared of the caller's variables (a DATABASE_URL in the shell would override .env).
func dockerCompose(t *testing.T, envFile string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin, lerr := exec.LookPath("docker-compose")
	if lerr != nil {
		t.Fatalf("docker-compose is not installed: run build/deps.sh (%v)", lerr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := append([]string{"--project-directory", root(t), "-f", filepath.Join(root(t), "docker-compose.yml"),
		"--env-file", envFile}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// filledEnvFile writes .env.example with its REQUIRED values filled in, as a user's .env would be.
func filledEnvFile(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(readFile(t, ".env.example"), "\n") {
		if m := activeLine.FindStringSubmatch(line); m != nil && m[2] == "" {
			v, ok := testSecrets[m[1]]
			if !ok {
				t.Fatalf(".env.example asks for %s, which the test has no value for", m[1])
			}
			line = m[1] + "=" + v
		}
		b.WriteString(line + "\n")
	}
	f := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// resolved is the part of `docker-compose config`'s output the tests read.
type resolved struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       *build            `yaml:"build"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck   *struct{ Test []string } `yaml:"healthcheck"`
	Ports         []any                    `yaml:"ports"`
	ContainerName string                   `yaml:"container_name"`
	Volumes       []any                    `yaml:"volumes"`
	Restart       string                   `yaml:"restart"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
}

// TestCompose validates docker-compose.yml as a user's filled-in .env would have it (`docker-compose config -q`, the
// check CI makes) and reads the resolved configuration for the checks below.
func TestCompose(t *testing.T) {
	t.Parallel() // docker-compose v1 takes seconds to start
	env := filledEnvFile(t)
	if _, stderr, err := dockerCompose(t, env, "config", "-q"); err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, stderr)
	}
	stdout, stderr, err := dockerCompose(t, env, "config")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, stderr)
	}
	var r resolved
	if err := yaml.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("parse docker-compose config's output: %v\n%s", err, stdout)
	}
	t.Run("services", func(t *testing.T) { checkServices(t, r) })
	t.Run("environment", func(t *testing.T) { checkEnvironment(t, r) })
	t.Run("wiring", func(t *testing.T) { checkWiring(t, r) })
}

// Copied as it is, .env.example is refused with a message that says what to fill in, so no stack starts with an
// empty secret or database password.
func TestComposeRefusesUnfilledEnvExample(t *testing.T) {
	t.Parallel()
	_, stderr, err := dockerCompose(t, filepath.Join(root(t), ".env.example"), "config", "-q")
	if err == nil {
		t.Fatal("docker-compose accepted .env.example with the REQUIRED values empty")
	}
	if !strings.Contains(stderr, "in .env (see .env.example)") {
		t.Errorf("the error does not say what to set:\n%s", stderr)
	}
}

// checkServices: the services the pipeline needs are all there, built from build/Dockerfile's targets, started in
// order of health.
func checkServices(t *testing.T, r resolved) {
	stages := dockerfileStages(t)
	targets := map[string]stage{}
	for _, s := range stages {
		targets[s.Name] = s
	}

	builtFrom := map[string]string{"server": "app", "worker": "app", "bucket": "app", "minio": "minio",
		"tasks": "tasks-emulator"}
	for name, target := range builtFrom {
		s, ok := r.Services[name]
		if !ok {
			t.Errorf("no %s service", name)
			continue
		}
		if s.Build == nil || s.Build.Target != target || s.Build.Dockerfile != "build/Dockerfile" ||
			filepath.Clean(s.Build.Context) != root(t) {
			t.Errorf("%s: build %+v, want build/Dockerfile's target %s in the repository root", name, s.Build, target)
		}
		if _, ok := targets[target]; !ok {
			t.Errorf("%s: build/Dockerfile has no stage %s", name, target)
		}
	}
	for _, name := range []string{"postgres", "redis"} {
		if s, ok := r.Services[name]; !ok || s.Image == "" {
			t.Errorf("no %s service with an image", name)
		}
	}
	if r.Services["server"].Image != r.Services["worker"].Image {
		t.Errorf("server (%s) and worker (%s) should share one image", r.Services["server"].Image,
			r.Services["worker"].Image)
	}
	if got := r.Services["server"].Command; !slices.Equal(got, []string{"server"}) {
		t.Errorf("server command %q", got)
	}
	if got := r.Services["worker"].Command; !slices.Equal(got, []string{"worker", "serve"}) {
		t.Errorf("worker command %q, want worker serve", got)
	}
	if got := r.Services["bucket"].Command; !slices.Equal(got, []string{"mkbucket"}) {
		t.Errorf("bucket command %q, want mkbucket", got)
	}

	wantDeps := map[string]map[string]string{
		"server": {"postgres": "service_healthy", "redis": "service_healthy", "tasks": "service_healthy",
			"bucket": "service_completed_successfully"},
		"worker": {"postgres": "service_healthy", "redis": "service_healthy",
			"bucket": "service_completed_successfully"},
		"bucket": {"minio": "service_healthy"},
	}
	for name, want := range wantDeps {
		got := map[string]string{}
		for dep, d := range r.Services[name].DependsOn {
			got[dep] = d.Condition
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s depends on %v, want %v", name, got, want)
		}
	}
	// A service waited for as healthy must have a health check, in the compose file or in its image.
	for name, s := range r.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != "service_healthy" {
				continue
			}
			ds := r.Services[dep]
			if ds.Healthcheck != nil && len(ds.Healthcheck.Test) > 0 {
				continue
			}
			if ds.Build != nil {
				if _, ok := targets[ds.Build.Target].last("HEALTHCHECK"); ok {
					continue
				}
			}
			t.Errorf("%s waits for %s to be healthy, which has no health check", name, dep)
		}
	}

	// `--scale worker=N` needs the workers to have no fixed name and no host port.
	if w := r.Services["worker"]; len(w.Ports) > 0 || w.ContainerName != "" {
		t.Errorf("worker publishes %v / is named %q: it could not be scaled", w.Ports, w.ContainerName)
	}
	if got := publishedTargets(t, r.Services["server"].Ports); !slices.Equal(got, []string{"8080"}) {
		t.Errorf("server publishes container ports %v, want [8080]", got)
	}
	for _, v := range []string{"postgres", "minio"} {
		if _, ok := r.Volumes[v]; !ok {
			t.Errorf("no named volume %s: its data would not survive the container", v)
		}
	}
	// Files bind-mounted from the repository exist.
	for name, s := range r.Services {
		for _, v := range s.Volumes {
			src := volumeSource(v)
			if filepath.IsAbs(src) {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
}

// checkEnvironment: the server's and the worker's environment is exactly what the code reads, and is a valid
// configuration for it.
func checkEnvironment(t *testing.T, r resolved) {
	vars := varsByName()
	for _, role := range []string{"server", "worker"} {
		env := r.Services[role].Environment
		for k := range env {
			v, known := vars[k]
			switch {
			case !known:
				t.Errorf("%s: %s is not a variable the code reads (config.Vars)", role, k)
			case !readsVar(role, v):
				t.Errorf("%s: %s is only read by the %s", role, k, v.Used)
			}
		}
		for _, v := range config.Vars() {
			_, passed := env[v.Name]
			_, skip := notPassed[v.Name]
			if readsVar(role, v) && !passed && !skip {
				t.Errorf("%s: %s is not handed on from .env", role, v.Name)
			}
			if passed && skip {
				t.Errorf("%s: %s is passed, but %s", role, v.Name, notPassed[v.Name])
			}
		}
		for _, k := range needs[role] {
			if env[k] == "" {
				t.Errorf("%s: %s is empty or missing", role, k)
			}
		}
		cfg, err := config.Load(func(k string) string { return env[k] }, config.Role(role))
		if err != nil {
			t.Errorf("%s: the compose environment is not a valid configuration: %v", role, err)
			continue
		}
		if cfg.Storage != config.StorageS3 {
			t.Errorf("%s: storage %s, want s3", role, cfg.Storage)
		}
		if role == "server" && cfg.InProcessQueue() {
			t.Error("server: would process jobs itself instead of handing them to the workers")
		}
	}
	for _, name := range []string{"bucket", "tasks", "postgres", "minio", "redis"} {
		for k := range r.Services[name].Environment {
			if _, known := vars[k]; !known && !slices.Contains(imageVars[name], k) {
				t.Errorf("%s: %s is neither a configuration variable nor one its image reads", name, k)
			}
		}
	}
}

// checkWiring: the values point each program at the right service, and the server, the workers, the bucket job,
// MinIO and the emulator agree with each other.
func checkWiring(t *testing.T, r resolved) {
	srv, wrk := r.Services["server"].Environment, r.Services["worker"].Environment
	for k, v := range srv {
		if w, ok := wrk[k]; ok && w != v {
			t.Errorf("%s differs: server %q, worker %q", k, v, w)
		}
	}
	for k, v := range r.Services["bucket"].Environment {
		if srv[k] != v {
			t.Errorf("bucket's %s is %q, the server's %q: it would create another bucket", k, v, srv[k])
		}
	}

	checkHost := func(name, raw, wantHost, wantPort string) {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s %q: %v", name, raw, err)
			return
		}
		if u.Hostname() != wantHost || u.Port() != wantPort {
			t.Errorf("%s points at %s, want %s:%s", name, u.Host, wantHost, wantPort)
		}
	}
	checkHost("DATABASE_URL", srv["DATABASE_URL"], "postgres", "5432")
	checkHost("REDIS_URL", srv["REDIS_URL"], "redis", "6379")
	checkHost("S3_ENDPOINT", srv["S3_ENDPOINT"], "minio", "9000")
	// The emulator delivers to the worker service by name: every replica answers on the workers' PORT.
	checkHost("WORKER_URL", srv["WORKER_URL"], "worker", wrk["PORT"])
	if srv["PORT"] != "8080" {
		t.Errorf("server PORT %q, but the image's health check and the published port use 8080", srv["PORT"])
	}

	// Postgres is initialised from the same DATABASE_URL.
	if pg := r.Services["postgres"].Environment["DATABASE_URL"]; pg != srv["DATABASE_URL"] {
		t.Errorf("postgres is initialised from %q, the programs connect with %q", pg, srv["DATABASE_URL"])
	}
	// MinIO's root keys are the programs' S3 keys, and its region the bucket's.
	minio := r.Services["minio"].Environment
	if minio["MINIO_ROOT_USER"] != srv["AWS_ACCESS_KEY_ID"] || minio["MINIO_ROOT_PASSWORD"] != srv["AWS_SECRET_ACCESS_KEY"] {
		t.Error("MinIO's root user and password are not the programs' AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if minio["MINIO_REGION"] != srv["S3_REGION"] {
		t.Errorf("MinIO's region %q, the programs' S3_REGION %q", minio["MINIO_REGION"], srv["S3_REGION"])
	}

	// The emulator listens where CLOUD_TASKS_EMULATOR_HOST says and creates the queue the server enqueues to.
	flags := flagValues(r.Services["tasks"].Command)
	if flags["-host"] != "0.0.0.0" {
		t.Errorf("the emulator listens on %q: other containers could not reach it", flags["-host"])
	}
	if want := net.JoinHostPort("tasks", flags["-port"]); srv["CLOUD_TASKS_EMULATOR_HOST"] != want {
		t.Errorf("CLOUD_TASKS_EMULATOR_HOST %q, the emulator listens at %s", srv["CLOUD_TASKS_EMULATOR_HOST"], want)
	}
	wantQueue := fmt.Sprintf("projects/%s/locations/%s/queues/%s", srv["PROJECT_NAME"], srv["QUEUE_REGION"],
		srv["QUEUE_ID"])
	if flags["-queue"] != wantQueue {
		t.Errorf("the emulator creates queue %q, the server enqueues to %q", flags["-queue"], wantQueue)
	}
	if _, err := strconv.Atoi(flags["-port"]); err != nil {
		t.Errorf("the emulator's -port %q", flags["-port"])
	}
}

// flagValues reads `-name value` pairs.
func flagValues(args []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			m[args[i]] = args[i+1]
			i++
		}
	}
	return m
}

// publishedTargets returns the container ports of a service's published ports, in either form docker-compose
// prints ("8080:8080", or {published, target}).
func publishedTargets(t *testing.T, ports []any) []string {
	t.Helper()
	var out []string
	for _, p := range ports {
		switch p := p.(type) {
		case string:
			parts := strings.Split(p, ":")
			out = append(out, strings.Split(parts[len(parts)-1], "/")[0])
		case map[string]any:
			out = append(out, fmt.Sprint(p["target"]))
		default:
			t.Errorf("unexpected port entry %#v", p)
		}
	}
	sort.Strings(out)
	return out
}

// volumeSource returns the host side of a volume entry in either form ("src:dst[:mode]" or {source: ...}).
func volumeSource(v any) string {
	switch v := v.(type) {
	case string:
		src, _, _ := strings.Cut(v, ":")
		return src
	case map[string]any:
		s, _ := v["source"].(string)
		return s
	}
	return ""
}

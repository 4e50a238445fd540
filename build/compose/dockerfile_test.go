package compose

// build/Dockerfile is checked statically: the project's CI has no Docker engine, so the images are not built here.
// A real build (`docker compose build`) needs an engine; these checks catch what would make it fail or produce an
// image that does not run (a missing COPY source, a file the context leaves out, the model where the code does not
// look, a root user, no health check).

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/backless/backless/shared/segment"
)

func dockerfileStages(t *testing.T) []stage {
	t.Helper()
	st, err := parseDockerfile(readFile(t, "build/Dockerfile"))
	if err != nil {
		t.Fatalf("build/Dockerfile: %v", err)
	}
	return st
}

func stageMap(t *testing.T) map[string]stage {
	t.Helper()
	m := map[string]stage{}
	for _, s := range dockerfileStages(t) {
		if s.Name == "" {
			t.Errorf("build/Dockerfile:%d: every stage needs a name (FROM image AS name)", s.Line)
		}
		if _, dup := m[s.Name]; dup {
			t.Errorf("build/Dockerfile:%d: stage %s named twice", s.Line, s.Name)
		}
		m[s.Name] = s
	}
	return m
}

// The base images are the pinned toolchains and the slim runtime.
func TestDockerfileBaseImages(t *testing.T) {
	allowed := []string{"golang:1.26-bookworm", "node:20-bookworm-slim", "debian:bookworm-slim"}
	seen := map[string]bool{}
	for _, s := range dockerfileStages(t) {
		if !slices.Contains(allowed, s.From) && !seen[s.From] {
			t.Errorf("stage %s is FROM %s, want one of %v (or an earlier stage)", s.Name, s.From, allowed)
		}
		seen[s.Name] = true
	}
}

// The runtime images run as a non-root user and carry a health check that the image itself can run.
func TestDockerfileRuntimeStages(t *testing.T) {
	stages := dockerfileStages(t)
	if last := stages[len(stages)-1]; last.Name != "app" {
		t.Errorf("the last stage (the default target of `docker build`) is %s, want app", last.Name)
	}
	m := stageMap(t)
	for _, name := range []string{"app", "tasks-emulator", "minio"} {
		s, ok := m[name]
		if !ok {
			t.Errorf("no stage %s", name)
			continue
		}
		if s.From != "debian:bookworm-slim" {
			t.Errorf("%s is FROM %s, want debian:bookworm-slim", name, s.From)
		}
		user, ok := s.last("USER")
		if !ok {
			t.Errorf("%s has no USER: it would run as root", name)
		} else if u, _, _ := strings.Cut(user.Args, ":"); u == "root" || u == "0" {
			t.Errorf("%s runs as %s", name, user.Args)
		}
		hc, ok := s.last("HEALTHCHECK")
		if !ok {
			t.Errorf("%s has no HEALTHCHECK", name)
			continue
		}
		if !strings.Contains(hc.Args, `CMD ["healthcheck"`) {
			t.Errorf("%s: HEALTHCHECK %q does not run the healthcheck program", name, hc.Args)
		}
		if !copiesFrom(s, "healthcheck-build", "/out/healthcheck") {
			t.Errorf("%s runs healthcheck but does not copy it from the healthcheck-build stage", name)
		}
	}
	// The probe is built static, so that it runs in every runtime image whatever libc they have.
	hb := m["healthcheck-build"]
	if !slices.ContainsFunc(hb.all("RUN"), func(in instruction) bool {
		return strings.Contains(in.Args, "CGO_ENABLED=0") && strings.Contains(in.Args, "./build/docker/healthcheck")
	}) {
		t.Error("healthcheck-build does not build ./build/docker/healthcheck with CGO_ENABLED=0")
	}
	if exp, ok := m["app"].last("EXPOSE"); !ok || exp.Args != "8080" {
		t.Errorf("app exposes %q, want 8080", exp.Args)
	}
	if cmd, ok := m["app"].last("CMD"); !ok || cmd.Args != `["server"]` {
		t.Errorf("app's CMD is %q, want [\"server\"]", cmd.Args)
	}
}

func copiesFrom(s stage, from, src string) bool {
	return slices.ContainsFunc(s.all("COPY"), func(in instruction) bool {
		flags, srcs, _ := copyArgs(in)
		return flags["from"] == from && slices.Contains(srcs, src)
	})
}

// The frontend is built with npm and embedded; the Go programs are built with cgo (onnxruntime_go needs it).
func TestDockerfileBuildStages(t *testing.T) {
	m := stageMap(t)
	fe := m["frontend"]
	runs := strings.Join(args(fe.all("RUN")), "\n")
	if !strings.Contains(runs, "npm ci") || !strings.Contains(runs, "npm run build") {
		t.Errorf("frontend stage runs %q, want npm ci and npm run build", runs)
	}
	g := m["go"]
	if !copiesFrom(g, "frontend", "/src/frontend/dist/") {
		t.Error("the go stage does not copy the built frontend (frontend/dist) for go:embed")
	}
	if !slices.Contains(args(g.all("ENV")), "CGO_ENABLED=1") {
		t.Error("the go stage does not set CGO_ENABLED=1")
	}
	build := ""
	for _, in := range g.all("RUN") {
		if strings.Contains(in.Args, "go build") {
			build = in.Args
		}
	}
	for _, pkg := range []string{"./server", "./worker", "./build/docker/mkbucket"} {
		if !slices.Contains(strings.Fields(build), pkg) {
			t.Errorf("the go stage does not build %s (go build: %q)", pkg, build)
		}
	}
	if strings.Contains(build, "CGO_ENABLED=0") {
		t.Errorf("the programs are built without cgo: %q", build)
	}
	for _, bin := range []string{"/out/server", "/out/worker", "/out/mkbucket"} {
		if !copiesFrom(m["app"], "go", bin) {
			t.Errorf("the app image does not get %s", bin)
		}
	}
}

// The tools are built from their Go modules at the versions the tests run against (build/services/start.sh).
func TestDockerfileToolVersions(t *testing.T) {
	m := stageMap(t)
	start := readFile(t, "build/services/start.sh")
	pin := func(name string) string {
		mm := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindStringSubmatch(start)
		if mm == nil {
			t.Fatalf("build/services/start.sh sets no %s", name)
		}
		return mm[1]
	}
	for stageName, mod := range map[string]string{
		"tasks-emulator-build": pin("TASKS_MODULE") + "@" + pin("TASKS_VERSION"),
		"minio-build":          pin("MINIO_MODULE") + "@" + pin("MINIO_VERSION"),
	} {
		runs := strings.Join(args(m[stageName].all("RUN")), "\n")
		if !strings.Contains(runs, "go install") || !strings.Contains(runs, mod) {
			t.Errorf("stage %s does not go install %s: %q", stageName, mod, runs)
		}
	}
	if !strings.Contains(pin("TASKS_MODULE")+"@"+pin("TASKS_VERSION"), "github.com/aertje/cloud-tasks-emulator@v1.2.0") {
		t.Errorf("the Cloud Tasks emulator is no longer v1.2.0: check its flags in docker-compose.yml")
	}
}

// The model and the ONNX Runtime library are fetched with build/setup-model.sh, which checks their sha256, into the
// folder the app image's BACKLESS_CACHE names, laid out as segment.Locate expects.
func TestDockerfileModel(t *testing.T) {
	m := stageMap(t)
	var cache string
	for _, in := range m["model"].all("RUN") {
		if mm := regexp.MustCompile(`BACKLESS_CACHE=(\S+) setup-model\.sh`).FindStringSubmatch(in.Args); mm != nil {
			cache = mm[1]
		}
	}
	if cache == "" {
		t.Fatal("the model stage does not run setup-model.sh with BACKLESS_CACHE set")
	}
	if !copiesFrom(m["model"], "", "build/setup-model.sh") {
		t.Error("the model stage does not copy build/setup-model.sh")
	}
	if !copiesFrom(m["app"], "model", cache+"/") {
		t.Errorf("the app image does not copy %s from the model stage", cache)
	}
	if !slices.Contains(args(m["app"].all("ENV")), "BACKLESS_CACHE="+cache) {
		t.Errorf("the app image does not set BACKLESS_CACHE=%s", cache)
	}

	// Where the code looks with that cache, relative to it.
	paths := segment.Locate(func(k string) string {
		if k == segment.EnvCache {
			return cache
		}
		return ""
	})
	script := readFile(t, "build/setup-model.sh")
	lib, err := filepath.Rel(cache, paths.Library)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(script, `lib="$cache/`+lib+`"`) {
		t.Errorf("setup-model.sh does not install the library at $cache/%s, where segment.Locate looks", lib)
	}
	model := path.Base(paths.Model)
	if rel, _ := filepath.Rel(cache, paths.Model); rel != "models/"+model {
		t.Errorf("segment.Locate's default model is %s, not under models/", rel)
	}
	// The default model is pinned by sha256 and size, and the assembled file is checked against them.
	pinned := regexp.MustCompile(`"` + regexp.QuoteMeta(model) + `\|[^|]+\|[0-9a-f]{64}\|[0-9]+"`)
	if !pinned.MatchString(script) {
		t.Errorf("setup-model.sh pins no sha256 for the default model %s", model)
	}
	for _, check := range []string{`has_sum "$out" "$sum"`, `has_sum "$lib" "$ORT_LIB_SHA"`, "sha256sum", "set -euo pipefail"} {
		if !strings.Contains(script, check) {
			t.Errorf("setup-model.sh no longer has %q: the image's model and library would go unchecked", check)
		}
	}
	// onnxruntime-node ships the library for linux/x64 only: the stage must refuse another architecture.
	if runs := strings.Join(args(m["model"].all("RUN")), "\n"); !strings.Contains(runs, "dpkg --print-architecture") {
		t.Error("the model stage does not check that it builds for x86-64")
	}
}

// Every file the Dockerfile copies from the context exists and is not left out by .dockerignore, and the context
// leaves out what must not be sent (local builds, dependencies, secrets).
func TestDockerfileContext(t *testing.T) {
	dir := root(t)
	ignore := parseDockerignore(readFile(t, ".dockerignore"))
	n := 0
	for _, s := range dockerfileStages(t) {
		for _, in := range s.all("COPY") {
			flags, srcs, _ := copyArgs(in)
			if flags["from"] != "" {
				continue
			}
			if len(srcs) == 0 {
				t.Errorf("build/Dockerfile:%d: COPY %q has no source", in.Line, in.Args)
			}
			for _, src := range srcs {
				n++
				rel := path.Clean(src)
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
					t.Errorf("build/Dockerfile:%d: COPY source %s: %v", in.Line, src, err)
				}
				if ignore.excluded(rel) {
					t.Errorf("build/Dockerfile:%d: COPY source %s is excluded by .dockerignore", in.Line, src)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no COPY from the build context found")
	}
	for _, rel := range []string{".git", "bin", "data", "node_modules", "frontend/node_modules", ".env",
		"frontend/dist"} {
		if !ignore.excluded(rel) {
			t.Errorf(".dockerignore does not exclude %s", rel)
		}
	}
}

func args(ins []instruction) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Args
	}
	return out
}

package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Paths says where the ONNX Runtime library and the model file are.
type Paths struct {
	Library string // libonnxruntime.so
	Model   string // .onnx model file
}

// Env var names read by Locate; documented in the README.
const (
	EnvCache   = "BACKLESS_CACHE"
	EnvLibrary = "BACKLESS_ORT_LIB"
	EnvModel   = "BACKLESS_MODEL"
	// EnvProfile and EnvThreads are read by the programs (not by Locate) to fill Config.Profile and Config.Threads.
	EnvProfile = "BACKLESS_MODEL_PROFILE"
	EnvThreads = "BACKLESS_THREADS"
	// EnvLowMemory fills Config.LowMemory.
	EnvLowMemory = "BACKLESS_LOW_MEMORY"
)

// ORTVersion is the ONNX Runtime release that build/setup-model.sh installs; onnxruntime_go v1.27.0 asks for C API
// 24, which this release serves.
const ORTVersion = "1.30.0"

// CacheDir is the folder build/setup-model.sh fills: $BACKLESS_CACHE, else $XDG_CACHE_HOME/backless, else
// ~/.cache/backless.
func CacheDir(getenv func(string) string) string {
	if d := getenv(EnvCache); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "backless")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".cache", "backless")
	}
	return filepath.Join(os.TempDir(), "backless-cache")
}

// Locate returns the library and model paths: the env overrides if set, else where the set-up puts them. It does
// not check that the files exist; LoadRuntime and New do, with an error that says what to run.
func Locate(getenv func(string) string) Paths {
	cache := CacheDir(getenv)
	p := Paths{
		Library: filepath.Join(cache, "onnxruntime-"+ORTVersion, "libonnxruntime.so.1"),
		Model:   filepath.Join(cache, "models", "isnet-medium.onnx"),
	}
	if v := getenv(EnvLibrary); v != "" {
		p.Library = v
	}
	if v := getenv(EnvModel); v != "" {
		p.Model = v
	}
	return p
}

// ErrNotInstalled is returned when the runtime library or the model file is missing.
var ErrNotInstalled = errors.New("not installed: run `make setup` (build/setup-model.sh) or set " +
	EnvLibrary + " / " + EnvModel)

// Runtime is the loaded ONNX Runtime library. The library keeps process-wide state (one OrtEnv), so a process
// has at most one Runtime at a time; Close releases it.
type Runtime struct {
	mu     sync.Mutex
	closed bool
}

// LoadRuntime loads the shared library at libPath and creates the process's ONNX Runtime environment.
func LoadRuntime(libPath string) (*Runtime, error) {
	if _, err := os.Stat(libPath); err != nil {
		return nil, fmt.Errorf("onnx runtime library %s: %w (%v)", libPath, ErrNotInstalled, err)
	}
	if ort.IsInitialized() {
		return nil, errors.New("onnx runtime: already loaded in this process; share the existing Runtime")
	}
	pinMmapThreshold()
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("onnx runtime: load %s: %w", libPath, err)
	}
	// Telemetry is off by default on Linux builds; this call only matters on Windows, and must not fail the load.
	_ = ort.DisableTelemetry()
	return &Runtime{}, nil
}

// Version is the loaded library's version string.
func (r *Runtime) Version() string { return ort.GetVersion() }

// Close releases the environment. Engines made from it must be closed first.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("onnx runtime: close: %w", err)
	}
	return nil
}

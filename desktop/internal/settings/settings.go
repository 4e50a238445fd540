// Package settings keeps the desktop app's choices between runs: local or cloud mode, the Backless server's
// address, and the folder results were last saved to. They live in one small JSON file in the user's config folder.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Mode says where images are processed.
type Mode string

const (
	// Local processes images on this computer with the segmentation engine; it works offline. The default.
	Local Mode = "local"
	// Cloud sends images to a Backless server (ServerURL) through its HTTP API.
	Cloud Mode = "cloud"
)

// Settings are the user's choices. The JSON names are what the page sees through the binding and what the file holds.
type Settings struct {
	Mode Mode `json:"mode"`
	// ServerURL is the Backless server's base URL for cloud mode, e.g. "https://backless.example.com".
	ServerURL string `json:"server_url"`
	// SaveDir is the folder the user last saved results to; dialogs start there.
	SaveDir string `json:"save_dir,omitempty"`
}

// Defaults are the settings before the user chose anything: local mode.
func Defaults() Settings { return Settings{Mode: Local} }

// Normalize checks s and returns it in canonical form: an empty mode is local, the server URL is trimmed and loses
// its trailing slash. Cloud mode needs a server URL; any URL given must be http or https with a host and no query.
func (s Settings) Normalize() (Settings, error) {
	if s.Mode == "" {
		s.Mode = Local
	}
	if s.Mode != Local && s.Mode != Cloud {
		return s, fmt.Errorf("unknown mode %q (want %q or %q)", s.Mode, Local, Cloud)
	}
	s.ServerURL = strings.TrimRight(strings.TrimSpace(s.ServerURL), "/")
	if s.ServerURL != "" {
		if err := checkURL(s.ServerURL); err != nil {
			return s, err
		}
	} else if s.Mode == Cloud {
		return s, errors.New("cloud mode needs the Backless server's address")
	}
	return s, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("server address %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("server address %q: must start with http:// or https://", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("server address %q: has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("server address %q: must be a plain http(s)://host[:port][/path]", raw)
	}
	return nil
}

// EnvPath names the settings file instead of the default (for tests and portable set-ups).
const EnvPath = "BACKLESS_DESKTOP_SETTINGS"

// Path is the settings file: $BACKLESS_DESKTOP_SETTINGS, else backless/desktop.json in the user's config folder
// ($XDG_CONFIG_HOME, else the system's: ~/.config on Linux).
func Path(getenv func(string) string) (string, error) {
	if p := getenv(EnvPath); p != "" {
		return p, nil
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("settings: no config folder: %w", err)
		}
	}
	return filepath.Join(dir, "backless", "desktop.json"), nil
}

// Store reads and writes the settings file. It is safe for concurrent use.
type Store struct {
	path string
	mu   sync.Mutex
}

// NewStore returns a store for the file at path; the file need not exist.
func NewStore(path string) *Store { return &Store{path: path} }

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Load reads the settings. A missing file gives the defaults. A file that cannot be read or understood also gives
// the defaults, with the error, so the app starts anyway and the next Save repairs the file.
func (s *Store) Load() (Settings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return Defaults(), nil
	}
	if err != nil {
		return Defaults(), fmt.Errorf("settings: %w", err)
	}
	var v Settings
	if err := json.Unmarshal(b, &v); err != nil {
		return Defaults(), fmt.Errorf("settings: %s: %w", s.path, err)
	}
	n, err := v.Normalize()
	if err != nil {
		return Defaults(), fmt.Errorf("settings: %s: %w", s.path, err)
	}
	return n, nil
}

// Save checks and writes the settings, creating the folder if needed, and returns them as saved. The file is
// replaced atomically, so a crash never leaves half a file.
func (s *Store) Save(v Settings) (Settings, error) {
	n, err := v.Normalize()
	if err != nil {
		return v, err
	}
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return v, fmt.Errorf("settings: %w", err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return v, fmt.Errorf("settings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".desktop-*.json")
	if err != nil {
		return v, fmt.Errorf("settings: %w", err)
	}
	defer os.Remove(tmp.Name()) // nothing left after a successful rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return v, fmt.Errorf("settings: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return v, fmt.Errorf("settings: write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return v, fmt.Errorf("settings: %w", err)
	}
	return n, nil
}

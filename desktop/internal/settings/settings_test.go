package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingFileGivesLocalMode(t *testing.T) {
	s := NewStore(filepath.Join(t.TempDir(), "nope", "desktop.json"))
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got != Defaults() || got.Mode != Local {
		t.Fatalf("Load of a missing file = %+v, want local defaults", got)
	}
}

func TestSaveIsRememberedAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "backless", "desktop.json")
	saved, err := NewStore(path).Save(Settings{Mode: Cloud, ServerURL: "  https://backless.example.test/  ", SaveDir: "/home/me/cutouts"})
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Mode: Cloud, ServerURL: "https://backless.example.test", SaveDir: "/home/me/cutouts"}
	if saved != want {
		t.Fatalf("Save returned %+v, want the normalised %+v", saved, want)
	}
	// A new store on the same file, as at the app's next start.
	got, err := NewStore(path).Load()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("settings folder mode %v, want 0700", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".desktop-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	// Back to local: the server address is kept for the next switch.
	if _, err := NewStore(path).Save(Settings{Mode: Local, ServerURL: want.ServerURL}); err != nil {
		t.Fatal(err)
	}
	if got, _ := NewStore(path).Load(); got.Mode != Local || got.ServerURL != want.ServerURL {
		t.Fatalf("after switching back: %+v", got)
	}
}

func TestInvalidSettingsAreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desktop.json")
	s := NewStore(path)
	for _, bad := range []Settings{
		{Mode: Cloud},
		{Mode: Cloud, ServerURL: "backless.example.test"},
		{Mode: Cloud, ServerURL: "ftp://backless.example.test"},
		{Mode: Cloud, ServerURL: "https://"},
		{Mode: Cloud, ServerURL: "https://user:pw@backless.example.test"},
		{Mode: Cloud, ServerURL: "https://backless.example.test/?x=1"},
		{Mode: "remote", ServerURL: "https://backless.example.test"},
	} {
		if _, err := s.Save(bad); err == nil {
			t.Errorf("Save(%+v): no error", bad)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused save wrote the file (%v)", err)
	}
}

func TestBrokenFileFallsBackToDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desktop.json")
	for _, content := range []string{"{not json", `{"mode":"cloud"}`, `{"mode":"warp"}`} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := NewStore(path).Load()
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Load of %q: error %v, want one naming the file", content, err)
		}
		if got != Defaults() {
			t.Errorf("Load of %q = %+v, want the defaults", content, got)
		}
	}
	// The next save repairs it.
	if _, err := NewStore(path).Save(Settings{Mode: Local}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStore(path).Load(); err != nil {
		t.Fatalf("after a save: %v", err)
	}
}

func TestPath(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	env["XDG_CONFIG_HOME"] = "/cfg"
	if p, err := Path(getenv); err != nil || p != "/cfg/backless/desktop.json" {
		t.Fatalf("Path = %q, %v", p, err)
	}
	env[EnvPath] = "/tmp/mine.json"
	if p, err := Path(getenv); err != nil || p != "/tmp/mine.json" {
		t.Fatalf("Path with %s = %q, %v", EnvPath, p, err)
	}
}

package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/cloud"
	"github.com/backless/backless/desktop/internal/engine"
	"github.com/backless/backless/desktop/internal/servertest"
	"github.com/backless/backless/desktop/internal/settings"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// The real engine (local mode) and the real all-in-one server (cloud mode), each started once for the package.
var (
	loader *engine.Loader
	server *servertest.Server
)

func TestMain(m *testing.M) {
	loader = engine.NewLoader(segment.Locate(os.Getenv), segment.Config{Sessions: 1})
	loader.Preload()
	var err error
	if server, err = servertest.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "service tests need the real server:", err)
		os.Exit(1)
	}
	if _, err := loader.Engine(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "service tests need the engine:", err)
		server.Close()
		os.Exit(1)
	}
	code := m.Run()
	if err := server.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	loader.Close()
	os.Exit(code)
}

// scriptedUI stands in for the window: it records the events sent to the page and answers the native dialogs,
// which need a person (the desktop smoke test drives the real window).
type scriptedUI struct {
	mu      sync.Mutex
	events  []event
	answers []string // next dialog answers, in order
	asked   []string // "save: <dir> <name>", "dir: <dir>"
	errors  []string
	wake    chan struct{}
}

type event struct {
	name string
	data []byte // as JSON, as the page receives it
}

func newUI() *scriptedUI { return &scriptedUI{wake: make(chan struct{}, 1)} }

func (u *scriptedUI) Emit(name string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	u.mu.Lock()
	u.events = append(u.events, event{name, b})
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *scriptedUI) answer() string {
	if len(u.answers) == 0 {
		return ""
	}
	a := u.answers[0]
	u.answers = u.answers[1:]
	return a
}

func (u *scriptedUI) SaveFileDialog(_, dir, name string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, "save: "+dir+" "+name)
	return u.answer(), nil
}

func (u *scriptedUI) OpenFilesDialog(_, dir string) ([]string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, "files: "+dir)
	if a := u.answer(); a != "" {
		return strings.Split(a, "\n"), nil
	}
	return nil, nil
}

func (u *scriptedUI) OpenDirDialog(_, dir string) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.asked = append(u.asked, "dir: "+dir)
	return u.answer(), nil
}

func (u *scriptedUI) ShowError(title, message string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.errors = append(u.errors, title+": "+message)
}

func (u *scriptedUI) willAnswer(a ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answers = append(u.answers, a...)
}

// named returns the JSON of every event with this name.
func (u *scriptedUI) named(name string) [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out [][]byte
	for _, e := range u.events {
		if e.name == name {
			out = append(out, e.data)
		}
	}
	return out
}

func waitUntil(t *testing.T, u *scriptedUI, what string, cond func() bool) {
	t.Helper()
	limit := time.After(3 * time.Minute) // a hang guard, not a speed check
	for !cond() {
		select {
		case <-u.wake:
		case <-time.After(100 * time.Millisecond):
		case <-limit:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func newService(t *testing.T, store *settings.Store, l *engine.Loader) (*Service, *scriptedUI) {
	t.Helper()
	if store == nil {
		store = settings.NewStore(filepath.Join(t.TempDir(), "desktop.json"))
	}
	if l == nil {
		l = loader
	}
	ui := newUI()
	s, err := New(Config{
		Log:      zerolog.New(zerolog.NewTestWriter(t)),
		Settings: store,
		Engine:   l,
		Limits:   imageio.DefaultLimits(),
		NewCloud: func(u string) (batch.Processor, error) { return cloud.New(u, nil) },
	}, ui)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
			t.Errorf("results folder %s left behind", s.dir)
		}
	})
	return s, ui
}

func coffee(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../shared/testdata/coffee.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func done(s *Service, id string) func() bool {
	return func() bool {
		st, err := s.Status(id)
		return err == nil && st.Status.Terminal()
	}
}

func checkPNG(t *testing.T, b []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Size() != (image.Point{X: w, Y: h}) {
		t.Fatalf("PNG is %v, want %dx%d", img.Bounds().Size(), w, h)
	}
	if _, ok := img.(*image.NRGBA); !ok {
		t.Fatalf("PNG is %T, want RGBA", img)
	}
}

// The calls and events frontend/src/lib/desktop.ts relies on, with their JSON as the page receives it.
func TestSubmitFollowsThePagesContract(t *testing.T) {
	s, ui := newService(t, nil, nil)
	id, err := s.Submit("../photos/coffee.jpg", "data:image/jpeg;base64,"+b64(coffee(t)), batch.Options{Crop: true})
	if err != nil {
		t.Fatal(err)
	}
	if !job.ValidID(id) {
		t.Fatalf("id %q is not a job id", id)
	}
	// Until the page has been told: the job's event, then the batch's, go out a moment after the state changes.
	waitUntil(t, ui, "the batch's last event", func() bool {
		evs := ui.named(EventBatch)
		return len(evs) > 0 && bytes.Contains(evs[len(evs)-1], []byte(`"done":1`))
	})

	// Every change went out as the websocket's message on "job:<id>", in order.
	var statuses []string
	for _, raw := range ui.named(EventJobPrefix + id) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "status" || m["id"] != id || m["filename"] != "coffee.jpg" {
			t.Fatalf("event %s: want type status, the id and the file's base name", raw)
		}
		if n := len(statuses); n == 0 || statuses[n-1] != m["status"] {
			statuses = append(statuses, m["status"].(string))
		}
	}
	if !slices.Equal(statuses, []string{"queued", "processing", "done"}) {
		t.Fatalf("statuses %v", statuses)
	}
	st, err := s.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(st)
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	if fields["status"] != "done" || fields["width"] != 600.0 || fields["height"] != 400.0 || fields["progress"] != 1.0 {
		t.Fatalf("Status JSON %s", raw)
	}
	var sum batch.Summary
	batches := ui.named(EventBatch)
	if err := json.Unmarshal(batches[len(batches)-1], &sum); err != nil || sum.Done != 1 || sum.Progress != 1 {
		t.Fatalf("last batch event %s", batches[len(batches)-1])
	}

	out, err := s.Result(id)
	if err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imageio.Probe(png, imageio.DefaultLimits())
	if err != nil || img.Format != imageio.PNG || img.Width >= 600 || img.Height > 400 {
		t.Fatalf("cropped result: %+v, %v; want a PNG smaller than the photo", img, err)
	}

	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	_, err = s.Status(id)
	var e struct{ Code, Message string }
	if err == nil || json.Unmarshal([]byte(ErrorText(err)), &e) != nil || e.Code != "not_found" || e.Message == "" {
		t.Fatalf("Status after Delete: %v (%s), want not_found as JSON", err, ErrorText(err))
	}
}

func TestBadSubmissionsAreRefusedWithCodes(t *testing.T) {
	s, _ := newService(t, nil, nil)
	for _, c := range []struct {
		name, data string
		opts       batch.Options
	}{
		{"x.jpg", "***", batch.Options{}},
		{"x.jpg", "", batch.Options{}},
		{"x.jpg", b64([]byte{1, 2, 3}), batch.Options{BgColor: "chartreuse"}},
		{"x.jpg", b64([]byte{1, 2, 3}), batch.Options{MaskOnly: true, BgColor: "#ffffff"}},
	} {
		_, err := s.Submit(c.name, c.data, c.opts)
		if !strings.HasPrefix(ErrorText(err), `{"code":"bad_request","message":"`) {
			t.Errorf("Submit(%q, %+v): %q, want bad_request JSON", c.data, c.opts, ErrorText(err))
		}
	}
	if got := ErrorText(fmt.Errorf("plain")); got != "plain" {
		t.Errorf("ErrorText of a plain error = %q", got)
	}
	// A non-image is accepted and fails as its own job, with the API's code.
	id, err := s.Submit("notes.jpg", b64([]byte("plain text")), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Status(id)
	for !st.Status.Terminal() {
		time.Sleep(10 * time.Millisecond)
		st, _ = s.Status(id)
	}
	if st.Error == nil || st.Error.Code != job.CodeNotAnImage {
		t.Fatalf("%+v, want not_an_image", st)
	}
}

func TestFoldersAndPickers(t *testing.T) {
	s, ui := newService(t, nil, nil)
	dir := t.TempDir()
	data := coffee(t)
	for _, name := range []string{"b.JPG", "a.jpeg", ".hidden.jpg", "notes.txt", "a.nobg.png", "sub/c.jpg"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		content := data
		if name == "notes.txt" {
			content = []byte("shopping list")
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ui.willAnswer(dir)
	ids, err := s.PickFolder(batch.Options{MaskOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range s.Jobs() {
		names = append(names, st.Filename)
	}
	if len(ids) != 2 || !slices.Equal(names, []string{"a.jpeg", "b.JPG"}) {
		t.Fatalf("folder gave %v (%v), want a.jpeg and b.JPG only, by name", names, ids)
	}

	// A file named explicitly is queued whatever its name, and fails on its own.
	ui.willAnswer(filepath.Join(dir, "notes.txt"))
	more, err := s.PickFiles(batch.Options{})
	if err != nil || len(more) != 1 {
		t.Fatalf("PickFiles: %v, %v", more, err)
	}
	// A cancelled dialog adds nothing.
	if got, err := s.PickFiles(batch.Options{}); got != nil || err != nil {
		t.Fatalf("cancelled picker: %v, %v", got, err)
	}
	if _, err := s.AddPaths([]string{filepath.Join(dir, "missing.jpg")}, batch.Options{}); !job.IsCode(err, batch.CodeUnreadable) {
		t.Fatalf("missing path: %v", err)
	}
	if _, err := s.AddPaths([]string{filepath.Join(dir, "sub", "..", "sub")}, batch.Options{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ui, "the batch", func() bool { return s.Batch().Finished() == 4 })
	sum := s.Batch()
	if sum.Done != 3 || sum.Failed != 1 {
		t.Fatalf("summary %+v, want 3 done and the text file failed", sum)
	}
	if n := s.ClearFinished(); n != 4 || len(s.Jobs()) != 0 {
		t.Fatalf("ClearFinished: %d, jobs left %v", n, s.Jobs())
	}
}

func TestSavingThroughDialogs(t *testing.T) {
	store := settings.NewStore(filepath.Join(t.TempDir(), "desktop.json"))
	s, ui := newService(t, store, nil)
	id, err := s.Submit("coffee.jpg", b64(coffee(t)), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.Submit("coffee.jpg", b64(coffee(t)), batch.Options{})
	waitUntil(t, ui, "the jobs", func() bool { return done(s, id)() && done(s, other)() })

	out := t.TempDir()
	// The user cancels the save dialog: nothing happens.
	if p, err := s.SaveResult(id); p != "" || err != nil {
		t.Fatalf("cancelled save: %q, %v", p, err)
	}
	ui.willAnswer(filepath.Join(out, "mine.png"))
	p, err := s.SaveResult(id)
	if err != nil || p != filepath.Join(out, "mine.png") {
		t.Fatalf("SaveResult: %q, %v", p, err)
	}
	b, _ := os.ReadFile(p)
	checkPNG(t, b, 600, 400)
	if !strings.HasSuffix(ui.asked[1], " coffee.png") {
		t.Fatalf("the dialog proposed %q, want coffee.png", ui.asked[1])
	}
	// The folder is remembered, for the next dialog and the next run.
	if saved, _ := store.Load(); saved.SaveDir != out {
		t.Fatalf("remembered folder %q, want %q", saved.SaveDir, out)
	}

	// SaveAs: what the page shows (it may have put the subject on a colour) goes where the user says.
	ui.willAnswer(filepath.Join(out, "blue.png"))
	if p, err := s.SaveAs("coffee.png", b64(b)); err != nil || p != filepath.Join(out, "blue.png") {
		t.Fatalf("SaveAs: %q, %v", p, err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "blue.png")); !bytes.Equal(got, b) {
		t.Fatal("SaveAs wrote other bytes")
	}
	if !strings.HasPrefix(ui.asked[2], "save: "+out+" ") {
		t.Fatalf("the dialog started in %q, want the remembered folder", ui.asked[2])
	}
	if _, err := s.SaveAs("x.png", "%%%"); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("SaveAs of garbage: %v", err)
	}

	// SaveAll into a folder: both results, the second renamed rather than overwriting.
	all := t.TempDir()
	ui.willAnswer(all)
	rep, err := s.SaveAll()
	if err != nil || rep.Count != 2 || rep.Failed != 0 || rep.Dir != all {
		t.Fatalf("SaveAll: %+v, %v", rep, err)
	}
	for _, name := range []string{"coffee.png", "coffee (2).png"} {
		b, err := os.ReadFile(filepath.Join(all, name))
		if err != nil {
			t.Fatal(err)
		}
		checkPNG(t, b, 600, 400)
	}
	if n := len(ui.named(EventSaved)); n != 3 {
		t.Fatalf("%d saved events, want 3", n)
	}
	// Saving into a folder that vanished is reported to the user, not only to the page.
	if _, err := s.SaveAllTo(filepath.Join(all, "gone")); err == nil || len(ui.errors) != 1 {
		t.Fatalf("SaveAllTo a missing folder: %v, shown %v", err, ui.errors)
	}
}

func TestCloudModeIsRememberedAndUsed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "desktop.json")
	s, ui := newService(t, settings.NewStore(path), nil)
	if got := s.Settings(); got.Mode != settings.Local {
		t.Fatalf("first start: %+v, want local", got)
	}
	if _, err := s.SetSettings(settings.Settings{Mode: settings.Cloud}); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("cloud without a server: %v, want bad_request", err)
	}
	if _, err := s.SetSettings(settings.Settings{Mode: settings.Cloud, ServerURL: "http://127.0.0.1:1"}); !job.IsCode(err, cloud.CodeNetwork) {
		t.Fatalf("unreachable server: %v, want %s", err, cloud.CodeNetwork)
	}
	if got := s.Settings(); got.Mode != settings.Local {
		t.Fatalf("a refused change changed the settings: %+v", got)
	}
	saved, err := s.SetSettings(settings.Settings{Mode: settings.Cloud, ServerURL: server.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if saved.ServerURL != server.URL || len(ui.named(EventSettings)) != 1 {
		t.Fatalf("saved %+v, %d settings events", saved, len(ui.named(EventSettings)))
	}

	// The next start finds cloud mode, and jobs go to the server.
	s2, ui2 := newService(t, settings.NewStore(path), nil)
	if got := s2.Setup(); got.Mode != settings.Cloud || got.ServerURL != server.URL {
		t.Fatalf("second start: %+v, want cloud mode on %s", got, server.URL)
	}
	id, err := s2.Submit("coffee.jpg", b64(coffee(t)), batch.Options{BgColor: "#00ff00"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ui2, "the cloud job", done(s2, id))
	st, _ := s2.Status(id)
	if st.Status != job.StatusDone {
		t.Fatalf("cloud job: %+v", st)
	}
	out, _ := s2.Result(id)
	b, _ := base64.StdEncoding.DecodeString(out)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// On a colour the result is opaque, and its corner (background) is the colour.
	// (The mask is a few units above zero there, so a little of the photo shows through.)
	if r, g, b, a := img.At(0, 0).RGBA(); r>>8 > 10 || g>>8 < 245 || b>>8 > 10 || a>>8 != 255 {
		t.Fatalf("corner %v, want opaque green", img.At(0, 0))
	}

	// Back to local: the server address stays for the next switch.
	back, err := s2.SetSettings(settings.Settings{Mode: settings.Local, ServerURL: server.URL})
	if err != nil || back.Mode != settings.Local || back.ServerURL != server.URL {
		t.Fatalf("back to local: %+v, %v", back, err)
	}
}

func TestMissingModelSaysWhatToRun(t *testing.T) {
	dir := t.TempDir()
	l := engine.NewLoader(segment.Paths{Library: filepath.Join(dir, "lib.so"), Model: filepath.Join(dir, "m.onnx")}, segment.Config{})
	defer l.Close()
	s, ui := newService(t, nil, l)
	if err := s.WaitEngine(context.Background()); err == nil {
		t.Fatal("no error without the engine's files")
	}
	if st := s.Setup(); st.Engine.Ready || !strings.Contains(st.Engine.Hint, "make setup") {
		t.Fatalf("Setup = %+v, want the hint", st)
	}
	id, err := s.Submit("coffee.jpg", b64(coffee(t)), batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ui, "the job", done(s, id))
	st, _ := s.Status(id)
	if st.Error == nil || st.Error.Code != engine.CodeNotInstalled || !strings.Contains(st.Error.Message, "make setup") {
		t.Fatalf("%+v, want not_installed saying to run make setup", st)
	}
}

// Dialogs start in the last folder saved to, else home, else nowhere in particular: the native dialogs refuse a
// starting folder that does not exist.
func TestDialogsStartInAFolderThatExists(t *testing.T) {
	home, gone := t.TempDir(), filepath.Join(t.TempDir(), "gone")
	t.Setenv("HOME", home)
	store := settings.NewStore(filepath.Join(t.TempDir(), "desktop.json"))
	if _, err := store.Save(settings.Settings{Mode: settings.Local, SaveDir: gone}); err != nil {
		t.Fatal(err)
	}
	s, _ := newService(t, store, nil)
	if got := s.saveDir(); got != home {
		t.Fatalf("saveDir = %q with the last folder gone, want home %q", got, home)
	}
	t.Setenv("HOME", gone)
	if got := s.saveDir(); got != "" {
		t.Fatalf("saveDir = %q with no home either, want \"\"", got)
	}
}

// A run with an override (the smoke test's forced local mode) leaves the user's saved choice alone.
func TestOverrideIsNotSaved(t *testing.T) {
	store := settings.NewStore(filepath.Join(t.TempDir(), "desktop.json"))
	mine := settings.Settings{Mode: settings.Cloud, ServerURL: server.URL}
	if _, err := store.Save(mine); err != nil {
		t.Fatal(err)
	}
	ui := newUI()
	s, err := New(Config{
		Log: zerolog.New(zerolog.NewTestWriter(t)), Settings: store, Engine: loader, Limits: imageio.DefaultLimits(),
		NewCloud: func(u string) (batch.Processor, error) { return cloud.New(u, nil) },
		Override: &settings.Settings{Mode: settings.Local},
	}, ui)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Settings(); got.Mode != settings.Local {
		t.Fatalf("Settings = %+v, want the override", got)
	}
	out := t.TempDir()
	ui.willAnswer(filepath.Join(out, "x.png"))
	if _, err := s.SaveAs("x.png", b64([]byte("\x89PNG..."))); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.Load(); got != mine {
		t.Fatalf("saved settings %+v, want the user's %+v untouched", got, mine)
	}
}

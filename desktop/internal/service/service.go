// Package service is everything the desktop app's page can ask for, without Wails: the bound struct in package
// main forwards each of its methods here, and the window's side (native dialogs, events to the page) comes in
// through the UI interface. That keeps this logic testable without a display.
//
// The page's adapter (frontend/src/lib/desktop.ts) calls Submit, Status, Result and Delete like the server's job API,
// and listens to the event "job:<id>" carrying the websocket's message shape. The batch calls (AddPaths, PickFiles,
// PickFolder, Jobs, Batch, Cancel, CancelAll, ClearFinished, SaveResult, SaveAll) and the event "batch" serve a
// batch view; SaveAs saves what the page shows through the native dialog (WebKitGTK ignores <a download>).
package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/engine"
	"github.com/backless/backless/desktop/internal/settings"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// UI is the window: native dialogs and events to the page. package main implements it with Wails' runtime.
type UI interface {
	// Emit sends an event to the page (Wails' EventsEmit); data is sent as JSON.
	Emit(name string, data any)
	// SaveFileDialog asks where to save a file, starting in dir with name filled in; "" when the user cancels.
	SaveFileDialog(title, dir, name string) (string, error)
	// OpenFilesDialog asks for image files; nil when the user cancels.
	OpenFilesDialog(title, dir string) ([]string, error)
	// OpenDirDialog asks for a folder; "" when the user cancels.
	OpenDirDialog(title, dir string) (string, error)
	// ShowError tells the user about a failure the page cannot show (a save from a native dialog).
	ShowError(title, message string)
}

// Event names sent to the page.
const (
	// EventJobPrefix + id carries the job's state in the websocket's message shape.
	EventJobPrefix = "job:"
	// EventBatch carries the queue's batch.Summary.
	EventBatch = "batch"
	// EventSettings carries the settings after they changed.
	EventSettings = "settings"
	// EventSaved carries a SaveReport after a result was saved.
	EventSaved = "saved"
	// EventFilesDropped carries {"paths","x","y"}: files and folders dropped on the window (package main sends it).
	EventFilesDropped = "files:dropped"
)

// Config wires a Service.
type Config struct {
	Log      zerolog.Logger
	Settings *settings.Store
	// Engine is the local mode's engine loader; the caller closes it after the Service.
	Engine *engine.Loader
	Limits imageio.Limits
	// Workers is how many images are processed at once (default 2: one is decoded or encoded while another is in
	// the model, which itself uses every core).
	Workers int
	// NewCloud makes the cloud mode's processor for a server address (cloud.New in production).
	NewCloud func(serverURL string) (batch.Processor, error)
	// Override, when set, replaces the saved settings for this run without saving them (command-line flags).
	Override *settings.Settings
}

// Service answers the page. Its exported methods are the bindings; all are safe for concurrent use and none blocks
// on image processing (that runs on the queue's workers).
type Service struct {
	log      zerolog.Logger
	store    *settings.Store
	loader   *engine.Loader
	local    batch.Processor
	newCloud func(string) (batch.Processor, error)
	queue    *batch.Queue
	dir      string
	ui       UI

	mu    sync.Mutex
	cur   settings.Settings
	cloud batch.Processor // for cur.ServerURL; nil when none is set
	// remember is false while an Override is in force: remembering the save folder would also write the
	// override's mode into the user's file. An explicit SetSettings saves, and remembering resumes.
	remember bool
}

// New starts the service: loads the settings, starts the queue and, in local mode, the engine's load.
func New(cfg Config, ui UI) (*Service, error) {
	if cfg.Settings == nil || cfg.Engine == nil || cfg.NewCloud == nil || ui == nil {
		return nil, errors.New("service: settings, engine, cloud and UI are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	cur, err := cfg.Settings.Load()
	if err != nil {
		// A broken file must not stop the app; the defaults stand and the next save repairs it.
		cfg.Log.Warn().Err(err).Str("path", cfg.Settings.Path()).Msg("settings unreadable, using defaults")
	}
	if cfg.Override != nil {
		if cur, err = cfg.Override.Normalize(); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	s := &Service{
		log:      cfg.Log,
		store:    cfg.Settings,
		loader:   cfg.Engine,
		local:    &engine.Processor{Loader: cfg.Engine, Limits: cfg.Limits},
		newCloud: cfg.NewCloud,
		ui:       ui,
		cur:      cur,
		remember: cfg.Override == nil,
	}
	if cur.ServerURL != "" {
		if s.cloud, err = cfg.NewCloud(cur.ServerURL); err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
	}
	if s.dir, err = os.MkdirTemp("", "backless-desktop-"); err != nil {
		return nil, fmt.Errorf("service: results folder: %w", err)
	}
	s.queue, err = batch.New(batch.Config{Dir: s.dir, Workers: cfg.Workers, Limits: cfg.Limits, OnChange: s.changed})
	if err != nil {
		os.RemoveAll(s.dir)
		return nil, fmt.Errorf("service: %w", err)
	}
	if cur.Mode == settings.Local {
		s.loader.Preload()
	}
	return s, nil
}

// Close cancels the jobs, waits for the workers and removes the results folder.
func (s *Service) Close() error {
	err := s.queue.Close()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// message is a job's state in the websocket's shape: {"type":"status","id",...}.
type message struct {
	Type string `json:"type"`
	batch.State
}

func (s *Service) changed(c batch.Change) {
	if c.Job != nil {
		s.ui.Emit(EventJobPrefix+c.Job.ID, message{Type: "status", State: *c.Job})
		if c.Job.Status == job.StatusFailed && !c.Job.Cancelled() {
			s.log.Warn().Str("job", c.Job.ID).Str("file", c.Job.Filename).Str("code", string(c.Job.Error.Code)).
				Msg(c.Job.Error.Message)
		}
	}
	s.ui.Emit(EventBatch, c.Summary)
}

// processor is what new jobs use: the engine in local mode, the server in cloud mode.
func (s *Service) processor() (batch.Processor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.Mode == settings.Cloud {
		if s.cloud == nil {
			return nil, &job.Error{Code: job.CodeBadRequest, Message: "cloud mode needs a server address in the settings"}
		}
		return s.cloud, nil
	}
	return s.local, nil
}

// Submit queues an image the page holds (base64) and returns its job id.
func (s *Service) Submit(name, dataBase64 string, opts batch.Options) (string, error) {
	data, err := base64.StdEncoding.DecodeString(stripDataURL(dataBase64))
	if err != nil {
		return "", &job.Error{Code: job.CodeBadRequest, Message: "the image data is not valid base64"}
	}
	if len(data) == 0 {
		return "", &job.Error{Code: job.CodeBadRequest, Message: "the image is empty"}
	}
	if _, err := engine.Options(opts, 0); err != nil {
		return "", err
	}
	p, err := s.processor()
	if err != nil {
		return "", err
	}
	return s.queue.Add(batch.Input{Name: filepath.Base(name), Data: data, Options: opts}, p)
}

func stripDataURL(s string) string {
	if strings.HasPrefix(s, "data:") {
		if i := strings.IndexByte(s, ','); i >= 0 {
			return s[i+1:]
		}
	}
	return s
}

// Status is a job's state, as GET /api/jobs/{id} gives it.
func (s *Service) Status(id string) (batch.State, error) { return s.queue.Get(id) }

// Result is a finished job's PNG, base64.
func (s *Service) Result(id string) (string, error) {
	b, err := s.queue.Result(id)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Delete forgets a job (cancelling it if needed) and its result.
func (s *Service) Delete(id string) error { return s.queue.Delete(id) }

// Cancel stops a queued or running job.
func (s *Service) Cancel(id string) error { return s.queue.Cancel(id) }

// CancelAll stops every job not finished yet and returns how many.
func (s *Service) CancelAll() int { return s.queue.CancelAll() }

// Jobs lists every job in the order added.
func (s *Service) Jobs() []batch.State { return s.queue.List() }

// Batch is the overall progress.
func (s *Service) Batch() batch.Summary { return s.queue.Summary() }

// ClearFinished forgets the finished jobs and returns how many.
func (s *Service) ClearFinished() int { return s.queue.Clear() }

// isImageName says whether a file in a folder looks like an image shared/imageio decodes.
func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".webp", ".gif":
		return true
	}
	return false
}

// AddPaths queues files and the images directly inside folders (sorted by name; hidden files and earlier results,
// *.nobg.png, skipped) and returns the new job ids. A file named explicitly is queued whatever its extension, so
// that a wrong one gets its own clear error.
func (s *Service) AddPaths(paths []string, opts batch.Options) ([]string, error) {
	if _, err := engine.Options(opts, 0); err != nil {
		return nil, err
	}
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, &job.Error{Code: job.CodeBadRequest, Message: "no images found there"}
	}
	p, err := s.processor()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(files))
	for _, f := range files {
		id, err := s.queue.Add(batch.Input{Path: f, Options: opts}, p)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func expand(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, &job.Error{Code: batch.CodeUnreadable, Message: err.Error()}
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, &job.Error{Code: batch.CodeUnreadable, Message: err.Error()}
		}
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(strings.ToLower(n), ".nobg.png") ||
				!isImageName(n) {
				continue
			}
			files = append(files, filepath.Join(p, n))
		}
	}
	return files, nil
}

// PickFiles asks for images with the native dialog and queues them; nil when the user cancels.
func (s *Service) PickFiles(opts batch.Options) ([]string, error) {
	paths, err := s.ui.OpenFilesDialog("Choose photos", s.saveDir())
	if err != nil || len(paths) == 0 {
		return nil, err
	}
	return s.AddPaths(paths, opts)
}

// PickFolder asks for a folder with the native dialog and queues its images; nil when the user cancels.
func (s *Service) PickFolder(opts batch.Options) ([]string, error) {
	dir, err := s.ui.OpenDirDialog("Choose a folder of photos", s.saveDir())
	if err != nil || dir == "" {
		return nil, err
	}
	return s.AddPaths([]string{dir}, opts)
}

// SaveReport says what a save wrote.
type SaveReport struct {
	Dir    string        `json:"dir"`
	Saved  []batch.Saved `json:"saved"`
	Count  int           `json:"count"`
	Failed int           `json:"failed"`
}

// SaveResult saves one finished job's PNG where the user chooses (native save dialog, <name>.png proposed) and
// returns the path; "" when the user cancels.
func (s *Service) SaveResult(id string) (string, error) {
	st, err := s.queue.Get(id)
	if err != nil {
		return "", err
	}
	if st.Status != job.StatusDone {
		return "", &job.Error{Code: batch.CodeNotDone, Message: st.Filename + " is not done"}
	}
	path, err := s.ui.SaveFileDialog("Save the cutout", s.saveDir(), job.DownloadName(st.Filename))
	if err != nil || path == "" {
		return "", err
	}
	if err := s.queue.SaveResult(id, path); err != nil {
		return "", s.saveFailed(err)
	}
	s.saved(filepath.Dir(path), []batch.Saved{{ID: id, Filename: st.Filename, Path: path}})
	return path, nil
}

// SaveAs saves bytes the page holds (the PNG it shows, perhaps put on a colour in the page) where the user chooses,
// name proposed; returns the path, "" when the user cancels.
func (s *Service) SaveAs(name, dataBase64 string) (string, error) {
	data, err := base64.StdEncoding.DecodeString(stripDataURL(dataBase64))
	if err != nil || len(data) == 0 {
		return "", &job.Error{Code: job.CodeBadRequest, Message: "nothing to save"}
	}
	path, err := s.ui.SaveFileDialog("Save the cutout", s.saveDir(), job.DownloadName(name))
	if err != nil || path == "" {
		return "", err
	}
	if err := batch.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return "", s.saveFailed(fmt.Errorf("save %s: %w", path, err))
	}
	s.saved(filepath.Dir(path), []batch.Saved{{Filename: name, Path: path}})
	return path, nil
}

// SaveAll asks for a folder (native dialog) and writes every finished result there as <name>.png, never
// overwriting a file. The report is empty (Dir "") when the user cancels.
func (s *Service) SaveAll() (SaveReport, error) {
	dir, err := s.ui.OpenDirDialog("Save all cutouts to a folder", s.saveDir())
	if err != nil || dir == "" {
		return SaveReport{}, err
	}
	return s.SaveAllTo(dir)
}

// SaveAllTo writes every finished result into dir (SaveAll without the dialog).
func (s *Service) SaveAllTo(dir string) (SaveReport, error) {
	saved, err := s.queue.SaveAll(dir)
	if err != nil {
		return SaveReport{}, s.saveFailed(err)
	}
	return s.saved(dir, saved), nil
}

func (s *Service) saveFailed(err error) error {
	s.log.Error().Err(err).Msg("save failed")
	s.ui.ShowError("Could not save", err.Error())
	return err
}

// saved remembers the folder for the next dialog and tells the page.
func (s *Service) saved(dir string, saved []batch.Saved) SaveReport {
	r := SaveReport{Dir: dir, Saved: saved}
	for _, sv := range saved {
		if sv.Error != nil {
			r.Failed++
		} else {
			r.Count++
		}
	}
	s.mu.Lock()
	changed := s.cur.SaveDir != dir && s.remember
	s.cur.SaveDir = dir
	cur := s.cur
	s.mu.Unlock()
	if changed {
		if _, err := s.store.Save(cur); err != nil {
			s.log.Warn().Err(err).Msg("could not remember the save folder")
		}
	}
	s.log.Info().Str("dir", dir).Int("saved", r.Count).Int("failed", r.Failed).Msg("saved")
	s.ui.Emit(EventSaved, r)
	return r
}

// saveDir is where dialogs start: the folder last saved to, else the home folder, else wherever the dialog likes
// ("": the native dialogs refuse a folder that does not exist).
func (s *Service) saveDir() string {
	s.mu.Lock()
	last := s.cur.SaveDir
	s.mu.Unlock()
	home, _ := os.UserHomeDir()
	for _, dir := range []string{last, home} {
		if st, err := os.Stat(dir); dir != "" && err == nil && st.IsDir() {
			return dir
		}
	}
	return ""
}

// Settings are the current settings.
func (s *Service) Settings() settings.Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// SetSettings checks, applies and saves new settings; jobs already queued keep the mode they were queued with.
// Switching to cloud mode asks the server's /healthz first, so a mistyped address is caught at once.
func (s *Service) SetSettings(next settings.Settings) (settings.Settings, error) {
	n, err := next.Normalize()
	if err != nil {
		return s.Settings(), &job.Error{Code: job.CodeBadRequest, Message: err.Error()}
	}
	var cloud batch.Processor
	if n.ServerURL != "" {
		if cloud, err = s.newCloud(n.ServerURL); err != nil {
			return s.Settings(), &job.Error{Code: job.CodeBadRequest, Message: err.Error()}
		}
		if c, ok := cloud.(interface{ Check(context.Context) error }); ok && n.Mode == settings.Cloud {
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			if err := c.Check(ctx); err != nil {
				return s.Settings(), err
			}
		}
	}
	if n.SaveDir == "" {
		n.SaveDir = s.Settings().SaveDir
	}
	saved, err := s.store.Save(n)
	if err != nil {
		return s.Settings(), err
	}
	s.mu.Lock()
	s.cur, s.cloud, s.remember = saved, cloud, true
	s.mu.Unlock()
	if saved.Mode == settings.Local {
		s.loader.Preload()
	}
	s.log.Info().Str("mode", string(saved.Mode)).Str("server", saved.ServerURL).Msg("settings changed")
	s.ui.Emit(EventSettings, saved)
	return saved, nil
}

const checkTimeout = 10 * time.Second

// SetupState says whether processing can start: the mode and, in local mode, the engine's state (with what to
// run when the model is missing).
type SetupState struct {
	Mode      settings.Mode `json:"mode"`
	ServerURL string        `json:"server_url,omitempty"`
	Engine    engine.Status `json:"engine"`
}

// WaitEngine waits until the local engine has loaded (or failed to); it starts the load if needed.
func (s *Service) WaitEngine(ctx context.Context) error {
	_, err := s.loader.Engine(ctx)
	return err
}

// Setup reports the current mode and the engine's state.
func (s *Service) Setup() SetupState {
	cur := s.Settings()
	return SetupState{Mode: cur.Mode, ServerURL: cur.ServerURL, Engine: s.loader.Status()}
}

// ErrorText is how a binding's error reaches the page: a *job.Error as the JSON {"code","message"} that the
// adapter (desktop.ts desktopError) turns into the page's words, anything else as its text.
func ErrorText(err error) string {
	var je *job.Error
	if errors.As(err, &je) {
		b, mErr := json.Marshal(struct {
			Code    job.Code `json:"code"`
			Message string   `json:"message"`
		}{je.Code, je.Message})
		if mErr == nil {
			return string(b)
		}
	}
	return err.Error()
}

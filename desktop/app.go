//go:build desktop

package main

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"sync"

	"github.com/rs/zerolog"
	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/menu"
	"github.com/wailsapp/wails/v2/pkg/menu/keys"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/service"
	"github.com/backless/backless/desktop/internal/settings"
	"github.com/backless/backless/frontend"
)

// icon is the window's icon, a copy of build/appicon.png at 128 px (go:embed cannot reach build/ from here).
//
//go:embed appicon.png
var icon []byte

// App is the struct bound to the page: Wails exposes its exported methods as window.go.main.App.*, which is what
// frontend/src/lib/desktop.ts calls. Each forwards to the service, where the logic and its tests live; only the
// methods listed here are reachable from the page.
type App struct {
	svc   *service.Service
	ui    *wailsUI
	log   zerolog.Logger
	smoke *smokeRun

	mu  sync.Mutex
	ctx context.Context // Wails' context, set at start-up; nil before and after the window's life
}

func newApp(svc *service.Service, ui *wailsUI, log zerolog.Logger, smoke *smokeRun) *App {
	return &App{svc: svc, ui: ui, log: log, smoke: smoke}
}

// Submit queues an image the page holds (base64) and returns its job id.
func (a *App) Submit(name, dataBase64 string, opts batch.Options) (string, error) {
	return a.svc.Submit(name, dataBase64, opts)
}

// Status is a job's state (the JSON of GET /api/jobs/{id}).
func (a *App) Status(id string) (batch.State, error) { return a.svc.Status(id) }

// Result is a finished job's PNG, base64.
func (a *App) Result(id string) (string, error) { return a.svc.Result(id) }

// Delete forgets a job and its result.
func (a *App) Delete(id string) error { return a.svc.Delete(id) }

// Cancel stops a queued or running job.
func (a *App) Cancel(id string) error { return a.svc.Cancel(id) }

// CancelAll stops every unfinished job and returns how many.
func (a *App) CancelAll() int { return a.svc.CancelAll() }

// Jobs lists every job in the order added.
func (a *App) Jobs() []batch.State { return a.svc.Jobs() }

// Batch is the overall progress.
func (a *App) Batch() batch.Summary { return a.svc.Batch() }

// ClearFinished forgets the finished jobs and returns how many.
func (a *App) ClearFinished() int { return a.svc.ClearFinished() }

// AddPaths queues files and folders' images by path (from a native drop) and returns the job ids.
func (a *App) AddPaths(paths []string, opts batch.Options) ([]string, error) {
	return a.svc.AddPaths(paths, opts)
}

// PickFiles asks for photos with the native dialog and queues them.
func (a *App) PickFiles(opts batch.Options) ([]string, error) { return a.svc.PickFiles(opts) }

// PickFolder asks for a folder with the native dialog and queues its photos.
func (a *App) PickFolder(opts batch.Options) ([]string, error) { return a.svc.PickFolder(opts) }

// SaveResult saves one job's PNG through the native save dialog; returns the path ("" if cancelled).
func (a *App) SaveResult(id string) (string, error) { return a.svc.SaveResult(id) }

// SaveAs saves bytes the page holds (base64) through the native save dialog; returns the path ("" if cancelled).
func (a *App) SaveAs(name, dataBase64 string) (string, error) { return a.svc.SaveAs(name, dataBase64) }

// SaveAll saves every finished result into a folder chosen in the native dialog.
func (a *App) SaveAll() (service.SaveReport, error) { return a.svc.SaveAll() }

// Settings are the current settings.
func (a *App) Settings() settings.Settings { return a.svc.Settings() }

// SetSettings changes and saves the settings.
func (a *App) SetSettings(s settings.Settings) (settings.Settings, error) {
	saved, err := a.svc.SetSettings(s)
	if err == nil {
		a.refreshMenu()
	}
	return saved, err
}

// Setup says whether processing can start (the mode, the engine's state, what to run if it is missing).
func (a *App) Setup() service.SetupState { return a.svc.Setup() }

// startup runs when the window exists; from here on the runtime calls work.
func (a *App) startup(ctx context.Context) {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	a.ui.setContext(ctx)
	// A native drop gives the files' paths (folders too), which the page's own drop event cannot; the page's batch
	// view takes them with AddPaths.
	runtime.OnFileDrop(ctx, func(x, y int, paths []string) {
		a.ui.Emit(service.EventFilesDropped, map[string]any{"paths": paths, "x": x, "y": y})
	})
}

// domReady runs when the page has loaded: start a test run, or tell the user now if the engine cannot work.
func (a *App) domReady(ctx context.Context) {
	if a.smoke != nil {
		go a.smoke.run(ctx, a)
		return
	}
	go func() {
		if a.svc.Settings().Mode != settings.Local || a.svc.WaitEngine(ctx) == nil {
			return
		}
		if hint := a.svc.Setup().Engine.Hint; hint != "" {
			a.ui.ShowError("The background remover is not set up", hint)
		}
	}()
}

func (a *App) shutdown(context.Context) {
	a.mu.Lock()
	a.ctx = nil
	a.mu.Unlock()
	a.ui.clearContext()
	a.svc.CancelAll()
}

// quit closes the window, as its close button does.
func (a *App) quit() {
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	if ctx != nil {
		runtime.Quit(ctx)
	}
}

func (a *App) refreshMenu() {
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	if ctx != nil {
		runtime.MenuSetApplicationMenu(ctx, a.menu())
		runtime.MenuUpdateApplicationMenu(ctx)
	}
}

// menu offers the choice of mode; the server's address comes from -server or the page's settings.
func (a *App) menu() *menu.Menu {
	cur := a.svc.Settings()
	m := menu.NewMenu()
	file := m.AddSubmenu("File")
	file.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { a.quit() })
	proc := m.AddSubmenu("Processing")
	proc.AddRadio("On this computer", cur.Mode == settings.Local, nil, func(*menu.CallbackData) {
		a.setMode(settings.Local)
	})
	server := "On a Backless server"
	if cur.ServerURL != "" {
		server += " (" + cur.ServerURL + ")"
	}
	cloudItem := proc.AddRadio(server, cur.Mode == settings.Cloud, nil, func(*menu.CallbackData) {
		a.setMode(settings.Cloud)
	})
	if cur.ServerURL == "" {
		cloudItem.Disable()
	}
	return m
}

func (a *App) setMode(mode settings.Mode) {
	cur := a.svc.Settings()
	if cur.Mode == mode {
		return
	}
	cur.Mode = mode
	if _, err := a.svc.SetSettings(cur); err != nil {
		a.ui.ShowError("Could not switch", service.ErrorText(err))
	}
	a.refreshMenu()
}

// runWindow opens the window and returns when it is closed.
func runWindow(a *App) error {
	var handler http.Handler
	if a.smoke != nil {
		handler = a.smoke.assets()
	}
	return wails.Run(&options.App{
		Title:            "Backless",
		Width:            1100,
		Height:           800,
		MinWidth:         560,
		MinHeight:        480,
		BackgroundColour: options.NewRGB(0xf4, 0xf5, 0xf8), // the page's --bg, so no white flash on start
		AssetServer:      &assetserver.Options{Assets: frontend.FS(), Handler: handler},
		Menu:             a.menu(),
		OnStartup:        a.startup,
		OnDomReady:       a.domReady,
		OnShutdown:       a.shutdown,
		Bind:             []any{a},
		// A *job.Error reaches the page as {"code","message"} JSON, which desktop.ts turns into the page's words.
		ErrorFormatter: func(err error) any { return service.ErrorText(err) },
		Logger:         wailsLogger{a.log},
		DragAndDrop:    &options.DragAndDrop{EnableFileDrop: true},
		Linux: &linux.Options{
			Icon:        icon,
			ProgramName: "backless",
			// On demand, not always: GPU compositing fails on machines without a GPU (virtual displays, CI).
			WebviewGpuPolicy: linux.WebviewGpuPolicyOnDemand,
		},
	})
}

// wailsUI is the service's window side, through Wails' runtime. Calls before start-up or after shutdown do
// nothing (events) or report that there is no window (dialogs).
type wailsUI struct {
	log zerolog.Logger
	mu  sync.Mutex
	ctx context.Context
}

func newWailsUI(log zerolog.Logger) *wailsUI { return &wailsUI{log: log} }

func (u *wailsUI) setContext(ctx context.Context) {
	u.mu.Lock()
	u.ctx = ctx
	u.mu.Unlock()
}

// clearContext forgets Wails' context when the window goes: events and dialogs are then dropped.
func (u *wailsUI) clearContext() {
	u.mu.Lock()
	u.ctx = nil
	u.mu.Unlock()
}

func (u *wailsUI) context() context.Context {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ctx
}

func (u *wailsUI) Emit(name string, data any) {
	if ctx := u.context(); ctx != nil {
		runtime.EventsEmit(ctx, name, data)
	}
}

func (u *wailsUI) SaveFileDialog(title, dir, name string) (string, error) {
	ctx := u.context()
	if ctx == nil {
		return "", errNoWindow
	}
	return runtime.SaveFileDialog(ctx, runtime.SaveDialogOptions{
		Title:                title,
		DefaultDirectory:     dir,
		DefaultFilename:      name,
		CanCreateDirectories: true,
		Filters:              []runtime.FileFilter{{DisplayName: "PNG image (*.png)", Pattern: "*.png"}},
	})
}

func (u *wailsUI) OpenFilesDialog(title, dir string) ([]string, error) {
	ctx := u.context()
	if ctx == nil {
		return nil, errNoWindow
	}
	return runtime.OpenMultipleFilesDialog(ctx, runtime.OpenDialogOptions{
		Title:            title,
		DefaultDirectory: dir,
		Filters: []runtime.FileFilter{
			// GTK's patterns are case-sensitive; cameras often write upper-case extensions.
			{DisplayName: "Images (JPEG, PNG, WebP, GIF)",
				Pattern: "*.jpg;*.jpeg;*.png;*.webp;*.gif;*.JPG;*.JPEG;*.PNG;*.WEBP;*.GIF"},
		},
	})
}

func (u *wailsUI) OpenDirDialog(title, dir string) (string, error) {
	ctx := u.context()
	if ctx == nil {
		return "", errNoWindow
	}
	return runtime.OpenDirectoryDialog(ctx, runtime.OpenDialogOptions{
		Title: title, DefaultDirectory: dir, CanCreateDirectories: true,
	})
}

func (u *wailsUI) ShowError(title, message string) {
	u.log.Warn().Str("title", title).Msg(message)
	if ctx := u.context(); ctx != nil {
		_, _ = runtime.MessageDialog(ctx, runtime.MessageDialogOptions{
			Type: runtime.ErrorDialog, Title: title, Message: message,
		})
	}
}

// errNoWindow: a dialog was asked for before the window opened or after it closed.
var errNoWindow = errors.New("no window")

// wailsLogger sends Wails' own log lines to zerolog.
type wailsLogger struct{ log zerolog.Logger }

func (l wailsLogger) Print(m string)   { l.log.Info().Str("from", "wails").Msg(m) }
func (l wailsLogger) Trace(m string)   { l.log.Trace().Str("from", "wails").Msg(m) }
func (l wailsLogger) Debug(m string)   { l.log.Debug().Str("from", "wails").Msg(m) }
func (l wailsLogger) Info(m string)    { l.log.Info().Str("from", "wails").Msg(m) }
func (l wailsLogger) Warning(m string) { l.log.Warn().Str("from", "wails").Msg(m) }
func (l wailsLogger) Error(m string)   { l.log.Error().Str("from", "wails").Msg(m) }
func (l wailsLogger) Fatal(m string)   { l.log.Fatal().Str("from", "wails").Msg(m) }

//go:build desktop

// Command desktop is Backless's desktop app: the web app's pages in a Wails v2 window, with the work done on this
// computer by the segmentation engine (local mode, the default, offline) or by a Backless server (cloud mode).
//
// Build (Wails builds only the package beside wails.json, so plain go build is used; see the Makefile):
//
//	go build -tags desktop,production,webkit2_41 -o bin/backless-desktop ./desktop
//
// Usage:
//
//	backless-desktop                      start in the saved mode (local unless chosen otherwise)
//	backless-desktop -server URL          use the Backless server at URL (cloud mode), and remember it
//	backless-desktop -local               process on this computer, and remember it
//	backless-desktop -smoke IN -smoke-out OUT
//	                                      test run: drop IN on the page, wait for the result, save it to OUT through
//	                                      the page's download button, print "smoke: ok", quit on SIGTERM
//
// Environment: BACKLESS_CACHE, BACKLESS_ORT_LIB, BACKLESS_MODEL (where the engine's files are, as for the CLI),
// BACKLESS_MODEL_PROFILE, BACKLESS_THREADS, BACKLESS_SESSIONS, BACKLESS_LOW_MEMORY, MAX_UPLOAD_BYTES, MAX_PIXELS (as for the server),
// BACKLESS_DESKTOP_SETTINGS (the settings file), LOG_LEVEL.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/desktop/internal/cloud"
	"github.com/backless/backless/desktop/internal/engine"
	"github.com/backless/backless/desktop/internal/service"
	"github.com/backless/backless/desktop/internal/settings"
	"github.com/backless/backless/shared/config"
	"github.com/backless/backless/shared/segment"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

type flags struct {
	server       string
	local        bool
	smokeIn      string
	smokeOut     string
	smokeTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("backless-desktop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.server, "server", "", "process on the Backless server at `URL` (cloud mode) and remember it")
	fs.BoolVar(&f.local, "local", false, "process on this computer (local mode) and remember it")
	fs.StringVar(&f.smokeIn, "smoke", "", "test run: process this `image` through the page in local mode")
	fs.StringVar(&f.smokeOut, "smoke-out", "", "test run: save the result here (`file`)")
	fs.DurationVar(&f.smokeTimeout, "smoke-timeout", 5*time.Minute, "test run: give up after this long")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.server != "" && f.local {
		return f, errors.New("-server and -local exclude each other")
	}
	if (f.smokeIn == "") != (f.smokeOut == "") {
		return f, errors.New("-smoke and -smoke-out go together")
	}
	return f, nil
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "backless-desktop:", err)
		return 2
	}
	log := newLogger(stderr, getenv("LOG_LEVEL"))
	webkitDefaults(getenv)

	path, err := settings.Path(getenv)
	if err != nil {
		log.Error().Err(err).Msg("settings")
		return 1
	}
	store := settings.NewStore(path)
	var override *settings.Settings
	switch {
	case f.smokeIn != "":
		// The test run is always local and must not change the user's saved choice.
		override = &settings.Settings{Mode: settings.Local}
	case f.server != "" || f.local:
		if err := rememberMode(store, f); err != nil {
			log.Error().Err(err).Msg("settings")
			return 2
		}
	}

	// The engine's files, profile, threads and the image limits come from the same variables as the all-in-one
	// server's (shared/config; the files found by segment.Locate, as the CLI finds them), so both give the same
	// cutouts. Only the engine's part and the limits are used here.
	cfg, err := config.Load(getenv, config.RoleServer)
	if err != nil {
		log.Error().Err(err).Msg("configuration")
		return 2
	}
	loader := engine.NewLoader(
		segment.Paths{Library: cfg.Engine.Library, Model: cfg.Engine.Model},
		cfg.Engine.Segment(),
	)
	defer func() {
		if err := loader.Close(); err != nil {
			log.Warn().Err(err).Msg("engine close")
		}
	}()
	ui := newWailsUI(log)
	var smoke *smokeRun
	if f.smokeIn != "" {
		smoke = newSmokeRun(f.smokeIn, f.smokeOut, f.smokeTimeout, ui, stdout, log)
	}
	var windowUI service.UI = ui
	if smoke != nil {
		windowUI = smoke.ui
	}
	svc, err := service.New(service.Config{
		Log:      log,
		Settings: store,
		Engine:   loader,
		Limits:   cfg.Limits(),
		NewCloud: func(u string) (batch.Processor, error) { return cloud.New(u, nil) },
		Override: override,
	}, windowUI)
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	defer func() {
		if err := svc.Close(); err != nil {
			log.Warn().Err(err).Msg("close")
		}
	}()

	// Wails itself turns Ctrl-C and SIGTERM into a clean shutdown (OnShutdown cancels the jobs, then the deferred
	// closes run), so there is no signal handling here.
	app := newApp(svc, ui, log, smoke)
	if err := runWindow(app); err != nil {
		log.Error().Err(err).Msg("window")
		return 1
	}
	if smoke != nil {
		return smoke.exitCode()
	}
	return 0
}

// rememberMode saves the mode the command line chose.
func rememberMode(store *settings.Store, f flags) error {
	cur, _ := store.Load() // unreadable settings are replaced by what the flags say
	if f.server != "" {
		cur.Mode, cur.ServerURL = settings.Cloud, f.server
	} else {
		cur.Mode = settings.Local
	}
	_, err := store.Save(cur)
	return err
}

// webkitDefaults turns off WebKitGTK's DMA-BUF renderer unless the environment says otherwise: without a GPU
// (virtual machines, remote and virtual displays, CI's Xvfb) it leaves the window blank, and a page of forms and a
// picture gains nothing from it. Set WEBKIT_DISABLE_DMABUF_RENDERER=0 to use it anyway.
func webkitDefaults(getenv func(string) string) {
	if getenv("WEBKIT_DISABLE_DMABUF_RENDERER") == "" {
		_ = os.Setenv("WEBKIT_DISABLE_DMABUF_RENDERER", "1") // only fails for an invalid name
	}
}

func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("app", "desktop").Logger()
}

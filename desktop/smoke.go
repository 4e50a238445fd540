//go:build desktop

package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/backless/backless/desktop/internal/service"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// smokeScript drives the page during a test run.
//
//go:embed smoke.js
var smokeScript string

// smokeInputPath is where the page fetches the test photo from (served by the asset server only in a test run).
const smokeInputPath = "/_smoke/input"

// smokeRun is the -smoke test run: the real window and page, the real engine, a photo dropped on the page as a user
// would, the result saved through the page's download button. Only the save dialog is answered by the program,
// since nobody is there to click it. Its outcome is printed on stdout ("smoke: ok …" or "smoke: FAIL …") and is
// the exit code; after success the window stays until SIGTERM so that a screenshot can be taken.
type smokeRun struct {
	in, out string
	timeout time.Duration
	stdout  io.Writer
	log     zerolog.Logger
	ui      *smokeUI

	failed error // set once the outcome is known; nil means success
	known  bool
	mu     sync.Mutex
}

func newSmokeRun(in, out string, timeout time.Duration, win *wailsUI, stdout io.Writer, log zerolog.Logger) *smokeRun {
	s := &smokeRun{in: in, out: out, timeout: timeout, stdout: stdout, log: log}
	s.ui = &smokeUI{wailsUI: win, out: out, saved: make(chan service.SaveReport, 1), errs: make(chan string, 4)}
	return s
}

// assets serves the test photo to the page.
func (s *smokeRun) assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != smokeInputPath {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, s.in)
	})
}

// pageReport is what smoke.js reports.
type pageReport struct {
	Step     string `json:"step"`
	Error    string `json:"error"`
	How      string `json:"how"`
	Path     string `json:"path"`
	Heading  string `json:"heading"`
	Download string `json:"download"`
	Note     string `json:"note"` // what the page says becomes of the image
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

func (s *smokeRun) run(ctx context.Context, app *App) {
	err := s.drive(ctx, app)
	s.finish(err)
	if err != nil {
		app.quit()
		return
	}
	// Success: leave the window up for the screenshot; the caller sends SIGTERM. Do not hang if it never does.
	select {
	case <-ctx.Done():
	case <-time.After(s.timeout):
		s.log.Warn().Msg("smoke: no SIGTERM after success; quitting")
		app.quit()
	}
}

func (s *smokeRun) drive(ctx context.Context, app *App) error {
	deadline := time.After(s.timeout)
	orig, err := os.ReadFile(s.in)
	if err != nil {
		return err
	}
	info, err := imageio.Probe(orig, imageio.DefaultLimits())
	if err != nil {
		return fmt.Errorf("%s: %w", s.in, err)
	}
	if err := app.svc.WaitEngine(ctx); err != nil {
		return fmt.Errorf("engine: %w", err)
	}

	pages := make(chan pageReport, 16)
	off := runtime.EventsOn(ctx, "smoke:page", func(data ...any) {
		var r pageReport
		if len(data) > 0 {
			b, _ := json.Marshal(data[0])
			_ = json.Unmarshal(b, &r)
		}
		pages <- r
	})
	defer off()
	cfg, _ := json.Marshal(map[string]any{
		"input":     smokeInputPath,
		"name":      filepath.Base(s.in),
		"type":      mime.TypeByExtension(strings.ToLower(filepath.Ext(s.in))),
		"timeoutMs": s.timeout.Milliseconds(),
	})
	runtime.WindowExecJS(ctx, strings.ReplaceAll(smokeScript, "(__SMOKE_CONFIG__)", "("+string(cfg)+")"))

	var shown pageReport
	for {
		select {
		case r := <-pages:
			s.log.Info().Str("step", r.Step).Str("how", r.How).Str("path", r.Path).Msg("smoke: page")
			switch r.Step {
			case "error":
				return fmt.Errorf("page: %s", r.Error)
			case "shown":
				shown = r
				if r.Width != info.Width || r.Height != info.Height {
					return fmt.Errorf("page shows a %dx%d cutout of a %dx%d photo", r.Width, r.Height, info.Width, info.Height)
				}
				// The smoke run is in local mode: the page must not tell of a server that never saw the photo.
				if !strings.Contains(r.Note, "this computer") {
					return fmt.Errorf("the result's privacy note does not say the photo stayed on this computer: %q", r.Note)
				}
			}
		case msg := <-s.ui.errs:
			return fmt.Errorf("error shown to the user: %s", msg)
		case rep := <-s.ui.saved:
			if shown.Step == "" {
				return errors.New("saved before the page showed the result")
			}
			if want := job.DownloadName(filepath.Base(s.in)); shown.Download != want {
				return fmt.Errorf("download is named %q, want %q", shown.Download, want)
			}
			if err := checkCutout(s.out, info); err != nil {
				return err
			}
			jobs := app.svc.Jobs()
			if len(jobs) != 1 || jobs[0].Status != job.StatusDone {
				return fmt.Errorf("want one done job, have %+v", jobs)
			}
			fmt.Fprintf(s.stdout, "smoke: ok job=%s in=%s out=%s size=%dx%d saved=%d\n",
				jobs[0].ID, s.in, s.out, info.Width, info.Height, rep.Count)
			return nil
		case <-deadline:
			return fmt.Errorf("timed out after %s", s.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkCutout checks the saved file: a PNG with transparency at the photo's size.
func checkCutout(path string, info imageio.Info) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if sz := img.Bounds().Size(); sz != (image.Point{X: info.Width, Y: info.Height}) {
		return fmt.Errorf("%s is %v, want %dx%d", path, sz, info.Width, info.Height)
	}
	nrgba, ok := img.(*image.NRGBA)
	if !ok {
		return fmt.Errorf("%s is %T, want RGBA", path, img)
	}
	// The model's mask rarely reaches exactly 255 (a sigmoid), so "solid" is nearly opaque.
	var clear, solid int
	for i := 3; i < len(nrgba.Pix); i += 4 {
		switch a := nrgba.Pix[i]; {
		case a == 0:
			clear++
		case a >= 250:
			solid++
		}
	}
	if clear == 0 || solid == 0 {
		return fmt.Errorf("%s: %d transparent and %d solid pixels; a cutout has both", path, clear, solid)
	}
	return nil
}

func (s *smokeRun) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known {
		return
	}
	s.known, s.failed = true, err
	if err != nil {
		fmt.Fprintf(s.stdout, "smoke: FAIL %v\n", err)
	}
}

func (s *smokeRun) exitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.known {
		fmt.Fprintln(s.stdout, "smoke: FAIL the window closed before the test run ended")
		return 1
	}
	if s.failed != nil {
		return 1
	}
	return 0
}

// smokeUI is the window for a test run: everything as usual except the dialogs, which nobody is there to answer.
// The save dialog answers with the output path; an error message becomes the run's failure instead of a modal.
type smokeUI struct {
	*wailsUI
	out   string
	saved chan service.SaveReport
	errs  chan string
}

func (u *smokeUI) Emit(name string, data any) {
	u.wailsUI.Emit(name, data)
	if r, ok := data.(service.SaveReport); ok && name == service.EventSaved {
		select {
		case u.saved <- r:
		default:
		}
	}
}

func (u *smokeUI) SaveFileDialog(_, _, _ string) (string, error) { return u.out, nil }

func (u *smokeUI) OpenFilesDialog(string, string) ([]string, error) {
	return nil, errors.New("no file dialog in a test run")
}

func (u *smokeUI) OpenDirDialog(string, string) (string, error) {
	return "", errors.New("no folder dialog in a test run")
}

func (u *smokeUI) ShowError(title, message string) {
	u.log.Error().Str("title", title).Msg(message)
	select {
	case u.errs <- title + ": " + message:
	default:
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/segment"
)

// removeFlags are the options of `worker remove`.
type removeFlags struct {
	output     string
	model      string
	profile    string
	maskOnly   bool
	background string
	crop       bool
	margin     int
	threads    int
	lowMemory  bool
	jobs       int
	maxPixels  int64
	maxBytes   int64
	quiet      bool
}

func newRemoveFlagSet(f *removeFlags, stderr io.Writer, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("worker remove", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := imageio.DefaultLimits()
	fs.StringVar(&f.output, "o", "", "output `FILE` (one input) or DIR; - writes to stdout. Default: <name>.png next to each input")
	fs.StringVar(&f.model, "model", "", "ONNX model `file` (default $"+segment.EnvModel+" or the one `make setup` installed)")
	fs.StringVar(&f.profile, "profile", getenv(segment.EnvProfile), "model profile: isnet, u2net, u2netp, birefnet (default $"+segment.EnvProfile+", else detected from the model)")
	fs.BoolVar(&f.maskOnly, "mask", false, "write the 8-bit mask instead of the cutout")
	fs.StringVar(&f.background, "bg", "", "put the subject on this `colour` (#rrggbb) instead of transparency")
	fs.BoolVar(&f.crop, "crop", false, "crop to the subject's bounding box")
	fs.IntVar(&f.margin, "margin", 0, "`pixels` kept around the subject with -crop")
	fs.IntVar(&f.threads, "threads", envInt(getenv, segment.EnvThreads), "inference threads (default $"+segment.EnvThreads+", else all CPUs)")
	fs.BoolVar(&f.lowMemory, "low-memory", envBool(getenv, segment.EnvLowMemory), "about 110 MB less memory for about a third slower inference (default $"+segment.EnvLowMemory+")")
	fs.IntVar(&f.jobs, "jobs", 2, "files in flight at once: decoding and encoding overlap with inference")
	fs.Int64Var(&f.maxPixels, "max-pixels", def.MaxPixels, "refuse images with more `pixels` than this")
	fs.Int64Var(&f.maxBytes, "max-bytes", def.MaxBytes, "refuse files larger than this many `bytes`")
	fs.BoolVar(&f.quiet, "q", false, "print only errors")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: worker remove [flags] IN… [-o FILE|DIR]\n\n"+
			"Removes the background of each image (JPEG, PNG, WebP, GIF) and writes a transparent PNG.\n"+
			"IN may be a file, a folder (its images) or - (stdin). Flags may come before or after the inputs.\n\n")
		fs.PrintDefaults()
	}
	return fs
}

// envInt reads an integer environment variable; unset or malformed means 0, the engine's default.
func envInt(getenv func(string) string, name string) int {
	n, err := strconv.Atoi(getenv(name))
	if err != nil {
		return 0
	}
	return n
}

func envBool(getenv func(string) string, name string) bool {
	b, _ := strconv.ParseBool(getenv(name)) // anything but a boolean means the default, false
	return b
}

// parseInterspersed parses flags wherever they stand among the positional arguments, as users expect from
// `worker remove photo.jpg -o out.png`; the standard flag package alone stops at the first positional argument.
// "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// task is one image to process.
type task struct {
	in, out string // "-" for stdin / stdout
}

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".webp": true, ".gif": true}

// plan expands folders and chooses each output name: <name>.png next to the input, or in the output folder. A PNG
// input whose output would overwrite it gets <name>.nobg.png instead, so the original is never lost.
func plan(inputs []string, output string) ([]task, error) {
	var files []string
	for _, in := range inputs {
		if in == "-" {
			files = append(files, in)
			continue
		}
		st, err := os.Stat(in)
		if err != nil || !st.IsDir() {
			// A file that is missing or unreadable fails on its own when it is read, reported with its name,
			// like any other bad file of a batch: the others are still done.
			files = append(files, in)
			continue
		}
		entries, err := os.ReadDir(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
		var found []string
		for _, e := range entries {
			if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(e.Name()))] && !strings.HasSuffix(e.Name(), ".nobg.png") {
				found = append(found, filepath.Join(in, e.Name()))
			}
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, errors.New("no images found in the inputs")
	}
	toDir := false
	if output != "" && output != "-" {
		st, err := os.Stat(output)
		toDir = (err == nil && st.IsDir()) || strings.HasSuffix(output, string(os.PathSeparator)) || len(files) > 1
	}
	if output == "-" && len(files) > 1 {
		return nil, errors.New("-o - (stdout) takes a single input")
	}
	tasks := make([]task, 0, len(files))
	seen := map[string]string{}
	for _, in := range files {
		t := task{in: in}
		base := "stdin"
		if in != "-" {
			base = strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		}
		switch {
		case output == "-" || (output == "" && in == "-"):
			t.out = "-"
		case toDir:
			t.out = filepath.Join(output, base+".png")
		case output != "":
			t.out = output
		default:
			t.out = filepath.Join(filepath.Dir(in), base+".png")
		}
		if t.out != "-" && in != "-" && sameFile(in, t.out) {
			t.out = strings.TrimSuffix(t.out, ".png") + ".nobg.png"
		}
		if prev, dup := seen[t.out]; dup && t.out != "-" {
			return nil, fmt.Errorf("%s and %s would both be written to %s", prev, in, t.out)
		}
		seen[t.out] = in
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func runRemove(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	var f removeFlags
	fs := newRemoveFlagSet(&f, stderr, getenv)
	inputs, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(inputs) == 0 {
		fs.Usage()
		return 2
	}
	bg, err := segment.ParseColor(f.background)
	if err != nil {
		fmt.Fprintf(stderr, "worker remove: -bg: %v\n", err)
		return 2
	}
	tasks, err := plan(inputs, f.output)
	if err != nil {
		fmt.Fprintf(stderr, "worker remove: %v\n", err)
		return 2
	}
	if len(tasks) > 1 && f.output != "" {
		if err := os.MkdirAll(f.output, 0o755); err != nil {
			fmt.Fprintf(stderr, "worker remove: %v\n", err)
			return 1
		}
	}

	paths := segment.Locate(getenv)
	if f.model != "" {
		paths.Model = f.model
	}
	rt, err := segment.LoadRuntime(paths.Library)
	if err != nil {
		fmt.Fprintf(stderr, "worker remove: %v\n", err)
		return 1
	}
	defer rt.Close()
	eng, err := segment.New(ctx, rt, segment.Config{ModelPath: paths.Model, Profile: f.profile, Threads: f.threads,
		LowMemory: f.lowMemory})
	if err != nil {
		fmt.Fprintf(stderr, "worker remove: %v\n", err)
		return 1
	}
	defer eng.Close()

	r := remover{
		eng:   eng,
		opts:  segment.Options{MaskOnly: f.maskOnly, Background: bg, Crop: f.crop, CropMargin: f.margin},
		lim:   imageio.Limits{MaxBytes: f.maxBytes, MaxPixels: f.maxPixels},
		stdin: stdin, stdout: stdout,
	}
	prog := newProgress(stderr, len(tasks), f.quiet)
	jobs := max(1, min(f.jobs, len(tasks)))
	work := make(chan task)
	var wg sync.WaitGroup
	for i := 0; i < jobs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				prog.start(t.in)
				start := time.Now()
				err := r.remove(ctx, t)
				prog.done(t, time.Since(start), err)
			}
		}()
	}
	for _, t := range tasks {
		if ctx.Err() != nil {
			prog.done(t, 0, ctx.Err())
			continue
		}
		work <- t
	}
	close(work)
	wg.Wait()
	return prog.finish()
}

// remover runs one task through decode → segment → compose → encode.
type remover struct {
	eng    *segment.Engine
	opts   segment.Options
	lim    imageio.Limits
	stdin  io.Reader
	stdout io.Writer
	mu     sync.Mutex // serialises writes to stdout
}

func (r *remover) remove(ctx context.Context, t task) error {
	data, err := r.read(t.in)
	if err != nil {
		return err
	}
	if t.out == "-" {
		var buf bytes.Buffer
		if _, err := r.eng.Remove(ctx, data, r.lim, r.opts, &buf); err != nil {
			return err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		_, err := buf.WriteTo(r.stdout)
		return err
	}
	return writeAtomic(t.out, func(w io.Writer) error {
		_, err := r.eng.Remove(ctx, data, r.lim, r.opts, w)
		return err
	})
}

func (r *remover) read(in string) ([]byte, error) {
	if in == "-" {
		return imageio.ReadAll(r.stdin, r.lim)
	}
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return imageio.ReadAll(f, r.lim)
}

// writeAtomic writes to a temporary file beside path and renames it into place, so that a failure or an interrupt
// never leaves a truncated PNG under the final name.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private; a cutout is an ordinary file, readable as the umask allows.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

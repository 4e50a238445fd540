package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress reports a batch on stderr: a redrawn bar on a terminal, one line per file otherwise (logs, CI). Errors
// always get their own line with the file name.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	quiet    bool
	total    int
	finished int
	failed   int
	current  string
	began    time.Time
}

func newProgress(w io.Writer, total int, quiet bool) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty, quiet: quiet, total: total, began: time.Now()}
}

func (p *progress) start(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = name
	p.draw()
}

func (p *progress) done(t task, took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	p.clearLine()
	switch {
	case err != nil:
		p.failed++
		fmt.Fprintf(p.w, "error: %s: %v\n", t.in, err)
	case !p.quiet && (!p.tty || p.total == 1):
		fmt.Fprintf(p.w, "ok %s -> %s (%s)\n", t.in, t.out, took.Round(time.Millisecond))
	}
	p.draw()
}

// finish prints the summary and returns the exit code: 1 if any file failed.
func (p *progress) finish() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLine()
	if p.total > 1 && (!p.quiet || p.failed > 0) {
		fmt.Fprintf(p.w, "%d of %d done, %d failed, in %s\n", p.finished-p.failed, p.total, p.failed,
			time.Since(p.began).Round(time.Millisecond))
	}
	if p.failed > 0 {
		return 1
	}
	return 0
}

func (p *progress) clearLine() {
	if p.tty && p.total > 1 {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) draw() {
	if !p.tty || p.total <= 1 || p.quiet {
		return
	}
	const width = 30
	filled := width * p.finished / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		p.finished, p.total, p.current)
}

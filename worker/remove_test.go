package main

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testdata = "../shared/testdata"

func TestParseInterspersed(t *testing.T) {
	var f removeFlags
	fs := newRemoveFlagSet(&f, io.Discard, func(string) string { return "" })
	pos, err := parseInterspersed(fs, []string{"a.jpg", "-o", "out", "b.jpg", "-mask", "--", "-c.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, ",") != "a.jpg,b.jpg,-c.jpg" || f.output != "out" || !f.maskOnly {
		t.Fatalf("positional %v, output %q, mask %v", pos, f.output, f.maskOnly)
	}
	fs = newRemoveFlagSet(&f, io.Discard, func(string) string { return "" })
	if _, err := parseInterspersed(fs, []string{"a.jpg", "-nope"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
	var g removeFlags
	fs = newRemoveFlagSet(&g, io.Discard, func(k string) string {
		return map[string]string{"BACKLESS_MODEL_PROFILE": "u2net", "BACKLESS_THREADS": "3", "BACKLESS_LOW_MEMORY": "true"}[k]
	})
	if _, err := parseInterspersed(fs, nil); err != nil || g.profile != "u2net" || g.threads != 3 || !g.lowMemory {
		t.Fatalf("env defaults: profile %q threads %d low memory %v (%v)", g.profile, g.threads, g.lowMemory, err)
	}
	if _, err := parseInterspersed(fs, []string{"-low-memory=false"}); err != nil || g.lowMemory {
		t.Fatalf("-low-memory=false: %v (%v)", g.lowMemory, err)
	}
	if err := fs.Parse([]string{"-h"}); err != flag.ErrHelp {
		t.Fatalf("-h: %v", err)
	}
}

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlanNames(t *testing.T) {
	dir := t.TempDir()
	jpg := touch(t, filepath.Join(dir, "cat.jpg"))
	pngIn := touch(t, filepath.Join(dir, "logo.png"))
	sub := filepath.Join(dir, "photos")
	os.Mkdir(sub, 0o755)
	touch(t, filepath.Join(sub, "b.JPG"))
	touch(t, filepath.Join(sub, "a.webp"))
	touch(t, filepath.Join(sub, "notes.txt"))
	touch(t, filepath.Join(sub, "old.nobg.png"))

	check := func(name string, got []task, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var outs []string
		for _, g := range got {
			outs = append(outs, g.out)
		}
		if strings.Join(outs, "|") != strings.Join(want, "|") {
			t.Errorf("%s: got %v, want %v", name, outs, want)
		}
	}
	ts, err := plan([]string{jpg}, "")
	check("next to input", ts, err, filepath.Join(dir, "cat.png"))
	ts, err = plan([]string{pngIn}, "")
	check("png input is not overwritten", ts, err, filepath.Join(dir, "logo.nobg.png"))
	ts, err = plan([]string{jpg}, filepath.Join(dir, "x.png"))
	check("explicit file", ts, err, filepath.Join(dir, "x.png"))
	out := filepath.Join(dir, "out")
	ts, err = plan([]string{jpg, sub}, out)
	check("folder expanded, sorted, into output dir", ts, err,
		filepath.Join(out, "cat.png"), filepath.Join(out, "a.png"), filepath.Join(out, "b.png"))
	ts, err = plan([]string{"-"}, "")
	check("stdin to stdout", ts, err, "-")
	if _, err := plan([]string{jpg, pngIn}, "-"); err == nil {
		t.Error("two inputs to stdout accepted")
	}
	twin := filepath.Join(sub, "cat.png")
	touch(t, twin)
	if _, err := plan([]string{jpg, twin}, out); err == nil {
		t.Error("two inputs writing the same output accepted")
	}
	ts, err = plan([]string{filepath.Join(dir, "missing.jpg"), jpg}, out)
	check("a missing file is planned, to fail when read", ts, err, filepath.Join(out, "missing.png"), filepath.Join(out, "cat.png"))
	if _, err := plan([]string{t.TempDir()}, ""); err == nil {
		t.Error("empty folder accepted")
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestRemoveBatch runs the real command, with the real model, on a batch mixing a good photo with bad inputs: the
// good one is written, every bad one is reported by name, and the exit code says something failed.
func TestRemoveBatch(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	photo, err := os.ReadFile(filepath.Join(testdata, "coffee.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"coffee.jpg":    photo,
		"truncated.jpg": photo[:len(photo)/3],
		"empty.png":     nil,
		"notes.gif":     []byte("hello, this is text"),
		"corrupt.webp":  append([]byte("RIFF\x10\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{0xAB}, 64)...),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(in, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"remove", in, filepath.Join(dir, "missing.jpg"), "-o", out, "-q"}, nil, io.Discard, &stderr, os.Getenv)
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	for _, bad := range []string{"truncated.jpg", "empty.png", "notes.gif", "corrupt.webp", "missing.jpg"} {
		if !strings.Contains(stderr.String(), bad) {
			t.Errorf("no error naming %s in:\n%s", bad, stderr.String())
		}
		if _, err := os.Stat(filepath.Join(out, strings.TrimSuffix(bad, filepath.Ext(bad))+".png")); err == nil {
			t.Errorf("%s: an output was written for a bad input", bad)
		}
	}
	m := decodePNG(t, filepath.Join(out, "coffee.png"))
	nrgba, ok := m.(*image.NRGBA)
	if !ok || m.Bounds().Size() != image.Pt(600, 400) {
		t.Fatalf("coffee.png: %T %v, want NRGBA 600×400", m, m.Bounds())
	}
	var clear int
	for i := 3; i < len(nrgba.Pix); i += 4 {
		if nrgba.Pix[i] == 0 {
			clear++
		}
	}
	if clear == 0 || clear == len(nrgba.Pix)/4 {
		t.Fatalf("coffee.png: %d transparent pixels of %d", clear, len(nrgba.Pix)/4)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

// TestRemoveStdinMaskAndLimits pipes a photo through stdin/stdout as a mask, and checks the pixel limit.
func TestRemoveStdinMaskAndLimits(t *testing.T) {
	photo, err := os.Open(filepath.Join(testdata, "coffee.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer photo.Close()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"remove", "-", "-mask", "-crop"}, photo, &stdout, &stderr, os.Getenv); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	m, err := png.Decode(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*image.Gray); !ok {
		t.Fatalf("mask is %T, want 8-bit grey", m)
	}
	if b := m.Bounds(); b.Dx() >= 600 && b.Dy() >= 400 {
		t.Fatalf("crop kept the whole image: %v", b)
	}

	stderr.Reset()
	code := run(context.Background(), []string{"remove", filepath.Join(testdata, "coffee.jpg"), "-o", filepath.Join(t.TempDir(), "x.png"),
		"-max-pixels", "1000"}, nil, io.Discard, &stderr, os.Getenv)
	if code != 1 || !strings.Contains(stderr.String(), "coffee.jpg") || !strings.Contains(stderr.String(), "too large") {
		t.Fatalf("over the pixel limit: exit %d, stderr %q", code, stderr.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, nil, io.Discard, &stderr, os.Getenv); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code := run(context.Background(), []string{"frobnicate"}, nil, io.Discard, &stderr, os.Getenv); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run(context.Background(), []string{"remove"}, nil, io.Discard, &stderr, os.Getenv); code != 2 {
		t.Errorf("no inputs: exit %d", code)
	}
	if code := run(context.Background(), []string{"remove", "x.jpg", "-bg", "nope"}, nil, io.Discard, &stderr, os.Getenv); code != 2 {
		t.Errorf("bad colour: exit %d", code)
	}
	missing := func(k string) string {
		if k == "BACKLESS_MODEL" {
			return "/nonexistent/model.onnx"
		}
		return os.Getenv(k)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"remove", filepath.Join(testdata, "coffee.jpg"), "-o", filepath.Join(t.TempDir(), "x.png")}, nil, io.Discard, &stderr, missing); code != 1 ||
		!strings.Contains(stderr.String(), "make setup") {
		t.Errorf("missing model: exit %d, %q", code, stderr.String())
	}
}

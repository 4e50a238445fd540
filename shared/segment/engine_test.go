package segment

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"
	"time"
)

func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// tinyWant is the tiny model's mask value for a uniform colour under the isnet normalisation.
func tinyWant(c color.NRGBA) uint8 {
	m := (float64(float32((float64(c.R)-128)/256)) + float64(float32((float64(c.G)-128)/256)) +
		float64(float32((float64(c.B)-128)/256))) / 3
	return uint8(255 / (1 + math.Exp(-m)))
}

func TestEngineTinyModelMask(t *testing.T) {
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "tiny.onnx", "input", 64), Profile: "isnet"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.InputSize() != 64 {
		t.Fatalf("input size %d: the model's fixed side must win over the profile's 1024", e.InputSize())
	}
	c := color.NRGBA{250, 240, 230, 255}
	m, tm, err := e.Mask(context.Background(), uniform(37, 91, c))
	if err != nil {
		t.Fatal(err)
	}
	if m.Rect.Dx() != 37 || m.Rect.Dy() != 91 {
		t.Fatalf("mask size %v, want the image's 37×91", m.Rect)
	}
	want := tinyWant(c)
	for i, v := range m.Pix {
		if int(v)-int(want) > 1 || int(want)-int(v) > 1 { // float32 sums inside the runtime may differ by one unit
			t.Fatalf("pixel %d: %d, want %d", i, v, want)
		}
	}
	if tm.Inference <= 0 || tm.Preprocess <= 0 {
		t.Fatalf("stage timings not recorded: %+v", tm)
	}
}

func TestEngineDetectsProfileFromModel(t *testing.T) {
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "u2netp.onnx", "input.1", 320)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Profile().Name != "u2netp" || e.InputSize() != 320 {
		t.Fatalf("got profile %q size %d", e.Profile().Name, e.InputSize())
	}
	e2, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "model.onnx", "input_image", 1024)})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if e2.Profile().Name != "birefnet" {
		t.Fatalf("got %q, want birefnet", e2.Profile().Name)
	}
}

func TestEngineConcurrentCallersGetTheirOwnResult(t *testing.T) {
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "tiny.onnx", "input", 32), Profile: "isnet", Sessions: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := color.NRGBA{uint8(i * 16), uint8(255 - i*16), uint8(i * 7), 255}
			img := uniform(20+i, 10+i, c)
			if _, err := e.Cutout(context.Background(), img); err != nil {
				errs <- err
				return
			}
			want := tinyWant(c)
			for p := 3; p < len(img.Pix); p += 4 {
				if d := int(img.Pix[p]) - int(want); d > 1 || d < -1 {
					errs <- errors.New("a caller got another caller's mask")
					return
				}
				if img.Pix[p-3] != c.R || img.Pix[p-1] != c.B {
					errs <- errors.New("cutout changed the colour channels")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestEngineRespectsCancellation(t *testing.T) {
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "tiny.onnx", "input", 32), Profile: "isnet"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := e.Mask(ctx, uniform(8, 8, color.NRGBA{A: 255})); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: got %v", err)
	}
	// The single session is busy: a caller whose deadline passes while waiting gives up.
	s, _ := e.acquire(context.Background())
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, _, err := e.Mask(ctx2, uniform(8, 8, color.NRGBA{A: 255})); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting call: got %v", err)
	}
	e.release(s)
	// And the session still works afterwards.
	if _, _, err := e.Mask(context.Background(), uniform(8, 8, color.NRGBA{A: 255})); err != nil {
		t.Fatal(err)
	}
}

func TestEngineErrors(t *testing.T) {
	if _, err := New(context.Background(), testRT, Config{ModelPath: "/nonexistent/model.onnx"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("missing model: %v", err)
	}
	garbage := writeTinyModel(t, "x.onnx", "input", 8)
	if err := writeFile(garbage, []byte("not a model")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), testRT, Config{ModelPath: garbage}); err == nil {
		t.Fatal("garbage model accepted")
	}
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "tiny.onnx", "input", 8), Profile: "isnet"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, _, err := e.Mask(context.Background(), image.NewNRGBA(image.Rect(0, 0, 0, 0))); err == nil {
		t.Fatal("empty image accepted")
	}
	if _, err := LoadRuntime("/nonexistent/libonnxruntime.so"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("missing library: %v", err)
	}
}

func TestProcessOptions(t *testing.T) {
	e, err := New(context.Background(), testRT, Config{ModelPath: writeTinyModel(t, "tiny.onnx", "input", 16), Profile: "isnet"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := color.NRGBA{255, 255, 255, 255} // mask ≈ 157: subject everywhere
	out, _, err := e.Process(context.Background(), uniform(10, 6, c), Options{MaskOnly: true})
	if g, ok := out.(*image.Gray); err != nil || !ok || g.Rect.Dx() != 10 {
		t.Fatalf("mask only: %T %v", out, err)
	}
	out, _, err = e.Process(context.Background(), uniform(10, 6, c), Options{Background: &color.NRGBA{0, 0, 0, 255}})
	if err != nil {
		t.Fatal(err)
	}
	px := out.(*image.NRGBA).NRGBAAt(3, 3)
	if px.A != 255 || px.R == 0 || px.R == 255 {
		t.Fatalf("on black: got %v, want opaque grey-ish", px)
	}
}

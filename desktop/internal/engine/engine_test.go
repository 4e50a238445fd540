package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backless/backless/desktop/internal/batch"
	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/segment"
)

// The real runtime and model, loaded once for the process; without `make setup` the tests fail saying so.
var loader *Loader

func TestMain(m *testing.M) {
	loader = NewLoader(segment.Locate(os.Getenv), segment.Config{Sessions: 1})
	loader.Preload()
	if _, err := loader.Engine(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "engine tests need the model:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := loader.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func coffee(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../../shared/testdata/coffee.jpg")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The desktop's local mode gives exactly what the engine's one-call path (used by the CLI and the server) gives.
func TestProcessIsTheEnginesRemove(t *testing.T) {
	data := coffee(t)
	p := &Processor{Loader: loader, Limits: imageio.DefaultLimits()}
	eng, err := loader.Engine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []batch.Options{{}, {BgColor: "#336699", Crop: true}, {MaskOnly: true}} {
		var steps []float64
		got, err := p.Process(context.Background(), batch.Request{Name: "coffee.jpg", Data: data, Options: o},
			func(f float64) { steps = append(steps, f) })
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		opts, err := Options(o, 0)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if _, err := eng.Remove(context.Background(), data, imageio.DefaultLimits(), opts, &want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.PNG, want.Bytes()) {
			t.Fatalf("%+v: %d bytes differ from Engine.Remove's %d", o, len(got.PNG), want.Len())
		}
		if len(steps) != 2 || steps[0] != progressDecoded || steps[1] != progressSegmented {
			t.Fatalf("%+v: progress %v, want the two steps", o, steps)
		}
	}
}

func TestProcessStopsWhenCancelled(t *testing.T) {
	p := &Processor{Loader: loader, Limits: imageio.DefaultLimits()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancelled just before the model runs, as a user's cancel during decoding would be.
	_, err := p.Process(ctx, batch.Request{Name: "coffee.jpg", Data: coffee(t)}, func(f float64) {
		if f == progressDecoded {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The session is back in the pool and works.
	if _, err := p.Process(context.Background(), batch.Request{Name: "coffee.jpg", Data: coffee(t)}, func(float64) {}); err != nil {
		t.Fatalf("after a cancellation: %v", err)
	}
}

func TestBadInputAndOptions(t *testing.T) {
	p := &Processor{Loader: loader, Limits: imageio.DefaultLimits()}
	_, err := p.Process(context.Background(), batch.Request{Name: "x.jpg", Data: []byte("not an image")}, func(float64) {})
	if batch.Classify(err).Code != job.CodeNotAnImage {
		t.Fatalf("not an image: %v", err)
	}
	for _, o := range []batch.Options{{BgColor: "blue"}, {BgColor: "#12345"}, {MaskOnly: true, BgColor: "#ffffff"}} {
		if _, err := Options(o, 0); !job.IsCode(err, job.CodeBadRequest) {
			t.Errorf("Options(%+v) = %v, want bad_request", o, err)
		}
	}
	got, err := Options(batch.Options{BgColor: "#FF8000", Crop: true}, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got.Background == nil || got.Background.R != 0xff || got.Background.G != 0x80 || got.Background.B != 0 ||
		got.Background.A != 0xff || !got.Crop || got.CropMargin != 12 {
		t.Fatalf("Options = %+v", got)
	}
	if got, _ := Options(batch.Options{}, 12); got.CropMargin != 0 || got.Background != nil {
		t.Fatalf("margin without crop: %+v", got)
	}
}

func TestMissingFilesSayWhatToRun(t *testing.T) {
	dir := t.TempDir()
	l := NewLoader(segment.Paths{Library: filepath.Join(dir, "libonnxruntime.so.1"), Model: filepath.Join(dir, "m.onnx")}, segment.Config{})
	defer l.Close()
	p := &Processor{Loader: l}
	_, err := p.Process(context.Background(), batch.Request{Name: "coffee.jpg", Data: coffee(t)}, func(float64) {})
	if !job.IsCode(err, CodeNotInstalled) || !strings.Contains(batch.Classify(err).Message, "make setup") {
		t.Fatalf("err = %v, want not_installed saying to run make setup", err)
	}
	st := l.Status()
	if st.Ready || st.Loading || st.Hint != SetupHint || st.Error == "" {
		t.Fatalf("Status = %+v, want failed with the hint", st)
	}
	// The next use tries again (the user may have run the set-up meanwhile).
	if _, err := l.Engine(context.Background()); !errors.Is(err, segment.ErrNotInstalled) {
		t.Fatalf("retry: %v", err)
	}
}

package segment

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
)

// The ONNX Runtime is process-wide, so the test binary loads it once here and every test shares it. The library
// comes from the set-up (`make setup`); without it these tests fail with the message that says what to run.
var testRT *Runtime

func TestMain(m *testing.M) {
	rt, err := LoadRuntime(Locate(os.Getenv).Library)
	if err != nil {
		fmt.Fprintln(os.Stderr, "segment tests need the ONNX Runtime:", err)
		os.Exit(1)
	}
	testRT = rt
	code := m.Run()
	rt.Close()
	os.Exit(code)
}

var (
	isnetOnce sync.Once
	isnetEng  *Engine
	isnetErr  error
)

// isnet returns the shared engine over the real default model, created on first use.
func isnet(t testing.TB) *Engine {
	t.Helper()
	isnetOnce.Do(func() {
		isnetEng, isnetErr = New(context.Background(), testRT, Config{ModelPath: Locate(os.Getenv).Model, Sessions: 1})
	})
	if isnetErr != nil {
		t.Fatalf("real model: %v", isnetErr)
	}
	return isnetEng
}

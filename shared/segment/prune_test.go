package segment

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
)

// sideModel is tinyModel with a second, ISNet-like side output the engine does not read:
//
//	input → ReduceMean → Sigmoid → output
//	input → Mul(·, scale) → Relu → side        (scale: an initializer only the side branch uses)
//
// and, with loop, a Loop node among them (control flow, which pruning must leave alone).
func sideModel(size int64, loop bool) []byte {
	axes := pb(nil).str(1, "axes").varint(20, 7).varint(8, 1)
	keep := pb(nil).str(1, "keepdims").varint(20, 2).varint(3, 1)
	mean := pb(nil).str(1, "input").str(2, "mean").str(3, "mean").str(4, "ReduceMean").bytes(5, axes).bytes(5, keep)
	sig := pb(nil).str(1, "mean").str(2, "output").str(3, "sigmoid").str(4, "Sigmoid")
	mul := pb(nil).str(1, "input").str(1, "scale").str(2, "scaled").str(3, "mul").str(4, "Mul")
	relu := pb(nil).str(1, "scaled").str(2, "side").str(3, "relu").str(4, "Relu")
	// TensorProto: dims (1, repeated int64) none: a scalar; data_type (2) FLOAT; float_data (4, packed); name (8).
	scale := pb(nil).varint(2, 1).bytes(4, []byte{0, 0, 0, 0x40}).str(8, "scale") // 2.0f
	graph := pb(nil).bytes(1, mean).bytes(1, sig).bytes(1, mul).bytes(1, relu).str(2, "g").
		bytes(5, scale).
		bytes(11, valueInfo("input", 1, 3, size, size)).
		bytes(12, valueInfo("output", 1, 1, size, size)).
		bytes(12, valueInfo("side", 1, 3, size, size))
	if loop {
		graph = graph.bytes(1, pb(nil).str(2, "never").str(4, "Loop"))
	}
	opset := pb(nil).str(1, "").varint(2, 13)
	return pb(nil).varint(1, 7).str(2, "backless-test").bytes(7, graph).bytes(8, opset)
}

func TestKeepOneOutput(t *testing.T) {
	model := sideModel(8, false)
	pruned, dropped, err := keepOneOutput(model, "output")
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 2 {
		t.Errorf("dropped %d nodes, want 2 (Mul, Relu)", dropped)
	}
	if bytes.Contains(pruned, []byte("scale")) || bytes.Contains(pruned, []byte("side")) || !bytes.Contains(pruned, []byte("sigmoid")) {
		t.Error("the side branch, its initializer or its output is still there, or the main branch is gone")
	}
	// ONNX Runtime accepts the result, with one output.
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(pruned)
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the pruned model: %v", err)
	}
	if len(ins) != 1 || len(outs) != 1 || outs[0].Name != "output" {
		t.Fatalf("pruned model: inputs %v, outputs %v", ins, outs)
	}

	// Pruning twice changes nothing more.
	again, n, err := keepOneOutput(pruned, "output")
	if err != nil || n != 0 || !bytes.Equal(again, pruned) {
		t.Errorf("second pruning: %d dropped, same %v, %v", n, bytes.Equal(again, pruned), err)
	}

	if _, _, err := keepOneOutput(model, "nope"); err == nil {
		t.Error("an output the graph does not have was accepted")
	}
	for _, bad := range [][]byte{{0xff}, model[:len(model)-3], {0x3a, 0x05, 0x0a}} {
		if _, _, err := keepOneOutput(bad, "output"); err == nil {
			t.Errorf("malformed model % x… accepted", bad[:min(len(bad), 4)])
		}
	}
	// Control flow: left exactly as it is.
	withLoop := sideModel(8, true)
	if out, n, err := keepOneOutput(withLoop, "output"); err != nil || n != 0 || !bytes.Equal(out, withLoop) {
		t.Errorf("graph with a Loop: dropped %d, unchanged %v, %v", n, bytes.Equal(out, withLoop), err)
	}
}

// The engine prunes a model with side outputs and computes the same mask as from the model without them.
func TestEngineWithSideOutputs(t *testing.T) {
	dir := t.TempDir()
	side, plain := filepath.Join(dir, "side.onnx"), filepath.Join(dir, "plain.onnx")
	if err := os.WriteFile(side, sideModel(32, false), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, tinyModel("input", 32), 0o644); err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var masks [2][]uint8
	for i, path := range []string{side, plain} {
		e, err := New(context.Background(), testRT, Config{ModelPath: path, Profile: "isnet"})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		m, _, err := e.Mask(context.Background(), img)
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
		masks[i] = m.Pix
	}
	if !bytes.Equal(masks[0], masks[1]) {
		t.Error("the model with a side output gives another mask")
	}
}

// The real ISNet loses its eleven side outputs and the nodes that only fed them.
func TestKeepOneOutputOnISNet(t *testing.T) {
	path := Locate(os.Getenv).Model
	model, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("real model: %v", err)
	}
	_, before, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		t.Fatal(err)
	}
	pruned, dropped, err := keepOneOutput(model, before[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	_, after, err := ort.GetInputOutputInfoWithONNXData(pruned)
	if err != nil {
		t.Fatalf("ONNX Runtime refuses the pruned ISNet: %v", err)
	}
	t.Logf("%s: %d outputs → %d, %d nodes dropped, %d → %d bytes", filepath.Base(path), len(before), len(after), dropped, len(model), len(pruned))
	if len(before) < 2 || len(after) != 1 || after[0].Name != before[0].Name || dropped == 0 {
		t.Fatalf("outputs %d → %v, %d nodes dropped", len(before), after, dropped)
	}
}

package segment

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// A tiny ONNX model written by hand in the protobuf wire format, so that unit tests exercise the real ONNX Runtime
// (sessions, pool, cancellation, profile detection) in milliseconds instead of loading the 88 MB ISNet model:
//
//	input [1,3,S,S] → ReduceMean(axis 1, keepdims) → Sigmoid → output [1,1,S,S]
//
// Its mask is therefore predictable: trunc(255·sigmoid(mean of the three normalised channels)).

type pb []byte

func (b pb) varint(field int, v uint64) pb {
	b = binary.AppendUvarint(b, uint64(field)<<3) // wire type 0 (varint) in the low three bits
	return binary.AppendUvarint(b, v)
}

func (b pb) bytes(field int, v []byte) pb {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }

// valueInfo is an ONNX ValueInfoProto of a float tensor; a dim ≤ 0 is left dynamic.
func valueInfo(name string, dims ...int64) []byte {
	var shape pb
	for _, d := range dims {
		if d > 0 {
			shape = shape.bytes(1, pb(nil).varint(1, uint64(d)))
		} else {
			shape = shape.bytes(1, pb(nil).str(2, "n"))
		}
	}
	tensor := pb(nil).varint(1, 1).bytes(2, shape) // elem_type FLOAT, shape
	typ := pb(nil).bytes(1, tensor)                // TypeProto.tensor_type
	return pb(nil).str(1, name).bytes(2, typ)
}

func tinyModel(inputName string, size int64) []byte {
	axes := pb(nil).str(1, "axes").varint(20, 7).varint(8, 1)     // INTS [1]
	keep := pb(nil).str(1, "keepdims").varint(20, 2).varint(3, 1) // INT 1
	mean := pb(nil).str(1, inputName).str(2, "mean").str(3, "mean").str(4, "ReduceMean").bytes(5, axes).bytes(5, keep)
	sig := pb(nil).str(1, "mean").str(2, "output").str(3, "sigmoid").str(4, "Sigmoid")
	graph := pb(nil).bytes(1, mean).bytes(1, sig).str(2, "tiny").
		bytes(11, valueInfo(inputName, 1, 3, size, size)).
		bytes(12, valueInfo("output", 1, 1, size, size))
	opset := pb(nil).str(1, "").varint(2, 13)
	return pb(nil).varint(1, 7).str(2, "backless-test").bytes(7, graph).bytes(8, opset)
}

// writeTinyModel writes the model under a test temp folder with the given file name.
func writeTinyModel(t testing.TB, name, inputName string, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, tinyModel(inputName, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }

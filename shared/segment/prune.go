package segment

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the ONNX protobuf messages (onnx/onnx.proto) that pruning reads.
const (
	modelGraph       = 7  // ModelProto.graph
	graphNode        = 1  // GraphProto.node
	graphInitializer = 5  // GraphProto.initializer
	graphOutput      = 12 // GraphProto.output
	nodeInput        = 1  // NodeProto.input
	nodeOutput       = 2  // NodeProto.output
	nodeOpType       = 4  // NodeProto.op_type
	valueInfoName    = 1  // ValueInfoProto.name
	tensorName       = 8  // TensorProto.name
)

// keepOneOutput rewrites an ONNX model so that output is its only graph output, and drops the nodes and
// initializers nothing leads from to it any more. ISNet has twelve outputs, of which the engine reads the first:
// the other eleven are deep-supervision side maps and decoder features up to 64×512×512 floats, which ONNX Runtime
// computes and, being graph outputs, keeps until the end of every run whether or not the caller asked for them.
// Without them ISNet peaks 15–30 MB lower (build/bench/engine.sh); its speed is unchanged within the noise.
//
// It works on the protobuf wire format, copying every field it does not change byte for byte, so it needs no ONNX
// schema and leaves unknown fields alone. A graph with control flow (If, Loop, Scan), whose subgraphs may use
// values of the outer graph without naming them as inputs, is returned unchanged. dropped counts removed nodes.
func keepOneOutput(model []byte, output string) (pruned []byte, dropped int, err error) {
	mf, err := fieldsOf(model)
	if err != nil {
		return nil, 0, fmt.Errorf("model: %w", err)
	}
	out := make([]byte, 0, len(model))
	graphs := 0
	for _, f := range mf {
		if f.num != modelGraph {
			out = append(out, f.raw...)
			continue
		}
		graphs++
		g, n, err := pruneGraph(f.val, output)
		if err != nil {
			return nil, 0, fmt.Errorf("graph: %w", err)
		}
		if g == nil {
			return model, 0, nil // left as it is
		}
		dropped = n
		out = protowire.AppendTag(out, modelGraph, protowire.BytesType)
		out = protowire.AppendBytes(out, g)
	}
	if graphs != 1 {
		return nil, 0, fmt.Errorf("model has %d graphs, want 1", graphs)
	}
	return out, dropped, nil
}

// pruneGraph returns the pruned GraphProto, or nil when the graph is to be left as it is.
func pruneGraph(graph []byte, output string) ([]byte, int, error) {
	gf, err := fieldsOf(graph)
	if err != nil {
		return nil, 0, err
	}
	type node struct{ ins, outs []string }
	var nodes []node
	found := false
	for _, f := range gf {
		switch f.num {
		case graphNode:
			nf, err := fieldsOf(f.val)
			if err != nil {
				return nil, 0, fmt.Errorf("node: %w", err)
			}
			switch op := stringField(nf, nodeOpType); op {
			case "If", "Loop", "Scan":
				return nil, 0, nil
			}
			nodes = append(nodes, node{stringsField(nf, nodeInput), stringsField(nf, nodeOutput)})
		case graphOutput:
			vf, err := fieldsOf(f.val)
			if err != nil {
				return nil, 0, fmt.Errorf("output: %w", err)
			}
			found = found || stringField(vf, valueInfoName) == output
		}
	}
	if !found {
		return nil, 0, fmt.Errorf("no graph output named %q", output)
	}

	// Walk back from the output: a node is live when something live reads one of its outputs.
	producer := make(map[string]int, len(nodes))
	for i, n := range nodes {
		for _, o := range n.outs {
			producer[o] = i
		}
	}
	live := make([]bool, len(nodes))
	needed := map[string]bool{}
	todo := []string{output}
	for len(todo) > 0 {
		v := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if v == "" || needed[v] { // "" is an optional input left out
			continue
		}
		needed[v] = true
		if i, ok := producer[v]; ok && !live[i] {
			live[i] = true
			todo = append(todo, nodes[i].ins...)
		}
	}

	out := make([]byte, 0, len(graph))
	dropped, i := 0, 0
	for _, f := range gf {
		switch f.num {
		case graphNode:
			keep := live[i]
			i++
			if !keep {
				dropped++
				continue
			}
		case graphOutput:
			vf, _ := fieldsOf(f.val) // parsed above
			if stringField(vf, valueInfoName) != output {
				continue
			}
		case graphInitializer:
			tf, err := fieldsOf(f.val)
			if err != nil {
				return nil, 0, fmt.Errorf("initializer: %w", err)
			}
			if !needed[stringField(tf, tensorName)] {
				continue
			}
		}
		out = append(out, f.raw...)
	}
	return out, dropped, nil
}

// field is one field of a protobuf message: raw is all of it, tag included; val is the payload of a
// length-delimited field.
type field struct {
	num protowire.Number
	typ protowire.Type
	raw []byte
	val []byte
}

var errMalformed = errors.New("malformed protobuf")

func fieldsOf(b []byte) ([]field, error) {
	var fs []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(m))
		}
		f := field{num: num, typ: typ, raw: b[:n+m]}
		if typ == protowire.BytesType {
			f.val, _ = protowire.ConsumeBytes(b[n:])
		}
		fs = append(fs, f)
		b = b[n+m:]
	}
	return fs, nil
}

func stringsField(fs []field, num protowire.Number) []string {
	var s []string
	for _, f := range fs {
		if f.num == num && f.typ == protowire.BytesType {
			s = append(s, string(f.val))
		}
	}
	return s
}

func stringField(fs []field, num protowire.Number) string {
	if s := stringsField(fs, num); len(s) > 0 {
		return s[len(s)-1] // protobuf: the last value of a non-repeated field wins
	}
	return ""
}

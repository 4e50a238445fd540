// Package segment is Backless's segmentation engine: it turns a decoded image into an alpha mask with an ONNX
// model and composes the result (cutout, mask, subject on a colour, crop to the subject).
//
// The ONNX Runtime library is process-wide state, so it is loaded once by a Runtime that the program's main owns;
// an Engine holds a pool of warmed-up sessions over one model, each with its own pre-allocated input and output
// tensors, so concurrent callers never allocate model-sized buffers on the hot path.
//
// A Profile fixes how a model family wants its input and how its output becomes a mask; profiles are matched to
// the reference pipelines they reproduce (see profile.go).
package segment

package segment

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// Config chooses the model and how much of the machine the engine may use.
type Config struct {
	ModelPath string
	// Profile names a profile (see Profiles); empty means detect it from the model.
	Profile string
	// Sessions is the number of model sessions in the pool, i.e. how many images are segmented at once.
	// Default 1: on a small machine one session using every core is faster per image than two sharing them.
	Sessions int
	// Threads is the intra-op thread count of each session. Default: the CPU count divided by Sessions.
	Threads int
	// MemoryArena keeps ONNX Runtime's CPU arena allocator and memory-pattern planning on. Off by default:
	// both hold on to the largest activations between runs, which for ISNet is most of a gigabyte, and turning
	// them off costs no measurable speed (see build/bench).
	MemoryArena bool
	// LowMemory trades speed for memory: ONNX Runtime then skips its layout optimisation (the NCHWc blocked
	// format for convolutions), which keeps reordered copies of weights and activations. On ISNet at 1024² that
	// is about 110 MB less at peak for about a third more inference time (build/bench/engine.sh).
	LowMemory bool
}

// Timings are the durations of one call's stages.
type Timings struct {
	Decode, Preprocess, Inference, Postprocess, Encode time.Duration
}

// Total is the sum of the stages.
func (t Timings) Total() time.Duration {
	return t.Decode + t.Preprocess + t.Inference + t.Postprocess + t.Encode
}

// Engine segments images with one model through a pool of sessions. It is safe for concurrent use.
type Engine struct {
	profile  Profile
	size     int
	inName   string
	outName  string
	sessions chan *session
	all      []*session
}

// session is one ONNX Runtime session with its own tensors and scratch buffers, reused across calls.
type session struct {
	s      *ort.AdvancedSession
	in     *ort.Tensor[float32]
	out    *ort.Tensor[float32]
	run    *ort.RunOptions
	planes []uint8 // the resized RGB image, planar
	mask   []uint8 // the model's mask at its own resolution
}

// New opens the model, creates the sessions and runs each once so that the first real call is not the slow one.
func New(ctx context.Context, rt *Runtime, cfg Config) (*Engine, error) {
	if rt == nil {
		return nil, errors.New("segment: nil runtime")
	}
	if _, err := os.Stat(cfg.ModelPath); err != nil {
		return nil, fmt.Errorf("model %s: %w (%v)", cfg.ModelPath, ErrNotInstalled, err)
	}
	ins, outs, err := modelIO(cfg.ModelPath)
	if err != nil {
		return nil, fmt.Errorf("model %s: read inputs and outputs: %w", cfg.ModelPath, err)
	}
	if len(ins) != 1 || len(outs) == 0 {
		return nil, fmt.Errorf("model %s: want one image input and at least one output, have %d and %d", cfg.ModelPath, len(ins), len(outs))
	}
	in := ins[0]
	if len(in.Dimensions) != 4 || (in.Dimensions[1] != 3 && in.Dimensions[1] > 0) {
		return nil, fmt.Errorf("model %s: input %q has shape %v, want N×3×H×W", cfg.ModelPath, in.Name, in.Dimensions)
	}
	side := in.Dimensions[3]
	var prof Profile
	if cfg.Profile != "" {
		prof, err = ProfileByName(cfg.Profile)
	} else {
		prof, err = DetectProfile(cfg.ModelPath, in.Name, side)
	}
	if err != nil {
		return nil, err
	}
	size := prof.Size
	if side > 0 {
		// A model with a fixed input side is the authority on its size; a profile only fills in dynamic ones.
		size = int(side)
		if h := in.Dimensions[2]; h > 0 && h != side {
			return nil, fmt.Errorf("model %s: input %dx%d is not square", cfg.ModelPath, side, h)
		}
	}
	n := cfg.Sessions
	if n <= 0 {
		n = 1
	}
	threads := cfg.Threads
	if threads <= 0 {
		threads = max(1, runtime.NumCPU()/n)
	}
	e := &Engine{profile: prof, size: size, inName: in.Name, outName: outs[0].Name, sessions: make(chan *session, n)}
	if err := e.createSessions(cfg, n, threads, len(outs) > 1); err != nil {
		e.Close()
		return nil, err
	}
	// The model's bytes (tens of MB, twice over while pruning) are garbage now that ONNX Runtime holds its own
	// copy. Hand them back to the system before the first run: Go's heap would otherwise keep them resident
	// through the model's peak, which is what a process's peak memory is made of.
	debug.FreeOSMemory()
	for _, s := range e.all {
		// Warm-up: the first run plans memory and pre-packs weights; do it now, not on a user's image.
		if err := e.infer(ctx, s); err != nil {
			e.Close()
			return nil, fmt.Errorf("model %s: warm-up run: %w", cfg.ModelPath, err)
		}
		e.sessions <- s
	}
	return e, nil
}

// createSessions makes n sessions of the model, pruned to its first output when it has more (keepOneOutput).
func (e *Engine) createSessions(cfg Config, n, threads int, prune bool) error {
	model, err := os.ReadFile(cfg.ModelPath)
	if err != nil {
		return fmt.Errorf("model %s: %w", cfg.ModelPath, err)
	}
	if prune {
		if model, _, err = keepOneOutput(model, e.outName); err != nil {
			return fmt.Errorf("model %s: %w", cfg.ModelPath, err)
		}
	}
	for i := 0; i < n; i++ {
		s, err := e.newSession(cfg, model, threads)
		if err != nil {
			return err
		}
		e.all = append(e.all, s)
	}
	return nil
}

// modelIO reads the model's input and output names and shapes. It needs a session of its own; with graph
// optimisation and the arena off that session costs about 130 MB at peak instead of 460 MB.
func modelIO(path string) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer opts.Destroy()
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	if err := opts.SetCpuMemArena(false); err != nil {
		return nil, nil, err
	}
	return ort.GetInputOutputInfoWithOptions(path, opts)
}

func (e *Engine) newSession(cfg Config, model []byte, threads int) (*session, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	var level ort.GraphOptimizationLevel = ort.GraphOptimizationLevelEnableAll
	if cfg.LowMemory {
		// Everything but the layout transformations, which are all that "all" adds on the CPU.
		level = ort.GraphOptimizationLevelEnableExtended
	}
	for _, set := range []func() error{
		func() error { return opts.SetIntraOpNumThreads(threads) },
		func() error { return opts.SetInterOpNumThreads(1) },
		func() error { return opts.SetGraphOptimizationLevel(level) },
		func() error { return opts.SetCpuMemArena(cfg.MemoryArena) },
		func() error { return opts.SetMemPattern(cfg.MemoryArena) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("session options: %w", err)
		}
	}
	s := &session{planes: make([]uint8, 3*e.size*e.size), mask: make([]uint8, e.size*e.size)}
	side := int64(e.size)
	if s.in, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 3, side, side)); err != nil {
		return nil, fmt.Errorf("input tensor: %w", err)
	}
	if s.out, err = ort.NewEmptyTensor[float32](ort.NewShape(1, 1, side, side)); err != nil {
		s.destroy()
		return nil, fmt.Errorf("output tensor: %w", err)
	}
	if s.run, err = ort.NewRunOptions(); err != nil {
		s.destroy()
		return nil, fmt.Errorf("run options: %w", err)
	}
	// Only the first output exists and is bound: keepOneOutput removed the others.
	s.s, err = ort.NewAdvancedSessionWithONNXData(model, []string{e.inName}, []string{e.outName},
		[]ort.Value{s.in}, []ort.Value{s.out}, opts)
	if err != nil {
		s.destroy()
		return nil, fmt.Errorf("model %s: create session: %w", cfg.ModelPath, err)
	}
	return s, nil
}

func (s *session) destroy() {
	if s.s != nil {
		s.s.Destroy()
	}
	if s.in != nil {
		s.in.Destroy()
	}
	if s.out != nil {
		s.out.Destroy()
	}
	if s.run != nil {
		s.run.Destroy()
	}
}

// Profile is the profile in use.
func (e *Engine) Profile() Profile { return e.profile }

// InputSize is the model's square input side.
func (e *Engine) InputSize() int { return e.size }

// Close releases the sessions. Calls in flight must have returned.
func (e *Engine) Close() error {
	for _, s := range e.all {
		s.destroy()
	}
	e.all = nil
	return nil
}

func (e *Engine) acquire(ctx context.Context) (*session, error) {
	select {
	case s := <-e.sessions:
		return s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("segment: waiting for a free session: %w", ctx.Err())
	}
}

func (e *Engine) release(s *session) { e.sessions <- s }

// infer runs the model on the session's input tensor. Cancelling ctx terminates the run inside ONNX Runtime.
func (e *Engine) infer(ctx context.Context, s *session) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = s.run.Terminate() })
	err := s.s.RunWithOptions(s.run)
	if !stop() {
		// The run was (or was about to be) terminated: re-arm the options for the next caller.
		_ = s.run.UnsetTerminate()
		return fmt.Errorf("segment: inference cancelled: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("segment: inference: %w", err)
	}
	return nil
}

// InferOnly runs the model once on whatever input a session holds, with no pre- or post-processing. It exists so
// benchmarks can measure the session run alone, in the same process and conditions as the full pipeline.
func (e *Engine) InferOnly(ctx context.Context) (time.Duration, error) {
	s, err := e.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer e.release(s)
	t := time.Now()
	err = e.infer(ctx, s)
	return time.Since(t), err
}

// segment computes the mask of img at the model's resolution into s.mask.
func (e *Engine) segment(ctx context.Context, s *session, img *image.NRGBA, t *Timings) error {
	b := img.Bounds()
	if b.Empty() {
		return errors.New("segment: empty image")
	}
	start := time.Now()
	pix := img.Pix[img.PixOffset(b.Min.X, b.Min.Y):]
	resizeRGBToPlanes(pix, img.Stride, 4, b.Dx(), b.Dy(), e.size, s.planes)
	normalize(e.profile, s.planes, s.in.GetData())
	// The model's run is the process's peak of memory: several hundred MB of activations that ONNX Runtime maps
	// and unmaps node by node. Whatever garbage the Go heap holds at that moment (a decoder's intermediate planes,
	// an upload's buffers: over 100 MB for a 10 MP photo) stays resident and adds to that peak unless it is handed
	// back first. A forced collection costs a few milliseconds beside a run of seconds (build/bench/engine.sh).
	debug.FreeOSMemory()
	t.Preprocess += time.Since(start)

	start = time.Now()
	if err := e.infer(ctx, s); err != nil {
		return err
	}
	t.Inference += time.Since(start)

	start = time.Now()
	toMask(e.profile.Output, s.out.GetData(), s.mask)
	t.Postprocess += time.Since(start)
	return nil
}

// Mask returns img's alpha mask at img's own size.
func (e *Engine) Mask(ctx context.Context, img *image.NRGBA) (*image.Gray, Timings, error) {
	var t Timings
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, t, err
	}
	defer e.release(s)
	if err := e.segment(ctx, s, img, &t); err != nil {
		return nil, t, err
	}
	start := time.Now()
	b := img.Bounds()
	m := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	resizeMask(s.mask, e.size, b.Dx(), b.Dy(), m.Pix, m.Stride, 1, 0)
	t.Postprocess += time.Since(start)
	return m, t, nil
}

// Cutout replaces img's alpha with the mask, in place; colour channels are left as they are (straight alpha).
func (e *Engine) Cutout(ctx context.Context, img *image.NRGBA) (Timings, error) {
	var t Timings
	s, err := e.acquire(ctx)
	if err != nil {
		return t, err
	}
	defer e.release(s)
	if err := e.segment(ctx, s, img, &t); err != nil {
		return t, err
	}
	start := time.Now()
	b := img.Bounds()
	resizeMask(s.mask, e.size, b.Dx(), b.Dy(), img.Pix[img.PixOffset(b.Min.X, b.Min.Y):], img.Stride, 4, 3)
	t.Postprocess += time.Since(start)
	return t, nil
}

// normalize turns the resized 8-bit planes into the model's float input through a per-channel table of the 256
// possible values, which is exact and cheaper than the arithmetic per pixel.
func normalize(p Profile, planes []uint8, dst []float32) {
	scale := 1.0 / 255
	if p.DivideByMax {
		var m uint8
		for _, v := range planes {
			m = max(m, v)
		}
		if m == 0 {
			m = 1 // an all-black image: rembg would divide by zero; any scale gives the same all-zero input
		}
		scale = 1.0 / float64(m)
	}
	plane := len(planes) / 3
	for c := 0; c < 3; c++ {
		var lut [256]float32
		for v := range lut {
			lut[v] = float32((float64(v)*scale - p.Mean[c]) / p.Std[c])
		}
		src, out := planes[c*plane:(c+1)*plane], dst[c*plane:(c+1)*plane]
		for i, v := range src {
			out[i] = lut[v]
		}
	}
}

// toMask converts the model's output to 8 bits the way the reference does: value·255 truncated (JavaScript's
// Uint8Array store), after turning the output into a probability as the profile says.
func toMask(kind OutputKind, out []float32, mask []uint8) {
	to8 := func(p float64) uint8 {
		v := p * 255
		if !(v > 0) { // also NaN
			return 0
		}
		if v >= 255 {
			return 255
		}
		return uint8(v)
	}
	switch kind {
	case OutputProbability:
		for i, v := range out {
			mask[i] = to8(float64(v))
		}
	case OutputLogits:
		for i, v := range out {
			mask[i] = to8(1 / (1 + math.Exp(-float64(v))))
		}
	case OutputMinMax:
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range out {
			lo, hi = min(lo, v), max(hi, v)
		}
		span := float64(hi - lo)
		if !(span > 0) {
			clear(mask)
			return
		}
		for i, v := range out {
			mask[i] = to8(float64(v-lo) / span)
		}
	}
}

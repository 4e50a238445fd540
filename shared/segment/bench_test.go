package segment

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/backless/backless/shared/imageio"
)

// countingWriter discards the PNG but keeps its size, so the benchmark reports what the encoder produced.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkPipeline runs one photo through the whole path (decode → preprocess → inference → postprocess → encode)
// and, interleaved in the same loop, the ONNX session run alone on the same input. Their ratio is the pipeline's
// overhead over the model itself; interleaving makes both see the same machine load, which on a shared machine
// moves absolute times by tens of percent.
//
// Metrics: per-stage milliseconds, end-to-end ms (wall time of Engine.Remove), session-run-alone ms, the ratio,
// PNG size, and the process's peak RSS (run one sub-benchmark per process for a per-size peak, as
// build/bench/engine.sh does). BACKLESS_BENCH_ARENA=1 turns ONNX Runtime's arena and memory patterns back on, to
// measure what turning them off saves.
func BenchmarkPipeline(b *testing.B) {
	for _, c := range []struct{ name, file string }{
		{"1.6MP", "astronaut.jpg"},
		{"10MP", "cat-10mp.jpg"},
	} {
		b.Run(c.name, func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(testdata, c.file))
			if err != nil {
				b.Fatal(err)
			}
			e := benchEngine(b)
			ctx := context.Background()
			var st Timings
			var wall, alone time.Duration
			var size int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := &countingWriter{}
				start := time.Now()
				t, err := e.Remove(ctx, data, imageio.DefaultLimits(), Options{}, w)
				if err != nil {
					b.Fatal(err)
				}
				wall += time.Since(start)
				st.Decode += t.Decode
				st.Preprocess += t.Preprocess
				st.Inference += t.Inference
				st.Postprocess += t.Postprocess
				st.Encode += t.Encode
				size = w.n
				b.StopTimer()
				d, err := e.InferOnly(ctx)
				if err != nil {
					b.Fatal(err)
				}
				alone += d
				b.StartTimer()
			}
			n := float64(b.N)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
			b.ReportMetric(ms(st.Decode), "decode-ms")
			b.ReportMetric(ms(st.Preprocess), "pre-ms")
			b.ReportMetric(ms(st.Inference), "infer-ms")
			b.ReportMetric(ms(st.Postprocess), "post-ms")
			b.ReportMetric(ms(st.Encode), "encode-ms")
			b.ReportMetric(ms(wall), "e2e-ms")
			b.ReportMetric(ms(alone), "run-alone-ms")
			b.ReportMetric(float64(wall)/float64(alone), "e2e/run")
			b.ReportMetric(float64(size)/1e6, "png-MB")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
	}
}

var benchEng *Engine

func benchEngine(b *testing.B) *Engine {
	if benchEng == nil {
		e, err := New(context.Background(), testRT, Config{
			ModelPath:   Locate(os.Getenv).Model,
			MemoryArena: os.Getenv("BACKLESS_BENCH_ARENA") == "1",
			LowMemory:   os.Getenv(EnvLowMemory) == "true",
		})
		if err != nil {
			b.Fatal(err)
		}
		benchEng = e
	}
	return benchEng
}

// peakRSSMB is the process's peak resident set (getrusage's ru_maxrss, in KiB on Linux) in MB.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) * 1024 / 1e6
}

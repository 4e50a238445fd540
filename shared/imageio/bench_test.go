package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"testing"

	"github.com/klauspost/compress/flate"
	xdraw "golang.org/x/image/draw"
)

// Benchmarks run on a 10 MP photo. testdata/cat-small.jpg is the project's
// cat-10mp.jpg reduced to 451x300 (its source's size); it is scaled back up
// to 3900x2594 with Catmull-Rom and JPEG-encoded at quality 92 with 4:2:0
// chroma, which is how cat-10mp.jpg itself was made, so sizes and timings
// are representative without committing a 780 KB file. Set
// IMAGEIO_BENCH_JPEG to a JPEG file to benchmark on that instead.
//
//	go test ./shared/imageio -run '^$' -bench . -benchtime 5x
func benchPhoto(b *testing.B) ([]byte, *image.NRGBA) {
	b.Helper()
	if path := os.Getenv("IMAGEIO_BENCH_JPEG"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		img, _, err := Decode(data, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		return data, img
	}
	small, _, err := Decode(readTestdata(b, "cat-small.jpg"), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	big := image.NewNRGBA(image.Rect(0, 0, 3900, 2594))
	xdraw.CatmullRom.Scale(big, big.Rect, small, small.Rect, xdraw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, big, &jpeg.Options{Quality: 92}); err != nil {
		b.Fatal(err)
	}
	img, _, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), img
}

// benchLoop runs fn b.N times and reports, besides ns/op, the process CPU
// time per op: the project machine is shared and has two cores, so wall time
// swings with other load while CPU time stays comparable.
func benchLoop(b *testing.B, fn func()) {
	b.Helper()
	b.ResetTimer()
	cpu0, ok := processCPUTime()
	for range b.N {
		fn()
	}
	if cpu1, _ := processCPUTime(); ok {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkEncodePNG compares PNG encoders on a 10 MP cutout. Besides ns/op
// and MB/s (of raw RGBA), each reports the output size in MB and the CPU time
// per encode, which unlike wall time is meaningful on a busy machine. The
// results that chose defaultPNGConfig are in its comment.
func BenchmarkEncodePNG(b *testing.B) {
	_, photo := benchPhoto(b)
	cutout := withEllipseAlpha(photo)
	raw := int64(len(cutout.Pix))

	run := func(b *testing.B, encode func(*bytes.Buffer) error) {
		var buf bytes.Buffer
		b.SetBytes(raw)
		benchLoop(b, func() {
			buf.Reset()
			if err := encode(&buf); err != nil {
				b.Fatal(err)
			}
		})
		b.ReportMetric(float64(buf.Len())/1e6, "MB")
	}

	for _, level := range []png.CompressionLevel{png.DefaultCompression, png.BestSpeed} {
		b.Run(fmt.Sprintf("stdlib/level=%d", level), func(b *testing.B) {
			enc := png.Encoder{CompressionLevel: level}
			run(b, func(buf *bytes.Buffer) error { return enc.Encode(buf, cutout) })
		})
	}

	variants := []struct {
		name string
		cfg  pngConfig
		zero bool
	}{
		{name: "default", cfg: defaultPNGConfig()},
		{name: "default/zeroRGB", cfg: defaultPNGConfig(), zero: true},
		{name: "up/L1", cfg: pngConfig{filter: filterUp, level: 1}},
		{name: "up/L2", cfg: pngConfig{filter: filterUp, level: 2}},
		{name: "up/L3", cfg: pngConfig{filter: filterUp, level: 3}},
		{name: "up/L4", cfg: pngConfig{filter: filterUp, level: 4}},
		{name: "up/L5", cfg: pngConfig{filter: filterUp, level: 5}},
		{name: "up/L6", cfg: pngConfig{filter: filterUp, level: 6}},
		{name: "paeth/L2", cfg: pngConfig{filter: filterPaeth, level: 2}},
		{name: "up/huffman", cfg: pngConfig{filter: filterUp, level: flate.HuffmanOnly}},
		{name: "sub/L1", cfg: pngConfig{filter: filterSub, level: 1}},
		{name: "paeth/L1", cfg: pngConfig{filter: filterPaeth, level: 1}},
		{name: "paeth/L4", cfg: pngConfig{filter: filterPaeth, level: 4}},
		{name: "paeth/huffman", cfg: pngConfig{filter: filterPaeth, level: flate.HuffmanOnly}},
		{name: "adaptive/L1", cfg: pngConfig{filter: filterAdaptive, level: 1}},
		{name: "adaptive/L4", cfg: pngConfig{filter: filterAdaptive, level: 4}},
		{name: "default/1worker", cfg: pngConfig{filter: defaultPNGConfig().filter, level: defaultPNGConfig().level, workers: 1}},
		{name: "default/1strip", cfg: pngConfig{filter: defaultPNGConfig().filter, level: defaultPNGConfig().level, stripBytes: 1 << 40}},
		{name: "default/256KiB", cfg: pngConfig{filter: defaultPNGConfig().filter, level: defaultPNGConfig().level, stripBytes: 256 << 10}},
		{name: "default/4MiB", cfg: pngConfig{filter: defaultPNGConfig().filter, level: defaultPNGConfig().level, stripBytes: 4 << 20}},
	}
	for _, v := range variants {
		cfg := v.cfg
		if cfg.stripBytes == 0 {
			cfg.stripBytes = defaultPNGConfig().stripBytes
		}
		b.Run(v.name, func(b *testing.B) {
			run(b, func(buf *bytes.Buffer) error { return encodePNG(buf, newRGBASource(cutout, v.zero), cfg) })
		})
	}
}

// BenchmarkDecodeJPEG measures the whole Decode of a 10 MP 4:2:0 JPEG and the
// colour conversion alone, against image/draw's optimised YCbCr->RGBA path
// (nearest chroma, premultiplied output) as the speed reference.
func BenchmarkDecodeJPEG(b *testing.B) {
	data, _ := benchPhoto(b)
	m, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	ycc := m.(*image.YCbCr)
	pixels := int64(ycc.Rect.Dx() * ycc.Rect.Dy())

	b.Run("Decode", func(b *testing.B) {
		b.SetBytes(pixels)
		benchLoop(b, func() {
			if _, _, err := Decode(data, Limits{}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("image/jpeg-only", func(b *testing.B) {
		b.SetBytes(pixels)
		benchLoop(b, func() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, fancy := range []bool{true, false} {
		b.Run(fmt.Sprintf("convert/fancy=%v", fancy), func(b *testing.B) {
			b.SetBytes(pixels)
			benchLoop(b, func() { jpegYCbCrToNRGBA(ycc, fancy) })
		})
	}
	b.Run("convert/image-draw-RGBA", func(b *testing.B) {
		b.SetBytes(pixels)
		dst := image.NewRGBA(ycc.Rect)
		benchLoop(b, func() { draw.Draw(dst, dst.Rect, ycc, image.Point{}, draw.Src) })
	})
}

func BenchmarkOrient(b *testing.B) {
	_, img := benchPhoto(b)
	for _, o := range []int{2, 3, 6, 8} {
		b.Run(fmt.Sprint(o), func(b *testing.B) {
			b.SetBytes(int64(len(img.Pix)))
			benchLoop(b, func() { orient(img, o) })
		})
	}
}

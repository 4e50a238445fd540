package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadPNG decodes a reference PNG with the standard library only, so that
// references do not depend on the code under test beyond toNRGBA's repacking.
func loadPNG(t testing.TB, name string) *image.NRGBA {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(readTestdata(t, name)))
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return toNRGBA(m)
}

// diff summarises per-channel differences between two images.
type diff struct {
	mean [4]float64 // mean |Δ| for R, G, B, A
	max  int        // largest |Δ| in any channel
	n    int        // pixels differing in any channel
}

func (d diff) total() float64 { return d.mean[0] + d.mean[1] + d.mean[2] + d.mean[3] }

func (d diff) String() string {
	return fmt.Sprintf("R %.3f G %.3f B %.3f A %.3f (max %d, %d px differ)",
		d.mean[0], d.mean[1], d.mean[2], d.mean[3], d.max, d.n)
}

// compareRGB compares two NRGBA images of the same size channel by channel.
// Sizes that differ are reported as a maximal difference.
func compareRGB(a, b *image.NRGBA) diff {
	var d diff
	if a.Rect.Dx() != b.Rect.Dx() || a.Rect.Dy() != b.Rect.Dy() {
		d.max, d.n = 256, -1
		d.mean = [4]float64{255, 255, 255, 255}
		return d
	}
	w, h := a.Rect.Dx(), a.Rect.Dy()
	var sum [4]int
	for y := 0; y < h; y++ {
		pa := a.Pix[y*a.Stride : y*a.Stride+4*w]
		pb := b.Pix[y*b.Stride : y*b.Stride+4*w]
		for x := 0; x < w; x++ {
			differs := false
			for c := 0; c < 4; c++ {
				v := int(pa[4*x+c]) - int(pb[4*x+c])
				if v < 0 {
					v = -v
				}
				sum[c] += v
				d.max = max(d.max, v)
				differs = differs || v != 0
			}
			if differs {
				d.n++
			}
		}
	}
	for c := range sum {
		d.mean[c] = float64(sum[c]) / float64(w*h)
	}
	return d
}

// withEllipseAlpha returns a copy of img with a plausible cutout alpha: opaque
// inside a centred ellipse, a soft edge a few pixels wide, and alpha 0 outside.
// The RGB of transparent pixels is kept, as the cutout pipeline does.
func withEllipseAlpha(img *image.NRGBA) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	copy(out.Pix, toNRGBA(img).Pix)
	cx, cy := float64(w)/2, float64(h)/2
	rx, ry := 0.35*float64(w), 0.42*float64(h)
	edge := max(2, 0.006*float64(min(w, h))) // soft edge width in pixels
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := (float64(x)+0.5-cx)/rx, (float64(y)+0.5-cy)/ry
			// Approximate distance outside the ellipse, in pixels.
			d := (math.Sqrt(dx*dx+dy*dy) - 1) * math.Min(rx, ry)
			a := math.Max(0, math.Min(1, 0.5-d/edge))
			out.Pix[y*out.Stride+4*x+3] = uint8(a*255 + 0.5)
		}
	}
	return out
}

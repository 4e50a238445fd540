package segment

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refResize is a direct transcription of the reference's tensorResizeBilinear for one channel, kept deliberately
// naive (coordinates and weights recomputed per pixel) so that the optimised resize is checked against it.
func refResize(src []uint8, sw, sh, dw, dh int) []uint8 {
	out := make([]uint8, dw*dh)
	sx, sy := float64(sw)/float64(dw), float64(sh)/float64(dh)
	for y := 0; y < dh; y++ {
		for x := 0; x < dw; x++ {
			fx, fy := float64(x)*sx, float64(y)*sy
			x1, x2 := int(math.Max(math.Floor(fx), 0)), int(math.Min(math.Ceil(fx), float64(sw-1)))
			y1, y2 := int(math.Max(math.Floor(fy), 0)), int(math.Min(math.Ceil(fy), float64(sh-1)))
			dx, dy := fx-float64(x1), fy-float64(y1)
			p1, p2 := float64(src[y1*sw+x1]), float64(src[y1*sw+x2])
			p3, p4 := float64(src[y2*sw+x1]), float64(src[y2*sw+x2])
			a := float64((1 - dx) * (1 - dy) * p1)
			b := float64(dx * (1 - dy) * p2)
			c := float64((1 - dx) * dy * p3)
			d := float64(dx * dy * p4)
			out[y*dw+x] = uint8(math.Floor(a + b + c + d + 0.5))
		}
	}
	return out
}

func TestResizeHandWorked(t *testing.T) {
	// 2×1 → 4×1: scale 0.5, so x=1 samples halfway (rounded half up) and x=3 clamps x2 to the last column.
	// resizeMask takes a square source: a 2×2 one with equal rows.
	got := make([]uint8, 4)
	src := []uint8{10, 21, 10, 21}
	resizeMask(src, 2, 4, 1, got, 4, 1, 0)
	want := []uint8{10, 16, 21, 21} // 15.5 rounds up to 16
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestResizeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ size, w, h int }{{16, 37, 23}, {16, 7, 5}, {32, 32, 32}, {24, 100, 3}, {8, 1, 1}} {
		src := make([]uint8, c.size*c.size)
		for i := range src {
			src[i] = uint8(r.IntN(256))
		}
		// Flat regions exercise the shortcut; random ones the arithmetic.
		for i := 0; i < len(src)/3; i++ {
			src[i] = 255
		}
		want := refResize(src, c.size, c.size, c.w, c.h)
		got := make([]uint8, c.w*c.h*4)
		resizeMask(src, c.size, c.w, c.h, got, c.w*4, 4, 3)
		for i := range want {
			if got[i*4+3] != want[i] {
				t.Fatalf("%+v: pixel %d: got %d, want %d", c, i, got[i*4+3], want[i])
			}
		}
	}
}

func TestResizeRGBToPlanesMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w, h, size := 53, 31, 16
	pix := make([]uint8, w*h*4)
	for i := range pix {
		pix[i] = uint8(r.IntN(256))
	}
	planes := make([]uint8, 3*size*size)
	resizeRGBToPlanes(pix, w*4, 4, w, h, size, planes)
	for c := 0; c < 3; c++ {
		ch := make([]uint8, w*h)
		for i := range ch {
			ch[i] = pix[i*4+c]
		}
		want := refResize(ch, w, h, size, size)
		for i, v := range want {
			if planes[c*size*size+i] != v {
				t.Fatalf("channel %d pixel %d: got %d, want %d", c, i, planes[c*size*size+i], v)
			}
		}
	}
}

func TestNormalizeISNetIsExact(t *testing.T) {
	p, _ := ProfileByName("isnet")
	planes := make([]uint8, 3*256)
	for i := range planes {
		planes[i] = uint8(i % 256)
	}
	out := make([]float32, len(planes))
	normalize(p, planes, out)
	for i, v := range planes {
		if want := (float32(v) - 128) / 256; out[i] != want {
			t.Fatalf("value %d: got %v, want %v", v, out[i], want)
		}
	}
}

func TestNormalizeDivideByMax(t *testing.T) {
	p, _ := ProfileByName("u2net")
	planes := []uint8{0, 100, 200, 0, 100, 200, 0, 100, 200} // max 200 → 200 maps to 1.0
	out := make([]float32, len(planes))
	normalize(p, planes, out)
	if want := float32((1.0 - 0.485) / 0.229); math.Abs(float64(out[2]-want)) > 1e-6 {
		t.Fatalf("R at max: got %v, want %v", out[2], want)
	}
	if want := float32((0.5 - 0.406) / 0.225); math.Abs(float64(out[7]-want)) > 1e-6 {
		t.Fatalf("B at half: got %v, want %v", out[7], want)
	}
}

func TestToMask(t *testing.T) {
	m := make([]uint8, 4)
	toMask(OutputProbability, []float32{0, 0.999, 1, float32(math.NaN())}, m)
	if m[0] != 0 || m[1] != 254 || m[2] != 255 || m[3] != 0 {
		t.Fatalf("probability: %v (want truncation: 0 254 255 0)", m)
	}
	toMask(OutputLogits, []float32{-100, 0, 100, 0}, m)
	if m[0] != 0 || m[1] != 127 || m[2] != 255 {
		t.Fatalf("logits: %v", m)
	}
	toMask(OutputMinMax, []float32{2, 4, 6, 6}, m)
	if m[0] != 0 || m[1] != 127 || m[2] != 255 {
		t.Fatalf("min-max: %v", m)
	}
	toMask(OutputMinMax, []float32{3, 3, 3, 3}, m)
	if m[0] != 0 || m[3] != 0 {
		t.Fatalf("constant output must give an empty mask, got %v", m)
	}
}

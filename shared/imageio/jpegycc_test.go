package imageio

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"testing"
)

// The testdata JPEGs were made with libjpeg-turbo 2.1.5 (Debian's cjpeg, -quality 90,
// -sample 2x2 / 2x1 / 1x2 / 1x1), and each *.djpeg.png is Debian's djpeg output for
// it (default settings: islow IDCT, fancy upsampling), stored as PNG:
//
//   - patchNNN: a 161x121 crop of astronaut.jpg (mission patch on the orange suit),
//     odd in both directions so that the edge replication is exercised;
//   - mosaicNNN: 165x115 of 16x16 blocks of random colours. Every 8x8 block of every
//     component is constant, so the DCTs carry only DC terms and Go's IDCT agrees with
//     libjpeg's exactly; what is left to differ is upsampling and colour conversion,
//     which must therefore match bit for bit.
var djpegCases = []struct {
	name  string
	ratio image.YCbCrSubsampleRatio
}{
	{"420", image.YCbCrSubsampleRatio420},
	{"422", image.YCbCrSubsampleRatio422},
	{"440", image.YCbCrSubsampleRatio440},
	{"444", image.YCbCrSubsampleRatio444},
}

func decodeYCbCr(t *testing.T, path string, want image.YCbCrSubsampleRatio) *image.YCbCr {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(readTestdata(t, path)))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	y, ok := m.(*image.YCbCr)
	if !ok {
		t.Fatalf("%s decoded to %T, want *image.YCbCr", path, m)
	}
	if y.SubsampleRatio != want {
		t.Fatalf("%s has subsampling %v, want %v", path, y.SubsampleRatio, want)
	}
	return y
}

// stdlibNRGBA converts the way image/draw or image.NRGBA.Set would: image/color's
// YCbCr conversion with replicated chroma.
func stdlibNRGBA(m image.Image) *image.NRGBA {
	b := m.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			out.Set(x, y, m.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

func TestJPEGMosaicBitExactWithDjpeg(t *testing.T) {
	for _, c := range djpegCases {
		t.Run(c.name, func(t *testing.T) {
			m := decodeYCbCr(t, "mosaic"+c.name+".jpg", c.ratio)
			ref := loadPNG(t, "mosaic"+c.name+".djpeg.png")
			got := jpegYCbCrToNRGBA(m, true)
			d := compareRGB(got, ref)
			t.Logf("fancy vs djpeg: %v", d)
			if d.max != 0 {
				t.Errorf("fancy conversion differs from djpeg: %v", d)
			}
			if c.ratio != image.YCbCrSubsampleRatio444 {
				// The test must be able to tell the filters apart.
				if p := compareRGB(jpegYCbCrToNRGBA(m, false), ref); p.max == 0 {
					t.Errorf("replicated chroma also matches djpeg exactly; the mosaic does not test upsampling")
				}
			}
		})
	}
}

func TestJPEGPhotoCloseToDjpeg(t *testing.T) {
	for _, c := range djpegCases {
		t.Run(c.name, func(t *testing.T) {
			data := readTestdata(t, "patch"+c.name+".jpg")
			m := decodeYCbCr(t, "patch"+c.name+".jpg", c.ratio)
			ref := loadPNG(t, "patch"+c.name+".djpeg.png")

			fancy := compareRGB(jpegYCbCrToNRGBA(m, true), ref)
			plain := compareRGB(jpegYCbCrToNRGBA(m, false), ref)
			stdlib := compareRGB(stdlibNRGBA(m), ref)
			t.Logf("mean |Δ| per channel vs djpeg: fancy %v, plain %v, image/color %v", fancy, plain, stdlib)

			for ch, v := range fancy.mean {
				if v >= 1.0 {
					t.Errorf("channel %d: mean |Δ| %.3f, want < 1.0", ch, v)
				}
			}
			if c.ratio != image.YCbCrSubsampleRatio444 && fancy.total() >= plain.total() {
				t.Errorf("fancy upsampling (%v) is not closer to djpeg than replication (%v)", fancy, plain)
			}

			// Decode must take the fancy path.
			dec, _, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := compareRGB(dec, jpegYCbCrToNRGBA(m, true)); d.max != 0 {
				t.Errorf("Decode differs from the fancy conversion: %v", d)
			}
		})
	}
}

func TestYCCConstantsAreLibjpegFIX(t *testing.T) {
	// FIX(x) in jdcolor.c is (x * 2^16 + 0.5) truncated.
	for _, c := range []struct {
		got  int32
		coef float64
	}{{fix1_40200, 1.40200}, {fix1_77200, 1.77200}, {fix0_71414, 0.71414}, {fix0_34414, 0.34414}} {
		if want := int32(c.coef*65536 + 0.5); c.got != want {
			t.Errorf("FIX(%v) = %d, want %d", c.coef, c.got, want)
		}
	}
	// And the tables stay within rounding of the real-valued conversion.
	tb := newYCCTables()
	for i := range 256 {
		x := float64(i - 128)
		for _, e := range []struct {
			name string
			got  float64
			want float64
		}{
			{"Cr->R", float64(tb.crR[i]), 1.402 * x},
			{"Cb->B", float64(tb.cbB[i]), 1.772 * x},
			{"Cb,Cr->G", float64((tb.cbG[i] + tb.crG[i]) >> 16), -0.34414*x - 0.71414*x},
		} {
			if math.Abs(e.got-e.want) > 0.51 {
				t.Errorf("%s[%d] = %v, want about %.2f", e.name, i, e.got, e.want)
			}
		}
	}
}

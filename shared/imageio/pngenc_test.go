package imageio

import (
	"bytes"
	"errors"
	"hash/adler32"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// randomNRGBA makes noise with every alpha value, including many zeros.
func randomNRGBA(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.UintN(256))
	}
	for i := 3; i < len(m.Pix); i += 16 {
		m.Pix[i] = 0
	}
	return m
}

// decodeStdPNG decodes with image/png and repacks to NRGBA without touching
// the samples (image/png returns *image.NRGBA for 8-bit RGBA).
func decodeStdPNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("image/png cannot decode our output: %v", err)
	}
	return m
}

func assertSameNRGBA(t *testing.T, got image.Image, want *image.NRGBA) {
	t.Helper()
	g, ok := got.(*image.NRGBA)
	if !ok {
		t.Fatalf("decoded as %T, want *image.NRGBA (8-bit RGBA, no palette)", got)
	}
	if d := compareRGB(g, want); d.max != 0 {
		t.Fatalf("not lossless: %v", d)
	}
}

func TestEncodePNGLossless(t *testing.T) {
	photo, _, err := Decode(readTestdata(t, "cat-small.jpg"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cutout := withEllipseAlpha(photo)
	images := map[string]*image.NRGBA{
		"1x1":    randomNRGBA(1, 1, 1),
		"1x97":   randomNRGBA(1, 97, 2),
		"97x1":   randomNRGBA(97, 1, 3),
		"noise":  randomNRGBA(333, 101, 4),
		"cutout": cutout,
		// A sub-image: the encoder must honour Rect and Stride.
		"subimage": cutout.SubImage(image.Rect(17, 9, 300, 211)).(*image.NRGBA),
	}
	configs := map[string]pngConfig{"default": defaultPNGConfig()}
	for _, f := range []filterMode{filterNone, filterSub, filterUp, filterPaeth, filterAdaptive} {
		// Small strips so that every image is split, several times over.
		configs[f.String()+"-small-strips"] = pngConfig{filter: f, level: 1, stripBytes: 1000}
	}
	configs["huffman"] = pngConfig{filter: filterPaeth, level: flate.HuffmanOnly, stripBytes: 5000}
	configs["level9-one-worker"] = pngConfig{filter: filterPaeth, level: 9, stripBytes: 5000, workers: 1}

	for in, img := range images {
		for cn, cfg := range configs {
			t.Run(in+"/"+cn, func(t *testing.T) {
				var buf bytes.Buffer
				if err := encodePNG(&buf, newRGBASource(img, false), cfg); err != nil {
					t.Fatal(err)
				}
				assertSameNRGBA(t, decodeStdPNG(t, buf.Bytes()), toNRGBA(img))
			})
		}
	}
}

func TestEncodePNGIsRGBAEvenWithFewColours(t *testing.T) {
	m := image.NewNRGBA(image.Rect(0, 0, 40, 30)) // all transparent black
	var buf bytes.Buffer
	if err := EncodePNG(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR data starts at byte 16: width, height, depth, colour type.
	if depth, ct := b[24], b[25]; depth != 8 || ct != 6 {
		t.Errorf("bit depth %d colour type %d, want 8-bit RGBA (6)", depth, ct)
	}
	assertSameNRGBA(t, decodeStdPNG(t, b), m)
}

func TestEncodePNGZeroTransparentRGB(t *testing.T) {
	img := randomNRGBA(201, 77, 9)
	orig := bytes.Clone(img.Pix)
	var plain, zeroed bytes.Buffer
	if err := EncodePNG(&plain, img); err != nil {
		t.Fatal(err)
	}
	if err := EncodePNGWith(&zeroed, img, PNGOptions{ZeroTransparentRGB: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img.Pix, orig) {
		t.Fatal("encoding modified the caller's image")
	}
	assertSameNRGBA(t, decodeStdPNG(t, plain.Bytes()), img)

	want := image.NewNRGBA(img.Rect)
	copy(want.Pix, img.Pix)
	zeros := 0
	for i := 0; i < len(want.Pix); i += 4 {
		if want.Pix[i+3] == 0 {
			want.Pix[i], want.Pix[i+1], want.Pix[i+2] = 0, 0, 0
			zeros++
		}
	}
	if zeros == 0 {
		t.Fatal("test image has no transparent pixels")
	}
	assertSameNRGBA(t, decodeStdPNG(t, zeroed.Bytes()), want)
}

func TestEncodeGrayPNG(t *testing.T) {
	for _, size := range []image.Point{{1, 1}, {3000, 7}, {513, 517}} {
		m := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		r := rand.New(rand.NewPCG(uint64(size.X), 2))
		for i := range m.Pix {
			// A mask: mostly 0 and 255 with some soft values.
			switch r.UintN(4) {
			case 0:
				m.Pix[i] = uint8(r.UintN(256))
			case 1:
				m.Pix[i] = 255
			}
		}
		var buf bytes.Buffer
		if err := EncodeGrayPNG(&buf, m); err != nil {
			t.Fatal(err)
		}
		got, ok := decodeStdPNG(t, buf.Bytes()).(*image.Gray)
		if !ok || !bytes.Equal(got.Pix, m.Pix) || got.Rect != m.Rect {
			t.Fatalf("%v: grey PNG did not round-trip", size)
		}
	}
}

func TestEncodePNGEmpty(t *testing.T) {
	if err := EncodePNG(&bytes.Buffer{}, image.NewNRGBA(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("encoding a 0x5 image succeeded; PNG cannot represent it")
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestEncodePNGWriterError(t *testing.T) {
	img := randomNRGBA(500, 500, 5)
	for _, after := range []int{0, 1, 5, 20} {
		err := encodePNG(&failingWriter{after: after}, newRGBASource(img, false),
			pngConfig{filter: filterPaeth, level: 1, stripBytes: 4000})
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte("disk full")) {
			t.Errorf("after %d writes: err = %v, want the writer's error", after, err)
		}
	}
}

func TestAdler32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	data := make([]byte, 300000)
	for i := range data {
		data[i] = uint8(r.UintN(256))
	}
	for _, cut := range []int{0, 1, 5552, 65521, 65522, 150000, 299999, 300000} {
		a, b := data[:cut], data[cut:]
		got := adler32Combine(adler32.Checksum(a), adler32.Checksum(b), int64(len(b)))
		if want := adler32.Checksum(data); got != want {
			t.Errorf("cut at %d: combined %08x, want %08x", cut, got, want)
		}
	}
}

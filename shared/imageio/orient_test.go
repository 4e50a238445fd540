package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// displayedPos maps a stored pixel (x, y) of a w×h image to where it appears
// for EXIF orientation o, straight from the specification's wording: "the 0th
// row is at the <side> of the image, the 0th column at the <side>". It is
// deliberately written differently from orient's table so that the two check
// each other.
func displayedPos(o, w, h, x, y int) (dx, dy, dw, dh int) {
	const (
		top = iota
		bottom
		left
		right
	)
	sides := map[int][2]int{ // orientation: {side of row 0, side of column 0}
		1: {top, left}, 2: {top, right}, 3: {bottom, right}, 4: {bottom, left},
		5: {left, top}, 6: {right, top}, 7: {right, bottom}, 8: {left, bottom},
	}
	row0, col0 := sides[o][0], sides[o][1]
	dw, dh = w, h
	if row0 == left || row0 == right {
		dw, dh = h, w
	}
	// Stored row y runs parallel to the side row 0 is on, y pixels from it.
	switch row0 {
	case top:
		dy = y
	case bottom:
		dy = dh - 1 - y
	case left:
		dx = y
	case right:
		dx = dw - 1 - y
	}
	// Stored column x runs parallel to the side column 0 is on.
	switch col0 {
	case left:
		dx = x
	case right:
		dx = dw - 1 - x
	case top:
		dy = x
	case bottom:
		dy = dh - 1 - x
	}
	return dx, dy, dw, dh
}

// tiffOrientation builds a minimal TIFF/EXIF block whose IFD0 holds another
// tag first and then Orientation = o.
func tiffOrientation(bo binary.ByteOrder, o uint16) []byte {
	b := make([]byte, 8+2+2*12+4)
	if bo == binary.LittleEndian {
		copy(b, "II*\x00")
	} else {
		copy(b, "MM\x00*")
	}
	bo.PutUint32(b[4:], 8)
	bo.PutUint16(b[8:], 2)
	e := b[10:]
	bo.PutUint16(e[0:], 0x0100) // ImageWidth, SHORT, 1, 640
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], 640)
	e = b[22:]
	bo.PutUint16(e[0:], tagOrientation)
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], o)
	return b
}

// withJPEGExif inserts an APP1 Exif segment right after SOI.
func withJPEGExif(jpg, tiff []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+len(payload)))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// withPNGExif inserts an eXIf chunk right after IHDR.
func withPNGExif(p, tiff []byte) []byte {
	const afterIHDR = 8 + 8 + 13 + 4
	out := append([]byte{}, p[:afterIHDR]...)
	out = append(out, pngChunk("eXIf", tiff)...)
	return append(out, p[afterIHDR:]...)
}

// blockImage is 3x2 blocks of 16x16 in clearly different colours, so that
// every orientation is distinguishable even after lossy JPEG coding.
var blockColours = [2][3]color.NRGBA{
	{{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}},
	{{255, 255, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}},
}

func blockImage() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 48, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 48; x++ {
			m.SetNRGBA(x, y, blockColours[y/16][x/16])
		}
	}
	return m
}

func TestJPEGExifOrientation(t *testing.T) {
	var base bytes.Buffer
	if err := jpeg.Encode(&base, blockImage(), &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for o := 1; o <= 8; o++ {
			data := withJPEGExif(base.Bytes(), tiffOrientation(bo, uint16(o)))
			img, info, err := Decode(data, Limits{})
			if err != nil {
				t.Fatalf("%v orientation %d: %v", bo, o, err)
			}
			_, _, dw, dh := displayedPos(o, 48, 32, 0, 0)
			if info.Orientation != o || info.Width != dw || info.Height != dh || img.Rect.Dx() != dw || img.Rect.Dy() != dh {
				t.Fatalf("%v orientation %d: info %+v, image %v; want %dx%d", bo, o, info, img.Rect, dw, dh)
			}
			// Probe must report the same.
			if pi, err := Probe(data, Limits{}); err != nil || pi != info {
				t.Errorf("%v orientation %d: Probe = %+v, %v; Decode said %+v", bo, o, pi, err, info)
			}
			for by := range 2 {
				for bx := range 3 {
					// Block centre in stored coordinates.
					dx, dy, _, _ := displayedPos(o, 48, 32, bx*16+8, by*16+8)
					got := img.NRGBAAt(dx, dy)
					want := blockColours[by][bx]
					if !near(got, want, 24) {
						t.Errorf("%v orientation %d: block (%d,%d) shows %v at (%d,%d), want %v",
							bo, o, bx, by, got, dx, dy, want)
					}
				}
			}
		}
	}
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && d(a.A, b.A)
}

// checkOriented asserts that got is stored oriented by o, pixel for pixel.
func checkOriented(t *testing.T, got, stored *image.NRGBA, o int) {
	t.Helper()
	w, h := stored.Rect.Dx(), stored.Rect.Dy()
	_, _, dw, dh := displayedPos(o, w, h, 0, 0)
	if got.Rect.Dx() != dw || got.Rect.Dy() != dh {
		t.Fatalf("orientation %d: size %v, want %dx%d", o, got.Rect, dw, dh)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy, _, _ := displayedPos(o, w, h, x, y)
			if g, s := got.NRGBAAt(dx, dy), stored.NRGBAAt(x, y); g != s {
				t.Fatalf("orientation %d: stored (%d,%d) = %v but displayed (%d,%d) = %v", o, x, y, s, dx, dy, g)
			}
		}
	}
}

func TestPNGExifOrientation(t *testing.T) {
	stored := randomNRGBA(7, 4, 11) // every pixel distinct, asymmetric
	var base bytes.Buffer
	if err := png.Encode(&base, stored); err != nil {
		t.Fatal(err)
	}
	for o := 1; o <= 8; o++ {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			img, info, err := Decode(withPNGExif(base.Bytes(), tiffOrientation(bo, uint16(o))), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Orientation != o {
				t.Errorf("orientation %d read as %d", o, info.Orientation)
			}
			checkOriented(t, img, stored, o)
		}
	}
}

// withWebPExif rewraps a simple-format (VP8L) WebP as the extended format with
// an EXIF chunk after the image data, where libwebp's muxer puts it.
func withWebPExif(t *testing.T, simple, tiff []byte, w, h int) []byte {
	t.Helper()
	if string(simple[12:16]) != "VP8L" {
		t.Fatalf("want a VP8L file, got %q", simple[12:16])
	}
	chunk := func(fourcc string, data []byte) []byte {
		c := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		c = append(c, data...)
		if len(data)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	vp8x := make([]byte, 10)
	vp8x[0] = 1<<3 | 1<<4 // EXIF and alpha present
	putU24 := func(b []byte, v int) { b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16) }
	putU24(vp8x[4:], w-1)
	putU24(vp8x[7:], h-1)
	body := append([]byte("WEBP"), chunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...) // the VP8L chunk as it was
	body = append(body, chunk("EXIF", tiff)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestWebPExifOrientation(t *testing.T) {
	simple := readTestdata(t, "lossless_alpha.webp")
	stored, _, err := Decode(simple, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w, h := stored.Rect.Dx(), stored.Rect.Dy()
	for o := 1; o <= 8; o++ {
		data := withWebPExif(t, simple, tiffOrientation(binary.BigEndian, uint16(o)), w, h)
		img, info, err := Decode(data, Limits{})
		if err != nil {
			t.Fatalf("orientation %d: %v", o, err)
		}
		if info.Orientation != o {
			t.Errorf("orientation %d read as %d", o, info.Orientation)
		}
		checkOriented(t, img, stored, o)
	}
}

func TestExifOrientationMalformed(t *testing.T) {
	good := tiffOrientation(binary.LittleEndian, 6)
	if got := exifOrientation(good); got != 6 {
		t.Fatalf("well-formed block gave %d, want 6", got)
	}
	long := tiffOrientation(binary.BigEndian, 0)
	binary.BigEndian.PutUint16(long[22+2:], 4) // type LONG
	binary.BigEndian.PutUint32(long[22+8:], 8)

	cases := map[string]struct {
		b    []byte
		want int
	}{
		"empty":            {nil, 1},
		"Exif prefix only": {[]byte("Exif\x00\x00"), 1},
		"bad byte order":   {append([]byte("XX*\x00"), good[4:]...), 1},
		"truncated IFD":    {good[:20], 1},
		"IFD offset past end": {func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[4:], 1<<30)
			return b
		}(), 1},
		"entry count past end": {func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint16(b[8:], 0xFFFF)
			binary.LittleEndian.PutUint16(b[22:], 0x0101) // hide the real tag
			return b
		}(), 1},
		"value 0":       {tiffOrientation(binary.LittleEndian, 0), 1},
		"value 9":       {tiffOrientation(binary.LittleEndian, 9), 1},
		"LONG value 8":  {long, 8},
		"with prefix":   {append([]byte("Exif\x00\x00"), good...), 6},
		"wrong type":    {func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint16(b[24:], 2); return b }(), 1},
		"IFD offset 0":  {func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[4:], 0); return b }(), 1},
		"IFD at header": {func() []byte { b := bytes.Clone(good); binary.LittleEndian.PutUint32(b[4:], 4); return b }(), 1},
	}
	for name, c := range cases {
		if got := exifOrientation(c.b); got != c.want {
			t.Errorf("%s: got %d, want %d", name, got, c.want)
		}
	}
}

func TestOrientIdentityAndSizes(t *testing.T) {
	img := randomNRGBA(300, 170, 3) // big enough for parallel bands
	if orient(img, 1) != img {
		t.Error("orientation 1 should return the image itself")
	}
	for o := 2; o <= 8; o++ {
		checkOriented(t, orient(img, o), img, o)
	}
}

package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// sampleFiles returns one small valid file of every format and flavour.
func sampleFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range []string{
		"patch420.jpg", "patch444.jpg", "mosaic422.jpg", "cat-small.jpg",
		"progressive.jpg", "gray.jpg", // 40x30, cjpeg -progressive / -grayscale
		"lossy.webp", "lossy_alpha.webp", "lossless_alpha.webp",
		"patch420.djpeg.png", "lossy_alpha.dwebp.png",
	} {
		files[name] = readTestdata(t, name)
	}
	var buf bytes.Buffer
	if err := gif.Encode(&buf, randomNRGBA(30, 20, 1), &gif.Options{NumColors: 256}); err != nil {
		t.Fatal(err)
	}
	files["generated.gif"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	if err := jpeg.Encode(&buf, randomNRGBA(33, 17, 2), nil); err != nil {
		t.Fatal(err)
	}
	files["generated.jpg"] = bytes.Clone(buf.Bytes())
	return files
}

func TestSniff(t *testing.T) {
	cases := []struct {
		head string
		want Format
		err  error
	}{
		{"\xFF\xD8\xFF\xE0\x00\x10JFIF", JPEG, nil},
		{"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", PNG, nil},
		{"GIF89a\x01\x00", GIF, nil},
		{"GIF87a\x01\x00", GIF, nil},
		{"RIFF\x10\x00\x00\x00WEBPVP8 ", WebP, nil},
		{"", "", ErrCorrupt},
		{"\xFF\xD8", "", ErrCorrupt},     // cut inside the signature
		{"\x89PN", "", ErrCorrupt},       // cut inside the signature
		{"RIFF\x10\x00", "", ErrCorrupt}, // cut before "WEBP"
		{"RIFF\x10\x00\x00\x00WAVEfmt ", "", ErrUnsupported},
		{"hello, world", "", ErrUnsupported},
		{"%PDF-1.7\n%\xe2\xe3", "", ErrUnsupported},
		{"<!DOCTYPE html><html>", "", ErrUnsupported},
		{"<svg xmlns=", "", ErrUnsupported},
		{"\x00\x00\x00\x18ftypheic\x00\x00", "", ErrUnsupported},
		{"\x00\x00\x00\x1cftypavif\x00\x00", "", ErrUnsupported},
		{"BM\x36\x00\x0c\x00", "", ErrUnsupported},
		{"II*\x00\x08\x00\x00\x00", "", ErrUnsupported},
		{"GIF90a", "", ErrUnsupported},
	}
	for _, c := range cases {
		got, err := Sniff([]byte(c.head))
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("Sniff(%q) = %q, %v; want %q, %v", c.head, got, err, c.want, c.err)
		}
	}
	if _, err := Sniff([]byte("\x00\x00\x00\x18ftypheic")); !strings.Contains(err.Error(), "HEIC") {
		t.Errorf("HEIC error %q does not name the format", err)
	}
}

// TestProbeAgreesWithDecoders checks Probe's own header parsing against the
// decoders' DecodeConfig and against the decoded image.
func TestProbeAgreesWithDecoders(t *testing.T) {
	for name, data := range sampleFiles(t) {
		info, err := Probe(data, Limits{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var cfg image.Config
		switch info.Format {
		case JPEG:
			cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		case PNG:
			cfg, err = png.DecodeConfig(bytes.NewReader(data))
		case GIF:
			cfg, err = gif.DecodeConfig(bytes.NewReader(data))
		case WebP:
			cfg, err = webp.DecodeConfig(bytes.NewReader(data))
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.Width != cfg.Width || info.Height != cfg.Height || info.Orientation != 1 {
			t.Errorf("%s: Probe %+v, DecodeConfig %dx%d", name, info, cfg.Width, cfg.Height)
		}
		img, dinfo, err := Decode(data, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if dinfo != info || img.Rect != image.Rect(0, 0, info.Width, info.Height) || img.Stride != 4*info.Width {
			t.Errorf("%s: Decode gave %+v %v stride %d, Probe %+v", name, dinfo, img.Rect, img.Stride, info)
		}
	}
}

// pngHeaderOnly is a PNG whose IHDR claims w×h followed by a tiny IDAT: a
// decompression bomb's shape, without the bomb.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b := []byte("\x89PNG\r\n\x1a\n")
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff})...)
	return append(b, pngChunk("IEND", nil)...)
}

// jpegSOF returns a baseline JPEG whose frame header is replaced by one with
// the given marker, precision and size.
func jpegSOF(t *testing.T, marker, precision byte, w, h uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, randomNRGBA(16, 16, 3), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0 in generated JPEG")
	}
	b[i+1] = marker
	b[i+4] = precision
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

func gifScreen(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, 0x3B)
}

func webpVP8X(flags byte, w, h int) []byte {
	d := make([]byte, 10)
	d[0] = flags
	d[4], d[5], d[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	d[7], d[8], d[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	body := append([]byte("WEBPVP8X"), binary.LittleEndian.AppendUint32(nil, 10)...)
	body = append(body, d...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestLimits(t *testing.T) {
	photo := readTestdata(t, "cat-small.jpg") // 451x300 = 135300 px
	cases := map[string]struct {
		data []byte
		lim  Limits
		err  error
	}{
		"PNG bomb 100000x100000":       {pngHeaderOnly(100000, 100000), Limits{}, ErrTooLarge},
		"PNG 2^31-1 wide":              {pngHeaderOnly(1<<31-1, 1), Limits{}, ErrTooLarge},
		"PNG width over 2^31":          {pngHeaderOnly(1<<31, 1), Limits{}, ErrCorrupt},
		"PNG zero width":               {pngHeaderOnly(0, 10), Limits{}, ErrCorrupt},
		"JPEG 65535x65535":             {jpegSOF(t, 0xC0, 8, 65535, 65535), Limits{}, ErrTooLarge},
		"JPEG zero width":              {jpegSOF(t, 0xC0, 8, 0, 16), Limits{}, ErrCorrupt},
		"GIF 65535x65535":              {gifScreen(65535, 65535), Limits{}, ErrTooLarge},
		"WebP 16384x16384":             {webpVP8X(0, 16384, 16384), Limits{}, ErrTooLarge},
		"pixels: one over the limit":   {photo, Limits{MaxPixels: 451*300 - 1}, ErrTooLarge},
		"bytes: one over the limit":    {photo, Limits{MaxBytes: int64(len(photo)) - 1}, ErrTooLarge},
		"pixels: exactly at the limit": {photo, Limits{MaxPixels: 451 * 300}, nil},
		"bytes: exactly at the limit":  {photo, Limits{MaxBytes: int64(len(photo))}, nil},
	}
	for name, c := range cases {
		_, perr := Probe(c.data, c.lim)
		img, _, derr := Decode(c.data, c.lim)
		for fn, err := range map[string]error{"Probe": perr, "Decode": derr} {
			if c.err == nil && err != nil {
				t.Errorf("%s: %s: unexpected error %v", name, fn, err)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("%s: %s: error %v, want %v", name, fn, err, c.err)
			}
		}
		if c.err != nil && img != nil {
			t.Errorf("%s: Decode returned an image with an error", name)
		}
	}
	// The message says what was too large.
	_, err := Probe(pngHeaderOnly(100000, 100000), Limits{})
	if !strings.Contains(err.Error(), "100000x100000") {
		t.Errorf("message %q does not give the size", err)
	}
}

func TestDefaultLimits(t *testing.T) {
	if d := DefaultLimits(); d.MaxPixels != 50_000_000 || d.MaxBytes != 64<<20 {
		t.Errorf("DefaultLimits() = %+v", d)
	}
	// Zero fields mean the defaults: 50 MP is allowed, one more pixel is not.
	if _, err := Probe(pngHeaderOnly(10000, 5000), Limits{}); err != nil {
		t.Errorf("50 MP refused: %v", err)
	}
	if _, err := Probe(pngHeaderOnly(10000, 5000), Limits{MaxPixels: -1}); err != nil {
		t.Errorf("negative limit should mean default: %v", err)
	}
	if _, err := Probe(pngHeaderOnly(50_000_001, 1), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("50 MP + 1 accepted: %v", err)
	}
}

func TestUnsupportedFeatures(t *testing.T) {
	cases := map[string][]byte{
		"arithmetic JPEG": jpegSOF(t, 0xC9, 8, 16, 16),
		"lossless JPEG":   jpegSOF(t, 0xC3, 8, 16, 16),
		"12-bit JPEG":     jpegSOF(t, 0xC1, 12, 16, 16),
		"animated WebP":   webpVP8X(1<<1, 100, 100),
		"HEIC":            []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		"text":            []byte("just some text, certainly not an image\n"),
		"PDF":             []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"),
		"HTML":            []byte("<!doctype html>\n<html><body>hi</body></html>\n"),
	}
	for name, data := range cases {
		if _, err := Probe(data, Limits{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Probe error %v, want ErrUnsupported", name, err)
		}
		if _, _, err := Decode(data, Limits{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Decode error %v, want ErrUnsupported", name, err)
		}
	}
}

func TestTruncatedAndCorrupt(t *testing.T) {
	for name, data := range sampleFiles(t) {
		// Every cut leaves a file that must be refused as corrupt: the
		// signature is intact (or cut, which is also "corrupt"), the data is not.
		for _, n := range []int{0, 1, 2, 3, 7, 11, 20, 40, len(data) / 3, len(data) / 2, len(data) - 30} {
			if n >= len(data) {
				continue
			}
			_, _, err := Decode(data[:n], Limits{})
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s cut to %d bytes: error %v, want ErrCorrupt", name, n, err)
			}
		}
	}
	// A PNG with a damaged IDAT fails its CRC.
	p := bytes.Clone(readTestdata(t, "patch420.djpeg.png"))
	p[len(p)/2] ^= 0xFF
	if _, _, err := Decode(p, Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged PNG: %v, want ErrCorrupt", err)
	}
	// A JPEG with no frame header.
	if _, _, err := Decode([]byte{0xFF, 0xD8, 0xFF, 0xD9}, Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("SOI+EOI: %v, want ErrCorrupt", err)
	}
	// A header that disagrees with the data: the limit checked must be the
	// size decoded. Here the VP8X canvas says 2x2 but the VP8L is 64x48.
	ll := readTestdata(t, "lossless_alpha.webp")
	lie := withWebPExif(t, ll, tiffOrientation(binary.LittleEndian, 1), 2, 2)
	if _, _, err := Decode(lie, Limits{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("VP8X/VP8L size mismatch: %v, want ErrCorrupt", err)
	}
}

func TestDecodeErrorsNameTheFormat(t *testing.T) {
	data := readTestdata(t, "patch420.jpg")
	_, _, err := Decode(data[:len(data)/2], Limits{})
	if err == nil || !strings.Contains(err.Error(), "jpeg") {
		t.Errorf("error %q should mention the format", err)
	}
}

func TestGIFFirstFrameOnCanvas(t *testing.T) {
	pal := color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}}
	f1 := image.NewPaletted(image.Rect(5, 2, 13, 6), pal) // inside a 20x10 screen
	for i := range f1.Pix {
		f1.Pix[i] = 1
	}
	f1.Pix[0] = 0 // one transparent pixel at (5,2)
	f2 := image.NewPaletted(image.Rect(0, 0, 20, 10), pal)
	for i := range f2.Pix {
		f2.Pix[i] = 2
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10},
		Config: image.Config{Width: 20, Height: 10, ColorModel: pal},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, info, err := Decode(buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Width != 20 || info.Height != 10 || img.Rect.Dx() != 20 || img.Rect.Dy() != 10 {
		t.Fatalf("size %+v %v, want the 20x10 logical screen", info, img.Rect)
	}
	for y := 0; y < 10; y++ {
		for x := 0; x < 20; x++ {
			want := color.NRGBA{}
			if (image.Point{x, y}).In(f1.Rect) && !(x == 5 && y == 2) {
				want = color.NRGBA{255, 0, 0, 255}
			}
			if got := img.NRGBAAt(x, y); got != want {
				t.Fatalf("(%d,%d) = %v, want %v (first frame only)", x, y, got, want)
			}
		}
	}
}

// TestToNRGBAConversions checks every fast path against image/color.
func TestToNRGBAConversions(t *testing.T) {
	r := image.Rect(0, 0, 37, 11)
	src := randomNRGBA(37, 11, 8)
	fill := func(m interface{ Set(x, y int, c color.Color) }) {
		for y := 0; y < r.Dy(); y++ {
			for x := 0; x < r.Dx(); x++ {
				m.Set(x, y, src.NRGBAAt(x, y))
			}
		}
	}
	pal := image.NewPaletted(r, palette.Plan9)
	fill(pal)
	images := map[string]image.Image{
		"RGBA":      image.NewRGBA(r),
		"Gray":      image.NewGray(r),
		"Gray16":    image.NewGray16(r),
		"NRGBA64":   image.NewNRGBA64(r),
		"RGBA64":    image.NewRGBA64(r),
		"CMYK":      image.NewCMYK(r),
		"Paletted":  pal,
		"NRGBA sub": src.SubImage(image.Rect(3, 2, 30, 9)),
	}
	for name, m := range images {
		if s, ok := m.(interface{ Set(x, y int, c color.Color) }); ok && name != "Paletted" && name != "NRGBA sub" {
			fill(s)
		}
		got := toNRGBA(m)
		b := m.Bounds()
		if got.Rect != image.Rect(0, 0, b.Dx(), b.Dy()) {
			t.Fatalf("%s: bounds %v", name, got.Rect)
		}
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				want := color.NRGBAModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				if n, ok := m.(*image.NRGBA64); ok {
					// Straight 16-bit colour keeps its high bytes, even
					// where alpha is 0 (image/color would go through
					// premultiplied values and lose them).
					c := n.NRGBA64At(x, y)
					want = color.NRGBA{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)}
				}
				if g := got.NRGBAAt(x, y); g != want {
					t.Fatalf("%s: (%d,%d) = %v, want %v", name, x, y, g, want)
				}
			}
		}
	}
}

func TestDecodePNGVariants(t *testing.T) {
	// 16-bit, grey and paletted PNGs decode to what image/color says.
	src := randomNRGBA(23, 19, 12)
	n64 := image.NewNRGBA64(src.Rect)
	gray := image.NewGray(src.Rect)
	pal := image.NewPaletted(src.Rect, palette.WebSafe)
	for y := 0; y < 19; y++ {
		for x := 0; x < 23; x++ {
			c := src.NRGBAAt(x, y)
			n64.Set(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G)*257 + 3, uint16(c.B) * 257, uint16(c.A) * 257})
			gray.Set(x, y, c)
			pal.Set(x, y, c)
		}
	}
	for name, m := range map[string]image.Image{"NRGBA64": n64, "Gray": gray, "Paletted": pal} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		got, _, err := Decode(buf.Bytes(), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ref, _ := png.Decode(bytes.NewReader(buf.Bytes()))
		for y := 0; y < 19; y++ {
			for x := 0; x < 23; x++ {
				want := color.NRGBAModel.Convert(ref.At(x, y)).(color.NRGBA)
				if n, ok := ref.(*image.NRGBA64); ok {
					c := n.NRGBA64At(x, y)
					want = color.NRGBA{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), uint8(c.A >> 8)}
				}
				if g := got.NRGBAAt(x, y); g != want {
					t.Fatalf("%s: (%d,%d) = %v, want %v", name, x, y, g, want)
				}
			}
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 1000)
	got, err := ReadAll(bytes.NewReader(data), Limits{MaxBytes: 1000})
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("at the limit: %d bytes, %v", len(got), err)
	}
	if _, err := ReadAll(bytes.NewReader(append(data, 'y')), Limits{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("one over: %v, want ErrTooLarge", err)
	}
	// It must stop reading at the limit, not drain an endless stream.
	if _, err := ReadAll(io.MultiReader(bytes.NewReader(data), infinite{}), Limits{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("endless input: %v, want ErrTooLarge", err)
	}
	if _, err := ReadAll(errReader{}, Limits{}); err == nil || errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("reader failure: %v", err)
	}
}

type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

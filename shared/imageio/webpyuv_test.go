package imageio

import (
	"bytes"
	"testing"

	"golang.org/x/image/webp"
)

// The testdata WebPs were made with Debian's cwebp 1.2.4 (lossy.webp: 161x121,
// odd, -q 80; lossy_alpha.webp: 128x96, even, -q 80 with an alpha channel;
// lossless_alpha.webp: 64x48, -lossless) and each *.dwebp.png is dwebp 1.2.4's
// output for it (-pam, default fancy upsampling), stored as PNG.
func TestWebPMatchesDwebp(t *testing.T) {
	for _, name := range []string{"lossy", "lossy_alpha", "lossless_alpha"} {
		t.Run(name, func(t *testing.T) {
			data := readTestdata(t, name+".webp")
			ref := loadPNG(t, name+".dwebp.png")
			got, info, err := Decode(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != WebP || info.Width != ref.Rect.Dx() || info.Height != ref.Rect.Dy() {
				t.Errorf("info = %+v, want webp %dx%d", info, ref.Rect.Dx(), ref.Rect.Dy())
			}
			d := compareRGB(got, ref)
			m, err := webp.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("vs dwebp: libwebp-style conversion %v; image/color conversion %v", d, compareRGB(stdlibNRGBA(m), ref))
			if d.max != 0 {
				t.Errorf("decoded WebP differs from dwebp: %v", d)
			}
		})
	}
}

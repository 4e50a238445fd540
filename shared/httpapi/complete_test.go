package httpapi

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/backless/backless/shared/imageio"
)

func encoded(t *testing.T, f imageio.Format) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 40, 30), []color.Color{color.Black, color.White})
	for i := range img.Pix {
		img.Pix[i] = uint8(i / 7 % 2)
	}
	var buf bytes.Buffer
	switch f {
	case imageio.JPEG:
		return readTestdata(t, "coffee.jpg")
	case imageio.PNG:
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
	case imageio.GIF:
		if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{img, img}, Delay: []int{0, 0}}); err != nil {
			t.Fatal(err)
		}
	case imageio.WebP:
		b, err := os.ReadFile(filepath.Join("..", "imageio", "testdata", "lossy.webp"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return buf.Bytes()
}

func TestCompleteAcceptsWholeImagesAndRefusesCutOnes(t *testing.T) {
	for _, f := range []imageio.Format{imageio.JPEG, imageio.PNG, imageio.GIF, imageio.WebP} {
		t.Run(string(f), func(t *testing.T) {
			b := encoded(t, f)
			if !complete(f, b) {
				t.Fatal("a whole image is refused")
			}
			// Trailing data after the image's end is allowed, as the decoders allow it.
			if !complete(f, append(append([]byte{}, b...), "trailing video"...)) {
				t.Fatal("an image with trailing data is refused")
			}
			// Every cut that loses needed data is caught. For GIF only the first frame is needed, so cuts in the
			// second frame are fine; the check is that a cut inside the first never passes.
			need := len(b)
			if f == imageio.GIF {
				need = firstGIFFrameEnd(t, b)
			}
			for n := 0; n < need; n++ {
				if complete(f, b[:n]) {
					t.Fatalf("cut at %d of %d bytes accepted", n, need)
				}
			}
			// Whatever the decoder accepts, complete accepts too (no false refusals).
			for _, n := range []int{need, len(b)} {
				if _, _, err := imageio.Decode(b[:n], imageio.DefaultLimits()); err == nil && !complete(f, b[:n]) {
					t.Fatalf("refused %d bytes that decode", n)
				}
			}
		})
	}
}

// firstGIFFrameEnd finds the shortest prefix that gif.Decode accepts.
func firstGIFFrameEnd(t *testing.T, b []byte) int {
	t.Helper()
	for n := 1; n <= len(b); n++ {
		if _, err := gif.Decode(bytes.NewReader(b[:n])); err == nil {
			return n
		}
	}
	t.Fatal("the GIF does not decode")
	return 0
}

func FuzzComplete(f *testing.F) {
	f.Add([]byte("\xff\xd8\xff\xda\x00\x02\xff\xd9"))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\x00\x00\x00\x00"))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fm := range []imageio.Format{imageio.JPEG, imageio.PNG, imageio.GIF, imageio.WebP} {
			complete(fm, b) // must not panic or loop
		}
	})
}

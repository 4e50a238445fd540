package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Probe and Decode. Whatever the input,
// they must not panic, every error must wrap one of the three sentinels, and
// a success must be self-consistent. `go test` runs the seeds; to fuzz:
//
//	go test ./shared/imageio -run '^$' -fuzz FuzzDecode -fuzztime 2m
func FuzzDecode(f *testing.F) {
	// Small seeds keep the fuzzer fast: every mutation is decoded in full.
	for _, data := range sampleFiles(f) {
		if len(data) > 5000 {
			continue
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add(pngHeaderOnly(100000, 100000))
	f.Add(gifScreen(3, 3))
	f.Add(webpVP8X(1<<3, 10, 10))
	var buf bytes.Buffer
	if err := EncodePNG(&buf, randomNRGBA(5, 4, 1)); err != nil {
		f.Fatal(err)
	}
	f.Add(withPNGExif(buf.Bytes(), tiffOrientation(binary.BigEndian, 6)))

	// Small limits keep each run cheap; they are still checked like the
	// defaults.
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		pinfo, perr := Probe(data, lim)
		img, info, err := Decode(data, lim)
		for _, e := range []error{perr, err} {
			if e != nil && !errors.Is(e, ErrCorrupt) && !errors.Is(e, ErrUnsupported) && !errors.Is(e, ErrTooLarge) {
				t.Fatalf("error wraps no sentinel: %v", e)
			}
		}
		if perr != nil && err == nil {
			t.Fatalf("Probe refused (%v) what Decode accepted", perr)
		}
		if err != nil {
			if img != nil {
				t.Fatal("image returned with an error")
			}
			return
		}
		if info != pinfo {
			t.Fatalf("Decode info %+v != Probe info %+v", info, pinfo)
		}
		if img.Rect != image.Rect(0, 0, info.Width, info.Height) || len(img.Pix) != 4*info.Width*info.Height {
			t.Fatalf("image %v (%d bytes) does not match info %+v", img.Rect, len(img.Pix), info)
		}
		if int64(info.Width)*int64(info.Height) > lim.MaxPixels {
			t.Fatalf("decoded %dx%d beyond the pixel limit", info.Width, info.Height)
		}
	})
}

package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Decode decodes an image into straight-alpha NRGBA, upright (EXIF
// orientation applied). The byte and pixel limits are checked on the header
// before the decoder allocates anything.
//
// JPEG and lossy WebP come out of their Go decoders as YCbCr planes; they are
// converted here the way libjpeg-turbo and libwebp do it (see jpegycc.go and
// webpyuv.go) rather than with image/color's nearest-neighbour chroma.
func Decode(data []byte, lim Limits) (*image.NRGBA, Info, error) {
	info, hdr, err := probe(data, lim)
	if err != nil {
		return nil, Info{}, fmt.Errorf("imageio: %w", err)
	}
	m, err := decodeFormat(info.Format, data)
	if err != nil {
		return nil, Info{}, fmt.Errorf("imageio: decode %s: %w", info.Format, err)
	}
	// The header we checked must describe the pixels we got; otherwise the
	// limit check could be bypassed by a file with two disagreeing headers.
	if b := m.Bounds(); info.Format != GIF && (b.Dx() != hdr.width || b.Dy() != hdr.height) {
		return nil, Info{}, fmt.Errorf("imageio: decode %s: %w: header says %dx%d, decoder produced %dx%d",
			info.Format, ErrCorrupt, hdr.width, hdr.height, b.Dx(), b.Dy())
	}
	var out *image.NRGBA
	switch info.Format {
	case GIF:
		out = gifCanvas(m, hdr.width, hdr.height)
	case WebP:
		out = webpToNRGBA(m)
	default:
		out = toNRGBA(m)
	}
	return orient(out, info.Orientation), info, nil
}

// decodeFormat runs the one decoder for f. It converts a panic into
// ErrCorrupt: the decoders are fuzzed upstream, but they parse untrusted
// bytes, and one bad upload must not take the whole worker down with it.
func decodeFormat(f Format, data []byte) (m image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("%w: decoder panicked: %v", ErrCorrupt, r)
		}
	}()
	r := bytes.NewReader(data)
	switch f {
	case JPEG:
		m, err = jpeg.Decode(r)
	case PNG:
		m, err = png.Decode(r)
	case GIF:
		// gif.Decode stops after the first frame.
		m, err = gif.Decode(r)
	case WebP:
		m, err = webp.Decode(r)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, f)
	}
	if err != nil {
		return nil, classify(err)
	}
	return m, nil
}

// classify wraps a decoder error with the matching sentinel.
func classify(err error) error {
	var (
		jpegUnsupported jpeg.UnsupportedError
		pngUnsupported  png.UnsupportedError
	)
	if errors.As(err, &jpegUnsupported) || errors.As(err, &pngUnsupported) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data ends early: %w", ErrCorrupt, err)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// gifCanvas places the first frame on the logical screen, transparent where
// the frame does not reach, which is how browsers show it.
func gifCanvas(m image.Image, w, h int) *image.NRGBA {
	frame := toNRGBA(m)
	fb := m.Bounds()
	if fb.Min == (image.Point{}) && fb.Dx() == w && fb.Dy() == h {
		return frame
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < fb.Dy(); y++ {
		dst := out.Pix[(fb.Min.Y+y)*out.Stride+fb.Min.X*4:]
		copy(dst[:fb.Dx()*4], frame.Pix[y*frame.Stride:])
	}
	return out
}

// toNRGBA converts any decoded image to a tightly packed NRGBA at the origin.
// The common decoder outputs have fast paths; the rest go through image/color.
func toNRGBA(m image.Image) *image.NRGBA {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := m.(type) {
	case *image.NRGBA:
		if b.Min == (image.Point{}) && m.Stride == 4*w {
			return m
		}
		out := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			copy(out.Pix[y*out.Stride:(y+1)*out.Stride], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
		return out
	case *image.YCbCr:
		return jpegYCbCrToNRGBA(m, true)
	case *image.Paletted:
		// Indices beyond the palette stay transparent black rather than
		// panicking as image.Paletted.At would.
		var pal [256][4]byte
		for i, c := range m.Palette[:min(len(m.Palette), 256)] {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [4]byte{n.R, n.G, n.B, n.A}
		}
		out := image.NewNRGBA(image.Rect(0, 0, w, h))
		parallelRows(h, func(y0, y1 int) {
			for y := y0; y < y1; y++ {
				src, dst := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], out.Pix[y*out.Stride:]
				for x := 0; x < w; x++ {
					copy(dst[4*x:4*x+4], pal[src[x]][:])
				}
			}
		})
		return out
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			convertRow(out.Pix[y*out.Stride:(y+1)*out.Stride], m, b.Min.X, b.Min.Y+y)
		}
	})
	return out
}

// convertRow writes one row of m, starting at (x0, y), as NRGBA into dst.
func convertRow(dst []byte, m image.Image, x0, y int) {
	w := len(dst) / 4
	switch m := m.(type) {
	case *image.RGBA:
		src := m.Pix[m.PixOffset(x0, y):]
		for x := 0; x < w; x++ {
			s, d := src[4*x:4*x+4:4*x+4], dst[4*x:4*x+4:4*x+4]
			switch a := s[3]; a {
			case 0xff:
				copy(d, s)
			case 0:
				d[0], d[1], d[2], d[3] = 0, 0, 0, 0
			default:
				// Same arithmetic as color.NRGBAModel, without the interface calls.
				a16 := uint32(a) * 0x101
				d[0] = uint8(uint32(s[0]) * 0x101 * 0xffff / a16 >> 8)
				d[1] = uint8(uint32(s[1]) * 0x101 * 0xffff / a16 >> 8)
				d[2] = uint8(uint32(s[2]) * 0x101 * 0xffff / a16 >> 8)
				d[3] = a
			}
		}
	case *image.Gray:
		src := m.Pix[m.PixOffset(x0, y):]
		for x := 0; x < w; x++ {
			g := src[x]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = g, g, g, 0xff
		}
	case *image.CMYK: // Adobe CMYK JPEGs
		src := m.Pix[m.PixOffset(x0, y):]
		for x := 0; x < w; x++ {
			r, g, b := color.CMYKToRGB(src[4*x], src[4*x+1], src[4*x+2], src[4*x+3])
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = r, g, b, 0xff
		}
	case *image.NRGBA64:
		src := m.Pix[m.PixOffset(x0, y):]
		for x := 0; x < w; x++ {
			// Keep the high byte of each big-endian 16-bit sample.
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = src[8*x], src[8*x+2], src[8*x+4], src[8*x+6]
		}
	default:
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(m.At(x0+x, y)).(color.NRGBA)
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = c.R, c.G, c.B, c.A
		}
	}
}

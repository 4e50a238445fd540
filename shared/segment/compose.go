package segment

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"strings"
	"time"
)

// Options are the output choices a user of a background remover expects; the CLI's flags, the HTTP API's fields
// and the UI's controls all map onto them.
type Options struct {
	// MaskOnly returns the 8-bit mask instead of the cutout.
	MaskOnly bool
	// Background, when set, puts the subject on this solid colour (an opaque result) instead of transparency.
	Background *color.NRGBA
	// Crop trims the result to the subject's bounding box plus CropMargin pixels on each side.
	Crop       bool
	CropMargin int
}

// cropThreshold is the alpha below which a pixel does not count as subject when cropping: ISNet leaves faint
// values of a few units in the background, which would otherwise stretch the box to the whole image.
const cropThreshold = 10

// ParseColor reads "#rrggbb", "rrggbb", "#rgb" or "#rrggbbaa"; the empty string means no colour.
func ParseColor(s string) (*color.NRGBA, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if h == "" {
		return nil, nil
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) == 6 {
		h += "ff"
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 8 || err != nil {
		return nil, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return &color.NRGBA{R: uint8(v >> 24), G: uint8(v >> 16), B: uint8(v >> 8), A: uint8(v)}, nil
}

// Process segments img and composes the result the options ask for. img is consumed: its alpha (and, with a
// background colour, its colour) is overwritten, so that a 10 MP photo needs no second 40 MB buffer. The result is
// an *image.NRGBA or, with MaskOnly, an *image.Gray, at img's size unless Crop.
func (e *Engine) Process(ctx context.Context, img *image.NRGBA, opts Options) (image.Image, Timings, error) {
	if opts.MaskOnly {
		m, t, err := e.Mask(ctx, img)
		if err != nil {
			return nil, t, err
		}
		start := time.Now()
		var out image.Image = m
		if opts.Crop {
			out = m.SubImage(subjectBox(m.Pix, m.Stride, 1, 0, m.Rect, opts.CropMargin))
		}
		t.Postprocess += time.Since(start)
		return out, t, nil
	}
	t, err := e.Cutout(ctx, img)
	if err != nil {
		return nil, t, err
	}
	start := time.Now()
	box := img.Bounds()
	if opts.Crop {
		box = subjectBox(img.Pix, img.Stride, 4, 3, img.Rect, opts.CropMargin)
	}
	if opts.Background != nil {
		flatten(img, *opts.Background)
	}
	t.Postprocess += time.Since(start)
	return img.SubImage(box), t, nil
}

// subjectBox is the bounding box of the pixels whose alpha (at pix[y*stride+x*step+off]) reaches cropThreshold,
// grown by margin and clipped to r. An image with no subject keeps its whole rectangle: an empty PNG helps nobody.
func subjectBox(pix []uint8, stride, step, off int, r image.Rectangle, margin int) image.Rectangle {
	w, h := r.Dx(), r.Dy()
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		row := pix[y*stride+off:]
		first := -1
		for x := 0; x < w; x++ {
			if row[x*step] >= cropThreshold {
				first = x
				break
			}
		}
		if first < 0 {
			continue
		}
		last := first
		for x := w - 1; x > first; x-- {
			if row[x*step] >= cropThreshold {
				last = x
				break
			}
		}
		x0, x1 = min(x0, first), max(x1, last)
		y0 = min(y0, y)
		y1 = y
	}
	if x1 < 0 {
		return r
	}
	box := image.Rect(x0-margin, y0-margin, x1+1+margin, y1+1+margin).Add(r.Min)
	return box.Intersect(r)
}

// flatten composes img over an opaque-ish colour with straight alpha: out = fg·a + bg·(1−a), in 8-bit fixed point.
func flatten(img *image.NRGBA, bg color.NRGBA) {
	b := img.Bounds()
	parallelRows(b.Dy(), func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):][:4*b.Dx()]
			for i := 0; i < len(row); i += 4 {
				a := uint32(row[i+3])
				na := 255 - a
				row[i] = uint8((uint32(row[i])*a + uint32(bg.R)*na + 127) / 255)
				row[i+1] = uint8((uint32(row[i+1])*a + uint32(bg.G)*na + 127) / 255)
				row[i+2] = uint8((uint32(row[i+2])*a + uint32(bg.B)*na + 127) / 255)
				row[i+3] = uint8((a*255 + uint32(bg.A)*na + 127) / 255)
			}
		}
	})
}

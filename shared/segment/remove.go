package segment

import (
	"context"
	"fmt"
	"image"
	"io"
	"time"

	"github.com/backless/backless/shared/imageio"
)

// Remove is the whole path from an encoded image to a PNG: decode (limits checked first, EXIF orientation applied),
// segment, compose as opts say, encode. It is what the CLI, the HTTP API, the job pipeline and the desktop app call.
// Decoding errors wrap imageio's ErrTooLarge, ErrUnsupported or ErrCorrupt so callers can tell the user's fault from
// theirs.
func (e *Engine) Remove(ctx context.Context, data []byte, lim imageio.Limits, opts Options, w io.Writer) (Timings, error) {
	start := time.Now()
	img, _, err := imageio.Decode(data, lim)
	if err != nil {
		return Timings{}, err
	}
	decode := time.Since(start)
	out, t, err := e.Process(ctx, img, opts)
	t.Decode = decode
	if err != nil {
		return t, err
	}
	start = time.Now()
	err = Encode(w, out)
	t.Encode = time.Since(start)
	return t, err
}

// Encode writes a result of Process as PNG: RGBA for a cutout, 8-bit grey for a mask.
func Encode(w io.Writer, img image.Image) error {
	var err error
	switch m := img.(type) {
	case *image.NRGBA:
		err = imageio.EncodePNG(w, m)
	case *image.Gray:
		err = imageio.EncodeGrayPNG(w, m)
	default:
		return fmt.Errorf("encode: unexpected image type %T", img)
	}
	if err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return nil
}

// Package imageio turns untrusted image bytes into pixels and pixels into PNG
// bytes for the segmentation engine.
//
// Decoding is explicit: the format is sniffed from magic bytes and dispatched
// to one decoder (JPEG, PNG, WebP, GIF first frame); nothing depends on the
// image package's global format registry. Dimensions are read from the header
// and checked against Limits before any pixel buffer is allocated, so a
// "decompression bomb" is refused cheaply. EXIF orientation is applied, and
// YCbCr images are converted the way the reference decoders do it
// (libjpeg-turbo for JPEG, libwebp for WebP), because masks are compared
// against a pipeline built on those libraries.
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Format names a supported image container.
type Format string

// The supported formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	WebP Format = "webp"
	GIF  Format = "gif"
)

// Sentinel errors. Every error this package returns for bad input wraps
// exactly one of them, so callers can map errors to HTTP statuses with
// errors.Is.
var (
	// ErrTooLarge: the input exceeds Limits (bytes or pixels).
	ErrTooLarge = errors.New("image too large")
	// ErrUnsupported: not an image, or an image format or feature this
	// package does not decode (e.g. HEIC, animated WebP, arithmetic JPEG).
	ErrUnsupported = errors.New("unsupported image format")
	// ErrCorrupt: the data claims to be a supported image but is empty,
	// truncated or malformed.
	ErrCorrupt = errors.New("corrupt or truncated image")
)

// Default limits. 50 MP covers every phone camera in common use while keeping
// the decoded NRGBA buffer at most 200 MB.
const (
	DefaultMaxPixels int64 = 50_000_000
	DefaultMaxBytes  int64 = 64 << 20
)

// Limits bound what Decode, Probe and ReadAll accept. A field that is zero or
// negative means "use the default".
type Limits struct {
	MaxBytes  int64
	MaxPixels int64
}

// DefaultLimits returns 64 MiB and 50 megapixels.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxPixels: DefaultMaxPixels}
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return l.MaxBytes
}

func (l Limits) maxPixels() int64 {
	if l.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return l.MaxPixels
}

// checkBytes refuses inputs longer than the byte limit.
func (l Limits) checkBytes(n int64) error {
	if limit := l.maxBytes(); n > limit {
		return fmt.Errorf("%w: %d bytes exceeds the limit of %d bytes", ErrTooLarge, n, limit)
	}
	return nil
}

// checkPixels refuses images whose pixel count exceeds the pixel limit.
func (l Limits) checkPixels(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: invalid dimensions %dx%d", ErrCorrupt, w, h)
	}
	if limit, n := l.maxPixels(), int64(w)*int64(h); n > limit {
		return fmt.Errorf("%w: %dx%d is %.1f megapixels, the limit is %.1f",
			ErrTooLarge, w, h, float64(n)/1e6, float64(limit)/1e6)
	}
	return nil
}

// Info describes an image as read from its header.
type Info struct {
	Format Format
	// Width and Height are the displayed size, i.e. after EXIF orientation
	// (swapped for orientations 5 to 8).
	Width, Height int
	// Orientation is the EXIF orientation 1..8; 1 when absent or invalid.
	Orientation int
}

// sniffLen is how many leading bytes Sniff needs to recognise every format.
const sniffLen = 16

// Sniff identifies the format from the first bytes of a file (16 are enough).
// Non-images and image formats this package cannot decode give
// ErrUnsupported; an empty input or a cut-off signature gives ErrCorrupt.
func Sniff(head []byte) (Format, error) {
	switch {
	case len(head) == 0:
		return "", fmt.Errorf("%w: empty input", ErrCorrupt)
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, nil
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, nil
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF, nil
	case len(head) >= 12 && string(head[0:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, nil
	}
	if name := knownOther(head); name != "" {
		return "", fmt.Errorf("%w: %s", ErrUnsupported, name)
	}
	if isPrefixOfSignature(head) {
		return "", fmt.Errorf("%w: only %d bytes, too short to be an image", ErrCorrupt, len(head))
	}
	return "", fmt.Errorf("%w: its first bytes match none of JPEG, PNG, WebP or GIF", ErrUnsupported)
}

// isPrefixOfSignature reports whether a short head could be the start of a
// supported image, i.e. the file was cut off inside the signature.
func isPrefixOfSignature(head []byte) bool {
	sigs := []string{"\xFF\xD8\xFF", "\x89PNG\r\n\x1a\n", "GIF87a", "GIF89a", "RIFF"}
	for _, s := range sigs {
		if len(head) < len(s) && s[:len(head)] == string(head) {
			return true
		}
	}
	// A RIFF header shorter than the 12 bytes that say "WEBP".
	return len(head) < 12 && len(head) >= 4 && string(head[:4]) == "RIFF"
}

// knownOther names common formats we do not decode, so the user gets a more
// useful message than "not an image".
func knownOther(h []byte) string {
	has := func(off int, s string) bool {
		return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s
	}
	switch {
	case has(4, "ftypheic"), has(4, "ftypheix"), has(4, "ftyphevc"), has(4, "ftypmif1"), has(4, "ftypmsf1"):
		return "HEIC/HEIF images are not supported"
	case has(4, "ftypavif"), has(4, "ftypavis"):
		return "AVIF images are not supported"
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return "TIFF images are not supported"
	case has(0, "BM"):
		return "BMP images are not supported"
	case has(0, "%PDF"):
		return "a PDF is not an image"
	case has(0, "<svg"), has(0, "<?xml"):
		return "SVG/XML is not supported"
	}
	return ""
}

// ReadAll reads r to the end, refusing with ErrTooLarge as soon as more than
// lim.MaxBytes have arrived; it never buffers more than MaxBytes+1 bytes.
func ReadAll(r io.Reader, lim Limits) ([]byte, error) {
	limit := lim.maxBytes()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("imageio: read input: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

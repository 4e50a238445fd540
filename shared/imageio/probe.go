package imageio

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// header is what the format-specific header readers find: the stored
// (pre-orientation) size and the EXIF orientation.
type header struct {
	width, height int
	orientation   int
}

// Probe reads only the header of an image: its format, its displayed size and
// its EXIF orientation. It enforces the byte and pixel limits, so a caller can
// refuse an upload before queueing any decoding work. Probe does not prove
// that the pixel data is intact; Decode does.
func Probe(data []byte, lim Limits) (Info, error) {
	info, _, err := probe(data, lim)
	return info, err
}

// probe also returns the stored size, which Decode checks the decoder's
// output against.
func probe(data []byte, lim Limits) (Info, header, error) {
	if err := lim.checkBytes(int64(len(data))); err != nil {
		return Info{}, header{}, err
	}
	f, err := Sniff(data[:min(len(data), sniffLen)])
	if err != nil {
		return Info{}, header{}, err
	}
	var h header
	switch f {
	case JPEG:
		h, err = jpegHeader(data)
	case PNG:
		h, err = pngHeader(data)
	case GIF:
		h, err = gifHeader(data)
	case WebP:
		h, err = webpHeader(data)
	}
	if err != nil {
		return Info{}, header{}, fmt.Errorf("%s header: %w", f, err)
	}
	if h.orientation < 1 || h.orientation > 8 {
		h.orientation = 1
	}
	if err := lim.checkPixels(h.width, h.height); err != nil {
		return Info{}, header{}, fmt.Errorf("%s: %w", f, err)
	}
	info := Info{Format: f, Width: h.width, Height: h.height, Orientation: h.orientation}
	if h.orientation >= 5 {
		info.Width, info.Height = h.height, h.width
	}
	return info, h, nil
}

// jpegHeader walks the marker segments up to the first scan, collecting the
// frame size from the SOF segment and the orientation from an APP1 Exif
// segment. It also refuses the coding processes Go's decoder lacks, so that
// the server can answer "unsupported" at upload time rather than the worker
// failing later.
func jpegHeader(b []byte) (header, error) {
	h := header{orientation: 1}
	sawSOF, sawExif := false, false
	i := 2 // after SOI
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		for i < len(b) && b[i] != 0xFF {
			// Garbage between segments: libjpeg warns and skips it; so do we.
			i++
		}
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			break
		}
		m := b[i]
		i++
		switch {
		case m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01:
			continue // standalone markers without a length
		case m == 0xD9: // EOI before any scan
			if !sawSOF {
				return h, fmt.Errorf("%w: no frame header before end of image", ErrCorrupt)
			}
			return h, nil
		}
		if i+2 > len(b) {
			break
		}
		segLen := int(binary.BigEndian.Uint16(b[i:]))
		if segLen < 2 || i+segLen > len(b) {
			break
		}
		seg := b[i+2 : i+segLen]
		i += segLen
		switch {
		case m == 0xE1 && !sawExif && bytes.HasPrefix(seg, []byte(exifHeader)):
			sawExif = true
			h.orientation = exifOrientation(seg)
		case isSOF(m):
			if sawSOF {
				return h, fmt.Errorf("%w: more than one frame header", ErrCorrupt)
			}
			sawSOF = true
			if len(seg) < 6 {
				return h, fmt.Errorf("%w: short frame header", ErrCorrupt)
			}
			switch m {
			case 0xC0, 0xC1, 0xC2: // baseline, extended sequential, progressive Huffman
			case 0xC3, 0xC7, 0xCB, 0xCF:
				return h, fmt.Errorf("%w: lossless JPEG", ErrUnsupported)
			case 0xC9, 0xCA, 0xCD, 0xCE:
				return h, fmt.Errorf("%w: arithmetic-coded JPEG", ErrUnsupported)
			default:
				return h, fmt.Errorf("%w: JPEG coding process SOF%d", ErrUnsupported, m-0xC0)
			}
			if seg[0] != 8 {
				return h, fmt.Errorf("%w: %d-bit JPEG", ErrUnsupported, seg[0])
			}
			h.height = int(binary.BigEndian.Uint16(seg[1:]))
			h.width = int(binary.BigEndian.Uint16(seg[3:]))
			if h.height == 0 {
				return h, fmt.Errorf("%w: JPEG with height defined by a DNL marker", ErrUnsupported)
			}
		case m == 0xDA: // start of scan: no more header segments
			if !sawSOF {
				return h, fmt.Errorf("%w: scan before frame header", ErrCorrupt)
			}
			return h, nil
		}
	}
	if sawSOF {
		// The header was readable; the cut-off pixel data is Decode's to report.
		return h, nil
	}
	return h, fmt.Errorf("%w: no frame header found", ErrCorrupt)
}

// isSOF reports whether m is one of the thirteen start-of-frame markers
// (0xC0..0xCF except DHT 0xC4, JPG 0xC8 and DAC 0xCC).
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// pngHeader reads IHDR and looks for an eXIf chunk before the first IDAT
// (where the PNG specification puts it).
func pngHeader(b []byte) (header, error) {
	h := header{orientation: 1}
	const sigLen = 8
	if len(b) < sigLen+8+13 {
		return h, fmt.Errorf("%w: %d bytes is too short for a PNG", ErrCorrupt, len(b))
	}
	ihdr := b[sigLen:]
	if binary.BigEndian.Uint32(ihdr) != 13 || string(ihdr[4:8]) != "IHDR" {
		return h, fmt.Errorf("%w: first chunk is not IHDR", ErrCorrupt)
	}
	w, ht := binary.BigEndian.Uint32(ihdr[8:]), binary.BigEndian.Uint32(ihdr[12:])
	if w == 0 || ht == 0 || w > 1<<31-1 || ht > 1<<31-1 {
		return h, fmt.Errorf("%w: invalid PNG size %dx%d", ErrCorrupt, w, ht)
	}
	h.width, h.height = int(w), int(ht)
	for i := sigLen; i+8 <= len(b); {
		n := int64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		end := int64(i) + 8 + n + 4 // data and CRC
		if typ == "IDAT" || typ == "IEND" || end > int64(len(b)) {
			break
		}
		if typ == "eXIf" {
			h.orientation = exifOrientation(b[i+8 : int64(i)+8+n])
			break
		}
		i = int(end)
	}
	return h, nil
}

// gifHeader reads the logical screen size. Go's decoder refuses frames that
// do not fit inside it, so it bounds the first frame too.
func gifHeader(b []byte) (header, error) {
	if len(b) < 10 {
		return header{}, fmt.Errorf("%w: %d bytes is too short for a GIF", ErrCorrupt, len(b))
	}
	return header{
		width:       int(binary.LittleEndian.Uint16(b[6:])),
		height:      int(binary.LittleEndian.Uint16(b[8:])),
		orientation: 1,
	}, nil
}

// webpHeader reads the canvas size from the first chunk (VP8, VP8L or VP8X)
// and, for the extended format, the orientation from an EXIF chunk.
func webpHeader(b []byte) (header, error) {
	h := header{orientation: 1}
	if len(b) < 12+8 {
		return h, fmt.Errorf("%w: %d bytes is too short for a WebP", ErrCorrupt, len(b))
	}
	// Only the chunks inside the RIFF size count; trailing bytes are ignored.
	end := min(int64(binary.LittleEndian.Uint32(b[4:]))+8, int64(len(b)))
	chunk := func(i int64) (string, []byte, int64, bool) {
		if i+8 > end {
			return "", nil, 0, false
		}
		n := int64(binary.LittleEndian.Uint32(b[i+4:]))
		if i+8+n > end {
			return "", nil, 0, false
		}
		// Chunks are padded to an even length.
		return string(b[i : i+4]), b[i+8 : i+8+n], i + 8 + n + n&1, true
	}
	fourcc, data, next, ok := chunk(12)
	if !ok {
		return h, fmt.Errorf("%w: truncated first chunk", ErrCorrupt)
	}
	switch fourcc {
	case "VP8 ":
		// Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and
		// height, each with 2 scaling bits on top that do not change the
		// decoded size.
		if len(data) < 10 || data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a {
			return h, fmt.Errorf("%w: bad VP8 frame header", ErrCorrupt)
		}
		if data[0]&1 != 0 {
			return h, fmt.Errorf("%w: first VP8 frame is not a key frame", ErrCorrupt)
		}
		h.width = int(binary.LittleEndian.Uint16(data[6:]) & 0x3fff)
		h.height = int(binary.LittleEndian.Uint16(data[8:]) & 0x3fff)
	case "VP8L":
		// Signature 0x2f, then 14 bits width-1 and 14 bits height-1.
		if len(data) < 5 || data[0] != 0x2f {
			return h, fmt.Errorf("%w: bad VP8L header", ErrCorrupt)
		}
		v := binary.LittleEndian.Uint32(data[1:])
		h.width = int(v&0x3fff) + 1
		h.height = int(v>>14&0x3fff) + 1
	case "VP8X":
		if len(data) < 10 {
			return h, fmt.Errorf("%w: short VP8X chunk", ErrCorrupt)
		}
		const animationBit, exifBit = 1 << 1, 1 << 3
		if data[0]&animationBit != 0 {
			return h, fmt.Errorf("%w: animated WebP", ErrUnsupported)
		}
		u24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
		h.width, h.height = u24(data[4:])+1, u24(data[7:])+1
		if data[0]&exifBit != 0 {
			for i := next; ; {
				fourcc, data, n, ok := chunk(i)
				if !ok {
					break
				}
				if fourcc == "EXIF" {
					h.orientation = exifOrientation(data)
					break
				}
				i = n
			}
		}
	default:
		return h, fmt.Errorf("%w: unknown first WebP chunk %q", ErrCorrupt, fourcc)
	}
	return h, nil
}

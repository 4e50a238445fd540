package httpapi

import (
	"bytes"
	"encoding/binary"

	"github.com/backless/backless/shared/imageio"
)

// complete reports whether an upload holds a whole image of the given format, by walking its container structure
// without decoding any pixel. imageio.Probe only reads the header, so a file cut off during upload would otherwise
// be accepted, queued and only fail in the worker; this check refuses it at once, in time linear in the size and
// with no allocation. It follows what the decoders themselves need: a JPEG up to its end-of-image marker, a PNG up
// to IEND, a GIF's first frame, a WebP's whole RIFF container. Data after that end (some cameras append a video)
// is allowed, as the decoders allow it.
//
// (It belongs beside imageio.Probe; it lives here until that package takes it.)
func complete(f imageio.Format, b []byte) bool {
	switch f {
	case imageio.JPEG:
		return jpegComplete(b)
	case imageio.PNG:
		return pngComplete(b)
	case imageio.GIF:
		return gifComplete(b)
	case imageio.WebP:
		return webpComplete(b)
	}
	return false
}

func jpegComplete(b []byte) bool {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return false
	}
	i := 2
	for {
		if i >= len(b) || b[i] != 0xFF {
			return false
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return false
		}
		m := b[i]
		i++
		switch {
		case m == 0xD9: // end of image
			return true
		case m == 0x01 || m >= 0xD0 && m <= 0xD7: // markers without a length
			continue
		}
		if i+2 > len(b) {
			return false
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return false
		}
		i += n
		if m != 0xDA {
			continue
		}
		// Start of scan: entropy-coded data follows up to the next marker. In it a 0xFF is always followed by a
		// stuffed 0x00 or a restart marker, so the first other 0xFFxx is the next segment.
		for {
			k := bytes.IndexByte(b[i:], 0xFF)
			if k < 0 {
				return false
			}
			i += k
			if i+1 >= len(b) {
				return false
			}
			next := b[i+1]
			if next == 0x00 || next >= 0xD0 && next <= 0xD7 {
				i += 2
				continue
			}
			if next == 0xFF { // fill byte before a marker
				i++
				continue
			}
			break
		}
	}
}

func pngComplete(b []byte) bool {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(b) < len(sig) || string(b[:len(sig)]) != sig {
		return false
	}
	i := len(sig)
	for i+8 <= len(b) {
		n := int64(binary.BigEndian.Uint32(b[i:]))
		typ := string(b[i+4 : i+8])
		end := int64(i) + 12 + n // length, type, data, CRC
		if end > int64(len(b)) {
			return false
		}
		if typ == "IEND" {
			return true
		}
		i = int(end)
	}
	return false
}

// gifComplete checks the blocks up to the end of the first image, which is all the decoder reads.
func gifComplete(b []byte) bool {
	if len(b) < 13 {
		return false
	}
	i := 13
	if b[10]&0x80 != 0 { // global colour table
		i += 3 << (b[10]&0x07 + 1)
	}
	subBlocks := func() bool {
		for i < len(b) {
			n := int(b[i])
			i += 1 + n
			if n == 0 {
				return i <= len(b)
			}
		}
		return false
	}
	for i < len(b) {
		switch b[i] {
		case 0x21: // extension: label, then sub-blocks
			i += 2
			if !subBlocks() {
				return false
			}
		case 0x2C: // image descriptor, optional local colour table, LZW minimum code size, image data
			if i+10 > len(b) {
				return false
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << (flags&0x07 + 1)
			}
			i++ // LZW minimum code size
			return subBlocks()
		case 0x3B: // trailer before any image: complete, though the decoder will find nothing to decode
			return true
		default:
			return false
		}
	}
	return false
}

func webpComplete(b []byte) bool {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return false
	}
	size := int64(binary.LittleEndian.Uint32(b[4:8]))
	return int64(len(b)) >= 8+size
}

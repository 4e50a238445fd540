package imageio

import (
	"bytes"
	"encoding/binary"
)

// exifHeader prefixes the TIFF structure inside a JPEG APP1 segment. PNG eXIf
// and WebP EXIF chunks should start directly with the TIFF header, but some
// writers keep the prefix there too, so it is accepted everywhere.
const exifHeader = "Exif\x00\x00"

const tagOrientation = 0x0112

// exifOrientation extracts the Orientation tag (0x0112) from IFD0 of an EXIF
// block. Only that one tag matters here, so this is a bounds-checked walk of
// one IFD rather than a general EXIF parser. Anything missing, malformed or
// out of range yields 1 (as browsers do): a broken EXIF block must not make
// an otherwise good image undecodable.
func exifOrientation(b []byte) int {
	b = bytes.TrimPrefix(b, []byte(exifHeader))
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 1
	}
	ifd := int64(bo.Uint32(b[4:8]))
	if ifd < 8 || ifd+2 > int64(len(b)) {
		return 1
	}
	n := int64(bo.Uint16(b[ifd:]))
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 1
		}
		if bo.Uint16(b[e:]) != tagOrientation {
			continue
		}
		typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		var v int
		switch {
		case typ == 3 && count >= 1: // SHORT, stored left-aligned in the value field
			v = int(bo.Uint16(b[e+8:]))
		case typ == 4 && count >= 1: // LONG: not what the spec says, but seen in the wild
			v = int(bo.Uint32(b[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}

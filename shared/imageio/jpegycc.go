package imageio

import (
	"image"
	"image/color"
)

// JPEG colour conversion, bit-compatible with libjpeg-turbo's default
// decompression path (which sharp/libvips uses):
//
//   - Chroma upsampling is libjpeg's "fancy" triangle filter for 2x1 (4:2:2),
//     2x2 (4:2:0) and 1x2 (4:4:0) subsampling, with its ordered-dither
//     rounding biases and edge replication (jdsample.c). Go's image/color
//     simply repeats each chroma sample (a box filter), which shifts colours
//     along every edge by up to a pixel.
//   - YCbCr -> RGB uses libjpeg's 16-bit fixed-point constants and rounding
//     (jdcolor.c), which differ from image/color's in the last bit.
//
// What remains different from djpeg is Go's IDCT, which is not libjpeg's
// "islow" one; the test against djpeg output measures that residue.

// libjpeg's FIX(x) = round(x * 2^16) for the four conversion coefficients.
const (
	yccScaleBits = 16
	yccHalf      = 1 << (yccScaleBits - 1)
	fix1_40200   = 91881  // Cr -> R
	fix1_77200   = 116130 // Cb -> B
	fix0_71414   = 46802  // Cr -> G
	fix0_34414   = 22554  // Cb -> G
)

// yccTables are libjpeg's per-sample lookup tables (build_ycc_rgb_table). They
// are built per conversion (a microsecond) rather than kept in a global.
type yccTables struct {
	crR, cbB, crG, cbG [256]int32
}

func newYCCTables() *yccTables {
	t := new(yccTables)
	for i := range 256 {
		x := int32(i - 128)
		t.crR[i] = (fix1_40200*x + yccHalf) >> yccScaleBits
		t.cbB[i] = (fix1_77200*x + yccHalf) >> yccScaleBits
		t.crG[i] = -fix0_71414 * x
		t.cbG[i] = -fix0_34414*x + yccHalf
	}
	return t
}

// clamp8 is libjpeg's range_limit.
func clamp8(v int32) uint8 {
	if uint32(v) <= 255 {
		return uint8(v)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// row converts one row of full-resolution Y, Cb, Cr samples to opaque NRGBA.
func (t *yccTables) row(dst, y, cb, cr []byte) {
	dst = dst[:4*len(y)]
	cb, cr = cb[:len(y)], cr[:len(y)]
	for x, yv := range y {
		yy := int32(yv)
		b, r := cb[x], cr[x]
		d := dst[4*x : 4*x+4 : 4*x+4]
		d[0] = clamp8(yy + t.crR[r])
		d[1] = clamp8(yy + (t.cbG[b]+t.crG[r])>>yccScaleBits)
		d[2] = clamp8(yy + t.cbB[b])
		d[3] = 0xff
	}
}

// subsampleShifts gives log2 of the horizontal and vertical chroma factors.
func subsampleShifts(r image.YCbCrSubsampleRatio) (hs, vs uint, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// jpegYCbCrToNRGBA converts a decoded JPEG to NRGBA, in parallel bands of
// rows. With fancy=false the chroma is replicated (libjpeg's
// do_fancy_upsampling=FALSE, i.e. djpeg -nosmooth), which the tests use as
// the baseline that fancy upsampling has to beat.
func jpegYCbCrToNRGBA(m *image.YCbCr, fancy bool) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	hs, vs, ok := subsampleShifts(m.SubsampleRatio)
	if !ok || m.Rect.Min != (image.Point{}) {
		// Not produced by image/jpeg; convert generically.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(m.At(m.Rect.Min.X+x, m.Rect.Min.Y+y)).(color.NRGBA)
				out.SetNRGBA(x, y, c)
			}
		}
		return out
	}
	// The chroma planes of image/jpeg's output are padded to whole MCUs;
	// libjpeg only looks at the ceil(size/factor) real samples and
	// replicates the last one, so that is the extent used here too.
	cw, ch := (w+1<<hs-1)>>hs, (h+1<<vs-1)>>vs
	// libjpeg falls back to replication for components two samples wide or
	// less, and only has triangle filters for factors of 1 and 2.
	mode := upNearest
	if fancy {
		switch {
		case hs == 1 && vs == 1 && cw > 2:
			mode = up2x2
		case hs == 1 && vs == 0 && cw > 2:
			mode = up2x1
		case hs == 0 && vs == 1:
			mode = up1x2
		}
	}
	t := newYCCTables()
	parallelRows(h, func(y0, y1 int) {
		ups := [2]upsampler{
			newUpsampler(mode, hs, cw, w),
			newUpsampler(mode, hs, cw, w),
		}
		planes := [2][]byte{m.Cb, m.Cr}
		var rows [2][]byte
		for y := y0; y < y1; y++ {
			// The nearest chroma row and, for vertical filtering, the next
			// nearest: above for even rows, below for odd rows, clamped to
			// the image (libjpeg's context rows replicate the edge rows).
			near := y >> vs
			far := near
			if vs == 1 {
				if y&1 == 0 {
					far = max(near-1, 0)
				} else {
					far = min(near+1, ch-1)
				}
			}
			for c, p := range planes {
				rows[c] = ups[c].row(p[near*m.CStride:near*m.CStride+cw], p[far*m.CStride:far*m.CStride+cw], y)
			}
			t.row(out.Pix[y*out.Stride:], m.Y[y*m.YStride:y*m.YStride+w], rows[0], rows[1])
		}
	})
	return out
}

type upMode int

const (
	upNearest upMode = iota // replicate samples (also for 4:4:4, where it is a copy)
	up2x1                   // libjpeg h2v1_fancy_upsample (4:2:2)
	up2x2                   // libjpeg h2v2_fancy_upsample (4:2:0)
	up1x2                   // libjpeg h1v2_fancy_upsample (4:4:0)
)

// upsampler turns chroma rows into one full-resolution row, reusing its
// buffers from row to row. One per goroutine and plane.
type upsampler struct {
	mode upMode
	hs   uint
	w    int
	out  []byte  // the upsampled row; 2*cw may exceed w by one
	sum  []int32 // 4:2:0 column sums
}

func newUpsampler(mode upMode, hs uint, cw, w int) upsampler {
	u := upsampler{mode: mode, hs: hs, w: w, out: make([]byte, max(cw<<hs, w))}
	if mode == up2x2 {
		u.sum = make([]int32, cw)
	}
	return u
}

// row upsamples the chroma row near (and far, for vertical filters) for the
// output row y.
func (u *upsampler) row(near, far []byte, y int) []byte {
	out := u.out
	cw := len(near)
	switch u.mode {
	case up2x2:
		// Vertical 3:1 into column sums, then horizontal 3:1, with rounding
		// biases 8 and 7 alternating as libjpeg's ordered dither.
		sum := u.sum[:cw]
		far = far[:cw]
		for i, n := range near {
			sum[i] = 3*int32(n) + int32(far[i])
		}
		last := sum[0]
		for i := 0; i < cw-1; i++ {
			this, next := sum[i], sum[i+1]
			out[2*i] = uint8((3*this + last + 8) >> 4)
			out[2*i+1] = uint8((3*this + next + 7) >> 4)
			last = this
		}
		this := sum[cw-1]
		out[2*cw-2] = uint8((3*this + last + 8) >> 4)
		out[2*cw-1] = uint8((4*this + 7) >> 4)
	case up2x1:
		last := int32(near[0])
		for i := 0; i < cw-1; i++ {
			this, next := 3*int32(near[i]), int32(near[i+1])
			out[2*i] = uint8((this + last + 1) >> 2)
			out[2*i+1] = uint8((this + next + 2) >> 2)
			last = int32(near[i])
		}
		this := int32(near[cw-1])
		out[2*cw-2] = uint8((3*this + last + 1) >> 2)
		out[2*cw-1] = uint8(this)
	case up1x2:
		// libjpeg-turbo alternates the bias by output row (1 above, 2 below).
		bias := int32(1)
		if y&1 == 1 {
			bias = 2
		}
		far = far[:cw]
		for i, n := range near {
			out[i] = uint8((3*int32(n) + int32(far[i]) + bias) >> 2)
		}
	default:
		if u.hs == 0 {
			return near
		}
		for x := range out[:u.w] {
			out[x] = near[x>>u.hs]
		}
	}
	return out[:u.w]
}

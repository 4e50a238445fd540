package imageio

import "image"

// Lossy WebP colour conversion, bit-compatible with libwebp's default
// decoding (dwebp, sharp/libvips): "fancy" 2x2 chroma upsampling
// (src/dsp/upsampling.c) and the BT.601 limited-range YUV -> RGB conversion
// in 14-bit fixed point (src/dsp/yuv.h). golang.org/x/image/webp decodes the
// VP8 planes exactly but returns them as image.YCbCr, whose conversion
// assumes full-range JPEG YCbCr and replicates chroma: colours would come out
// with visibly less contrast than in any browser.

// webpToNRGBA converts the output of webp.Decode.
func webpToNRGBA(m image.Image) *image.NRGBA {
	switch m := m.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpYUVToNRGBA(m, nil, 0)
		}
	case *image.NYCbCrA:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 && m.Rect.Min == (image.Point{}) {
			return webpYUVToNRGBA(&m.YCbCr, m.A, m.AStride)
		}
	}
	// Lossless WebP is NRGBA already.
	return toNRGBA(m)
}

// webpYUVToNRGBA converts 4:2:0 VP8 planes plus an optional alpha plane.
func webpYUVToNRGBA(m *image.YCbCr, alpha []byte, alphaStride int) *image.NRGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, func(y0, y1 int) {
		u, v := make([]byte, w), make([]byte, w)
		for y := y0; y < y1; y++ {
			// libwebp pairs output rows 2k-1 and 2k between chroma rows k-1
			// and k; the first row, and the last one of an even height, use
			// a single chroma row. That is: the nearest chroma row is y/2,
			// the other one is above for even y and below for odd y,
			// clamped at the edges.
			near := y >> 1
			far := near
			if y&1 == 0 {
				far = max(near-1, 0)
			} else {
				far = min(near+1, ch-1)
			}
			webpUpsampleRow(u, m.Cb[near*m.CStride:near*m.CStride+cw], m.Cb[far*m.CStride:far*m.CStride+cw])
			webpUpsampleRow(v, m.Cr[near*m.CStride:near*m.CStride+cw], m.Cr[far*m.CStride:far*m.CStride+cw])
			var a []byte
			if alpha != nil {
				a = alpha[y*alphaStride : y*alphaStride+w]
			}
			webpRow(out.Pix[y*out.Stride:], m.Y[y*m.YStride:y*m.YStride+w], u, v, a)
		}
	})
	return out
}

// webpUpsampleRow is libwebp's UPSAMPLE_FUNC for one output row: near is the
// chroma row weighted 3/4, far the one weighted 1/4. Its exact sequence of
// truncating shifts is reproduced, since (9a+3b+3c+d+8)/16 alone differs in
// the last bit.
func webpUpsampleRow(dst, near, far []byte) {
	w := len(dst)
	far = far[:len(near)]
	dst[0] = uint8((3*uint32(near[0]) + uint32(far[0]) + 2) >> 2)
	for k := 1; k <= (w-1)>>1; k++ {
		n0, n1 := uint32(near[k-1]), uint32(near[k])
		f0, f1 := uint32(far[k-1]), uint32(far[k])
		avg := n0 + n1 + f0 + f1 + 8
		// Pixel 2k-1 is nearest to column k-1, pixel 2k to column k; each
		// "diagonal" is the pair of samples adjacent to the nearest one.
		diagA := (avg + 2*(n1+f0)) >> 3
		diagB := (avg + 2*(n0+f1)) >> 3
		dst[2*k-1] = uint8((diagA + n0) >> 1)
		dst[2*k] = uint8((diagB + n1) >> 1)
	}
	if w&1 == 0 {
		k := w/2 - 1
		dst[w-1] = uint8((3*uint32(near[k]) + uint32(far[k]) + 2) >> 2)
	}
}

// webpRow is libwebp's VP8YuvToRgb: R = (19077·y + 26149·v - 14234) >> 6 and
// so on, where a·b = (a*b) >> 8.
func webpRow(dst, y, u, v, a []byte) {
	dst = dst[:4*len(y)]
	u, v = u[:len(y)], v[:len(y)]
	for x, yv := range y {
		yy := int32(yv) * 19077 >> 8
		uu, vv := int32(u[x]), int32(v[x])
		d := dst[4*x : 4*x+4 : 4*x+4]
		d[0] = webpClip(yy + vv*26149>>8 - 14234)
		d[1] = webpClip(yy - uu*6419>>8 - vv*13320>>8 + 8708)
		d[2] = webpClip(yy + uu*33050>>8 - 17685)
		if a != nil {
			d[3] = a[x]
		} else {
			d[3] = 0xff
		}
	}
}

// webpClip is libwebp's VP8Clip8: drop the 6 fractional bits and saturate.
func webpClip(v int32) uint8 {
	const mask = 256<<6 - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

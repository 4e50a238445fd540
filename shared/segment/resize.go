package segment

import (
	"math"
	"runtime"
	"sync"
)

// The resampling here is the one of the reference pipeline (@imgly/background-removal-node 1.4.5,
// tensorResizeBilinear), reproduced operation for operation so that masks agree with it to the last bit where the
// input pixels agree: source coordinate s = x·(src/dst) with no half-pixel offset, x1 = floor(s),
// x2 = min(ceil(s), src−1), weights from s−x1, the four-term sum evaluated in float64 in the same order, and the
// result rounded half up to 8 bits. Each product is converted explicitly so that the compiler may not fuse it into an
// FMA, which would change the last bit of some sums.

// axis holds, for each destination coordinate, the two source coordinates and the weight of the second.
type axis struct {
	lo, hi []int32
	w      []float64
}

func newAxis(src, dst int) axis {
	a := axis{lo: make([]int32, dst), hi: make([]int32, dst), w: make([]float64, dst)}
	scale := float64(src) / float64(dst)
	for x := 0; x < dst; x++ {
		s := float64(x) * scale
		x1 := math.Max(math.Floor(s), 0)
		x2 := math.Min(math.Ceil(s), float64(src-1))
		a.lo[x], a.hi[x], a.w[x] = int32(x1), int32(x2), s-x1
	}
	return a
}

// lerp2 is the reference's interpolation of one value, rounded as Math.round does for non-negative numbers.
func lerp2(p1, p2, p3, p4 uint8, dx, dy float64) uint8 {
	v := float64(float64((1-dx)*(1-dy))*float64(p1)) +
		float64(float64(dx*(1-dy))*float64(p2)) +
		float64(float64((1-dx)*dy)*float64(p3)) +
		float64(float64(dx*dy)*float64(p4))
	return uint8(math.Floor(v + 0.5))
}

// parallelRows splits [0,n) into contiguous bands, one per available CPU, and waits for them. Bands are large, so the
// goroutine cost is negligible next to the per-row work.
func parallelRows(n int, fn func(y0, y1 int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	band := (n + workers - 1) / workers
	for y0 := 0; y0 < n; y0 += band {
		y1 := min(y0+band, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(y0, y1)
		}()
	}
	wg.Wait()
}

// resizeRGBToPlanes samples an interleaved 8-bit image (bytes per pixel bpp ≥ 3, channels R,G,B first) to size×size
// with the reference bilinear, and writes the three resized channels as planes: planes[c*size*size + y*size + x].
func resizeRGBToPlanes(pix []uint8, stride, bpp, w, h, size int, planes []uint8) {
	ax, ay := newAxis(w, size), newAxis(h, size)
	plane := size * size
	parallelRows(size, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			r1 := pix[int(ay.lo[y])*stride:]
			r2 := pix[int(ay.hi[y])*stride:]
			dy := ay.w[y]
			o := y * size
			for x := 0; x < size; x++ {
				i1, i2 := int(ax.lo[x])*bpp, int(ax.hi[x])*bpp
				dx := ax.w[x]
				for c := 0; c < 3; c++ {
					planes[c*plane+o+x] = lerp2(r1[i1+c], r1[i2+c], r2[i1+c], r2[i2+c], dx, dy)
				}
			}
		}
	})
}

// resizeMask scales a size×size 8-bit mask to w×h with the reference bilinear, writing value (x,y) to
// dst[y*stride + x*step + off]; step 4 and off 3 write straight into the alpha of an RGBA buffer.
func resizeMask(src []uint8, size, w, h int, dst []uint8, stride, step, off int) {
	ax, ay := newAxis(size, w), newAxis(size, h)
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			r1 := src[int(ay.lo[y])*size:]
			r2 := src[int(ay.hi[y])*size:]
			dy := ay.w[y]
			d := dst[y*stride+off:]
			for x := 0; x < w; x++ {
				x1, x2 := ax.lo[x], ax.hi[x]
				p1, p2, p3, p4 := r1[x1], r1[x2], r2[x1], r2[x2]
				if p1 == p2 && p3 == p4 && p1 == p3 {
					// Flat neighbourhood (most of a mask: all background or all subject): the weighted sum is p
					// within rounding error, so the rounded result is p. This skips the arithmetic for most pixels.
					d[x*step] = p1
					continue
				}
				d[x*step] = lerp2(p1, p2, p3, p4, ax.w[x], dy)
			}
		}
	})
}

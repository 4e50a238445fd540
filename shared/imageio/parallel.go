package imageio

import (
	"runtime"
	"sync"
)

// minParallelRows is the smallest band worth a goroutine: below a few hundred
// thousand pixels the hand-off costs more than it saves.
const minParallelRows = 64

// parallelRows splits the rows [0, h) into one contiguous band per usable CPU
// and calls fn on each band concurrently, returning when all are done. The
// per-pixel work in this package is row-local, so bands need no locking.
func parallelRows(h int, fn func(y0, y1 int)) {
	n := min(runtime.GOMAXPROCS(0), h/minParallelRows)
	if n <= 1 {
		fn(0, h)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		y0, y1 := h*i/n, h*(i+1)/n
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(y0, y1)
		}()
	}
	wg.Wait()
}

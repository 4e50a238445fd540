//go:build unix

package imageio

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU time this process has used. The
// benchmarks report it per operation because, unlike wall time, it does not
// depend on what else the (shared, two-core) machine is doing.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

//go:build !linux

package segment

// pinMmapThreshold is a glibc tuning; other platforms' allocators return large blocks on their own.
func pinMmapThreshold() {}

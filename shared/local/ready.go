package local

import (
	"context"
	"fmt"
	"os"
)

// Check reports whether the store's folder still takes writes: /readyz asks, so that a full disk, a folder removed
// under the process or a read-only mount shows there rather than as failed uploads.
func (s *Store) Check(context.Context) error {
	if err := writable(s.dir); err != nil {
		return fmt.Errorf("local store: %w", err)
	}
	return nil
}

// Check reports whether the blobs' folder still takes writes, as Store.Check does for its own.
func (b *Blobs) Check(context.Context) error {
	if err := writable(b.dir); err != nil {
		return fmt.Errorf("local blobs: %w", err)
	}
	return nil
}

// writable creates, writes and removes a small file in dir. Its name ends in tmpSuffix, as the folders' own
// interrupted writes do, so a probe cut short by a crash in the store's folder is cleared by the next OpenStore.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".ready-*"+tmpSuffix)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("ok\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return err
}

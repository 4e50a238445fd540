package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/backless/backless/shared/job"
)

var _ job.Blobs = (*Blobs)(nil)

// Blobs is a job.Blobs in a folder: key "jobs/<id>/cutout.png" is the file <dir>/jobs/<id>/cutout.png. Writes go to a
// temporary file renamed into place, so a reader never sees a half-written blob.
type Blobs struct {
	dir string
}

// NewBlobs uses (and creates if needed) the folder dir.
func NewBlobs(dir string) (*Blobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local blobs: create %s: %w", dir, err)
	}
	return &Blobs{dir: dir}, nil
}

// path maps a key to a file, refusing keys that could leave the folder. Keys are made by the program, never by
// users, so a bad one is a bug; the check is a second line of defence.
func (b *Blobs) path(key string) (string, error) {
	if !fs.ValidPath(key) || key == "." || strings.ContainsAny(key, `\:`) {
		return "", fmt.Errorf("local blobs: invalid key %q", key)
	}
	return filepath.Join(b.dir, filepath.FromSlash(key)), nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put writes the blob. If size >= 0 the body must have exactly that many bytes.
func (b *Blobs) Put(ctx context.Context, key string, r io.Reader, size int64, _ string) (err error) {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(p)+".*"+tmpSuffix)
	if err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	src := io.Reader(ctxReader{ctx: ctx, r: r})
	if size >= 0 {
		// One byte more than announced is enough to tell the body is too long.
		src = io.LimitReader(src, size+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("local blobs: put %s: body has %d bytes, %d announced", key, n, size)
	}
	// Synced like the job files: a job accepted before a power cut must still have its original afterwards.
	if err = f.Sync(); err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	if err = os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("local blobs: put %s: %w", key, err)
	}
	if err = syncDir(dir); err != nil {
		return fmt.Errorf("local blobs: put %s: sync folder: %w", key, err)
	}
	return nil
}

// Get opens the blob. The reader is an *os.File, so a server can type-assert io.ReadSeeker and serve ranges.
func (b *Blobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("local blobs: get %s: %w", key, job.NotFound("blob"))
	}
	if err != nil {
		return nil, fmt.Errorf("local blobs: get %s: %w", key, err)
	}
	return f, nil
}

// Delete removes the blobs, and their folder once it is empty. Missing keys are not an error.
func (b *Blobs) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	dirs := make(map[string]bool)
	for _, key := range keys {
		p, err := b.path(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("local blobs: delete %s: %w", key, err))
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if d != b.dir {
			_ = os.Remove(d) // fails while other blobs of the job remain, which is fine
		}
	}
	return errors.Join(errs...)
}

// URL returns "": a folder has no address a browser can reach, so the server streams the blob itself (with
// job.ContentDisposition for the download name).
func (b *Blobs) URL(context.Context, string, string) (string, error) { return "", nil }

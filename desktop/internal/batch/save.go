package batch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/backless/backless/shared/job"
)

// Saved is the outcome of saving one job's result.
type Saved struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	// Path is where the PNG was written; empty if it failed.
	Path  string     `json:"path,omitempty"`
	Error *job.Error `json:"error,omitempty"`
}

// SaveResult writes a finished job's PNG to path, replacing what is there (the user chose it in a save dialog,
// which asked about overwriting).
func (q *Queue) SaveResult(id, path string) error {
	src, err := q.resultPath(id)
	if err != nil {
		return err
	}
	return copyFile(src, path)
}

// SaveAll writes every finished job's PNG into dir as <name>.png, in the order the jobs were added. A name already
// taken, in dir or earlier in this call, becomes "<name> (2).png" and so on: saving never overwrites a file. One
// file's failure does not stop the others; it is reported in its Saved.
func (q *Queue) SaveAll(dir string) ([]Saved, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("save to folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("save to folder: %s is not a folder", dir)
	}
	var out []Saved
	taken := map[string]bool{}
	for _, s := range q.List() {
		if s.Status != job.StatusDone {
			continue
		}
		sv := Saved{ID: s.ID, Filename: s.Filename}
		path, err := freeName(dir, job.DownloadName(s.Filename), taken)
		if err == nil {
			err = q.SaveResult(s.ID, path)
		}
		if err != nil {
			sv.Error = Classify(err)
		} else {
			sv.Path = path
		}
		out = append(out, sv)
	}
	return out, nil
}

// freeName returns a path in dir for name that no file has and that this call has not handed out yet.
func freeName(dir, name string, taken map[string]bool) (string, error) {
	stem, ext := strings.TrimSuffix(name, filepath.Ext(name)), filepath.Ext(name)
	for n := 1; n < 10000; n++ {
		candidate := name
		if n > 1 {
			candidate = fmt.Sprintf("%s (%d)%s", stem, n, ext)
		}
		path := filepath.Join(dir, candidate)
		if taken[path] {
			continue
		}
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			taken[path] = true
			return path, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("no free file name for %s in %s", name, dir)
}

// copyFile copies src to dst through a temporary file beside dst, so that a failure never leaves a truncated PNG
// under the final name.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer in.Close()
	if err := WriteFileAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return fmt.Errorf("save %s: %w", dst, err)
	}
	return nil
}

// WriteFileAtomic writes a file through a temporary file in the same folder and renames it into place.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	// CreateTemp makes the file private; a saved image is an ordinary file, readable as the umask allows.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

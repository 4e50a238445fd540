// Package job is the domain of Backless's web pipeline: a job, its states and events, the interfaces of the parts that
// store, queue and announce jobs, and the error codes with their HTTP statuses. It imports only the standard library;
// the implementations live in packages named for their dependency (postgres, s3, cloudtasks, redis, local).
package job

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is where a job is in its life. The only transitions are
// queued → processing (Claim), processing → queued (Release, or a lapsed lease reclaimed by Claim),
// processing → done (Complete), and queued|processing → failed (Fail).
type Status string

// The job states.
const (
	StatusQueued     Status = "queued"
	StatusProcessing Status = "processing"
	StatusDone       Status = "done"
	StatusFailed     Status = "failed"
)

// Valid reports whether s is one of the four states.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusProcessing, StatusDone, StatusFailed:
		return true
	}
	return false
}

// Terminal reports whether no further transition can happen.
func (s Status) Terminal() bool { return s == StatusDone || s == StatusFailed }

// Job is one background-removal request of the web pipeline.
type Job struct {
	// ID is random and unguessable (see NewID): knowing it is the only way to see or delete the job.
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Filename is the user's original file name, kept only to name the download; it never names a stored object.
	Filename    string  `json:"filename"`
	ContentType string  `json:"content_type"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Options     Options `json:"options"`
	// ResultKey is the blob key of the cutout once the job is done.
	ResultKey string `json:"result_key,omitempty"`
	// Error says why the job failed; nil unless Status is failed.
	Error *Error `json:"error,omitempty"`
	// Attempts counts the claims, so a job that keeps crashing its worker can be recognised.
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ClaimedUntil is the end of the current processing lease; zero unless processing. A job still processing after
	// it (its worker died) may be claimed again.
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
}

// Options are the user's choices for the output, the same as the CLI flags and the UI controls.
type Options struct {
	// MaskOnly outputs the alpha mask as a greyscale image instead of the cutout.
	MaskOnly bool `json:"mask_only,omitempty"`
	// Background, "#rrggbb", puts the subject on that colour instead of transparency; empty means transparent.
	Background string `json:"background,omitempty"`
	// Crop trims the output to the subject's bounding box, plus CropMargin pixels on each side.
	Crop       bool `json:"crop,omitempty"`
	CropMargin int  `json:"crop_margin,omitempty"`
}

// MaxCropMargin bounds CropMargin; more than this is surely a mistake.
const MaxCropMargin = 10000

// Validate checks the options and returns a bad_request *Error describing the first problem.
func (o Options) Validate() error {
	if o.Background != "" && !validHexColour(o.Background) {
		return Errorf(CodeBadRequest, "background must be a colour like #1a2b3c, got %q", o.Background)
	}
	if o.CropMargin < 0 || o.CropMargin > MaxCropMargin {
		return Errorf(CodeBadRequest, "crop margin must be between 0 and %d pixels, got %d", MaxCropMargin, o.CropMargin)
	}
	if o.CropMargin != 0 && !o.Crop {
		return Errorf(CodeBadRequest, "crop margin needs crop")
	}
	if o.MaskOnly && o.Background != "" {
		return Errorf(CodeBadRequest, "mask only and a background colour cannot be combined")
	}
	return nil
}

func validHexColour(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// idEncoding is lower-case base32 without padding: URL-safe, and also safe as a file name on case-insensitive file
// systems (the local store names files by id), which base64 is not. A function, not a variable: no package state.
func idEncoding() *base32.Encoding {
	return base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
}

// idLen is the length of an encoded 128-bit id.
const idLen = 26

// NewID returns a new random job id: 128 bits from crypto/rand, 26 characters of [a-z2-7].
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error on supported platforms (it panics internally instead).
	_, _ = rand.Read(b[:])
	return idEncoding().EncodeToString(b[:])
}

// ValidID reports whether id has the shape NewID produces. Handlers check it before touching a backend, so a
// malformed id is a clean 404 and never reaches a query or a file path.
func ValidID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// OriginalKey is the blob key of a job's uploaded image. Keys derive only from the random id, never from the user's
// file name.
func OriginalKey(id string) string { return "jobs/" + id + "/original" }

// CutoutKey is the blob key of a job's result PNG.
func CutoutKey(id string) string { return "jobs/" + id + "/cutout.png" }

// DownloadName turns the user's original file name into the name of the result: its base name without extension,
// plus ".png". Path parts, control characters and quotes are dropped, so the name is safe in a header.
func DownloadName(filename string) string {
	if i := strings.LastIndexAny(filename, `/\`); i >= 0 {
		filename = filename[i+1:]
	}
	if i := strings.LastIndexByte(filename, '.'); i > 0 {
		filename = filename[:i]
	}
	filename = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == utf8.RuneError {
			return -1
		}
		return r
	}, filename)
	filename = strings.TrimSpace(filename)
	const maxBase = 200
	if runes := []rune(filename); len(runes) > maxBase {
		filename = string(runes[:maxBase])
	}
	if filename == "" {
		filename = "cutout"
	}
	return filename + ".png"
}

// ContentDisposition returns the Content-Disposition header value that makes a browser save a download under name:
// `attachment; filename="name"`, plus an RFC 5987 filename* parameter when the name is not plain ASCII (the quoted
// one then carries an ASCII fallback).
func ContentDisposition(name string) string {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 || name[i] < 0x20 || name[i] == '"' || name[i] == '\\' {
			ascii = false
			break
		}
	}
	if ascii {
		return `attachment; filename="` + name + `"`
	}
	var fallback, encoded strings.Builder
	for _, r := range name {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			fallback.WriteRune(r)
		} else {
			fallback.WriteByte('_')
		}
	}
	for _, b := range []byte(name) {
		if isAttrChar(b) {
			encoded.WriteByte(b)
		} else {
			fmt.Fprintf(&encoded, "%%%02X", b)
		}
	}
	return `attachment; filename="` + fallback.String() + `"; filename*=UTF-8''` + encoded.String()
}

// isAttrChar is RFC 5987's attr-char: the bytes allowed unescaped in an ext-value.
func isAttrChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", b) >= 0
}

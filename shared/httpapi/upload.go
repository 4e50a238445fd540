package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// The multipart form of POST /api/jobs and POST /api/remove (api.ts's buildForm).
const (
	fieldImage      = "image"
	fieldMaskOnly   = "mask_only"
	fieldBackground = "bg_color"
	fieldCrop       = "crop"
	fieldCropMargin = "crop_margin"
)

const (
	// formOverhead is what the request may hold beyond the image: part headers, the option fields, boundaries.
	formOverhead = 64 << 10
	// maxFieldBytes bounds each option field; the longest valid value is a few characters.
	maxFieldBytes = 64
	// maxFilenameBytes bounds the kept file name (it only names the download).
	maxFilenameBytes = 255
)

// upload is a checked image with the user's options.
type upload struct {
	data     []byte
	info     imageio.Info
	filename string
	opts     job.Options
}

var contentTypes = map[imageio.Format]string{
	imageio.JPEG: "image/jpeg",
	imageio.PNG:  "image/png",
	imageio.GIF:  "image/gif",
	imageio.WebP: "image/webp",
}

// readUpload reads and checks the form without decoding the image: the body may not exceed the byte limit, the image
// field must hold a whole image of a supported type (sniffed from its bytes, whatever the client claims) whose
// header's size is within the pixel limit, and the options must make sense. Every refusal is a *job.Error with a
// 4xx code.
func readUpload(w http.ResponseWriter, r *http.Request, lim imageio.Limits) (*upload, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return nil, job.Errorf(job.CodeBadRequest, "send the image as multipart/form-data in a field named %q", fieldImage)
	}
	if r.ContentLength > lim.MaxBytes+formOverhead {
		return nil, tooManyBytes(lim)
	}
	r.Body = http.MaxBytesReader(w, r.Body, lim.MaxBytes+formOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, job.Wrap(job.CodeBadRequest, err, "the multipart form cannot be read")
	}
	up := &upload{}
	fields := map[string]string{}
	seenImage := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bodyError(err, lim, "the multipart form is malformed")
		}
		name := part.FormName()
		switch name {
		case fieldImage:
			if seenImage {
				return nil, job.Errorf(job.CodeBadRequest, "send one image per request")
			}
			seenImage = true
			up.filename = cleanFilename(part.FileName())
			up.data, err = imageio.ReadAll(part, lim)
			if err != nil {
				return nil, bodyError(err, lim, "the upload was interrupted")
			}
		case fieldMaskOnly, fieldBackground, fieldCrop, fieldCropMargin:
			b, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
			if err != nil {
				return nil, bodyError(err, lim, "the upload was interrupted")
			}
			if len(b) > maxFieldBytes {
				return nil, job.Errorf(job.CodeBadRequest, "the field %q is too long", name)
			}
			fields[name] = strings.TrimSpace(string(b))
		default:
			// Unknown fields are skipped (older or newer clients may send more); the body limit still applies.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, bodyError(err, lim, "the upload was interrupted")
			}
		}
		_ = part.Close()
	}
	if !seenImage {
		return nil, job.Errorf(job.CodeBadRequest, "the form has no %q field with the image", fieldImage)
	}
	if len(up.data) == 0 {
		return nil, job.Errorf(job.CodeBadRequest, "the image is empty")
	}
	up.info, err = imageio.Probe(up.data, lim)
	if err != nil {
		return nil, probeError(err)
	}
	if !complete(up.info.Format, up.data) {
		return nil, job.Errorf(job.CodeNotAnImage, "the %s image is incomplete (cut off during the upload?)", up.info.Format)
	}
	if up.opts, err = parseOptions(fields); err != nil {
		return nil, err
	}
	return up, nil
}

func (u *upload) contentType() string { return contentTypes[u.info.Format] }

func tooManyBytes(lim imageio.Limits) error {
	return job.Errorf(job.CodeTooLarge, "the upload is larger than the limit of %d MiB", lim.MaxBytes>>20)
}

// bodyError classifies a failure to read the request body.
func bodyError(err error, lim imageio.Limits, msg string) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, imageio.ErrTooLarge) {
		return tooManyBytes(lim)
	}
	return job.Wrap(job.CodeBadRequest, err, msg)
}

func probeError(err error) error {
	switch {
	case errors.Is(err, imageio.ErrTooLarge):
		return job.Wrap(job.CodeTooLarge, err, err.Error())
	case errors.Is(err, imageio.ErrUnsupported):
		// The sentinel's own words ("unsupported image format") would only repeat the sentence's start.
		why := strings.TrimPrefix(err.Error(), imageio.ErrUnsupported.Error()+": ")
		return job.Wrap(job.CodeNotAnImage, err, "not an image this service reads (JPEG, PNG, WebP or GIF): "+why)
	case errors.Is(err, imageio.ErrCorrupt):
		return job.Wrap(job.CodeNotAnImage, err, "the image is damaged or incomplete: "+err.Error())
	}
	return job.Wrap(job.CodeBadRequest, err, "the image cannot be read")
}

// parseOptions reads the option fields: booleans as "true"/"false" (also 1/0, on/off), the colour as #rgb or #rrggbb.
func parseOptions(f map[string]string) (job.Options, error) {
	var o job.Options
	var err error
	if o.MaskOnly, err = parseBool(fieldMaskOnly, f[fieldMaskOnly]); err != nil {
		return o, err
	}
	if o.Crop, err = parseBool(fieldCrop, f[fieldCrop]); err != nil {
		return o, err
	}
	if v := f[fieldCropMargin]; v != "" {
		if o.CropMargin, err = strconv.Atoi(v); err != nil {
			return o, job.Errorf(job.CodeBadRequest, "%s must be a whole number of pixels, got %q", fieldCropMargin, v)
		}
	}
	o.Background = normalizeColour(f[fieldBackground])
	return o, o.Validate()
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "0", "false", "off", "no":
		return false, nil
	case "1", "true", "on", "yes":
		return true, nil
	}
	return false, job.Errorf(job.CodeBadRequest, "%s must be true or false, got %q", name, v)
}

// normalizeColour turns #RGB and #RRGGBB in any case into #rrggbb, as the frontend does; anything else is left for
// job.Options.Validate to refuse.
func normalizeColour(c string) string {
	c = strings.ToLower(strings.TrimSpace(c))
	if len(c) == 4 && c[0] == '#' {
		return "#" + strings.Repeat(c[1:2], 2) + strings.Repeat(c[2:3], 2) + strings.Repeat(c[3:4], 2)
	}
	return c
}

// cleanFilename keeps the base name of what the browser sent, valid UTF-8, without control characters, bounded.
// It is only ever used to name the download.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for len(name) > maxFilenameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimSpace(name)
}

// describe is a short form of the upload for logs.
func (u *upload) describe() string {
	return fmt.Sprintf("%s %dx%d %d bytes", u.info.Format, u.info.Width, u.info.Height, len(u.data))
}

package httpapi

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"

	"github.com/backless/backless/shared/imageio"
	"github.com/backless/backless/shared/job"
)

// pngHeader is the start of a PNG claiming w×h pixels: enough for a header check, nothing to decode.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	_ = binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestBadUploadsAreRefusedAndNothingIsStored(t *testing.T) {
	photo := readTestdata(t, "coffee.jpg")
	cases := []struct {
		name     string
		limits   imageio.Limits
		field    string
		data     []byte
		fields   map[string]string
		status   int
		code     job.Code
		endpoint string
	}{
		{name: "empty", field: "image", data: nil, status: 400, code: job.CodeBadRequest},
		{name: "not an image", field: "image", data: []byte("hello, I am a text file\n"), status: 415, code: job.CodeNotAnImage},
		{name: "HEIC", field: "image", data: append([]byte{0, 0, 0, 0x18}, []byte("ftypheic\x00\x00\x00\x00mif1heic")...), status: 415, code: job.CodeNotAnImage},
		{name: "truncated in the pixels", field: "image", data: photo[:len(photo)*2/3], status: 415, code: job.CodeNotAnImage},
		{name: "truncated in the header", field: "image", data: photo[:40], status: 415, code: job.CodeNotAnImage},
		{name: "over the byte limit", limits: imageio.Limits{MaxBytes: 50 << 10}, field: "image", data: photo, status: 413, code: job.CodeTooLarge},
		{name: "over the pixel limit", limits: imageio.Limits{MaxPixels: 100_000}, field: "image", data: photo, status: 413, code: job.CodeTooLarge},
		{name: "a bomb's header", field: "image", data: pngHeader(100_000, 100_000), status: 413, code: job.CodeTooLarge},
		{name: "wrong field", field: "file", data: photo, status: 400, code: job.CodeBadRequest},
		{name: "no file at all", fields: map[string]string{"mask_only": "true"}, status: 400, code: job.CodeBadRequest},
		{name: "bad colour", field: "image", data: photo, fields: map[string]string{"bg_color": "red"}, status: 400, code: job.CodeBadRequest},
		{name: "bad boolean", field: "image", data: photo, fields: map[string]string{"crop": "maybe"}, status: 400, code: job.CodeBadRequest},
		{name: "mask on a colour", field: "image", data: photo, fields: map[string]string{"mask_only": "true", "bg_color": "#ffffff"}, status: 400, code: job.CodeBadRequest},
		{name: "margin without crop", field: "image", data: photo, fields: map[string]string{"crop_margin": "10"}, status: 400, code: job.CodeBadRequest},
		{name: "sync: not an image", endpoint: routeRemove, field: "image", data: []byte("GIF89a"), status: 415, code: job.CodeNotAnImage},
		{name: "sync: over the pixel limit", endpoint: routeRemove, limits: imageio.Limits{MaxPixels: 100_000}, field: "image", data: photo, status: 413, code: job.CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBackends(t)
			ts := newTestServer(t, b, refusingQueue(t), func(cfg *Config) { cfg.Limits = c.limits })
			endpoint := c.endpoint
			if endpoint == "" {
				endpoint = routeJobs
			}
			res := post(t, ts.url(endpoint), c.field, "photo.jpg", c.data, c.fields)
			wantError(t, res, c.status, c.code)
			nothingStored(t, b)
		})
	}
}

func TestUploadThatIsNotMultipart(t *testing.T) {
	b := newBackends(t)
	ts := newTestServer(t, b, refusingQueue(t), nil)
	res, err := http.Post(ts.url(routeJobs), "image/jpeg", bytes.NewReader(readTestdata(t, "coffee.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, 400, job.CodeBadRequest)

	// Two images in one form.
	body, ct := form(t, "image", "a.jpg", readTestdata(t, "coffee.jpg"), nil)
	var buf bytes.Buffer
	buf.ReadFrom(body)
	twice := strings.Replace(buf.String(), "--\r\n", "\r\n", 1) // drop the closing delimiter's "--"
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
	twice += "Content-Disposition: form-data; name=\"image\"; filename=\"b.jpg\"\r\n\r\nxx\r\n--" + boundary + "--\r\n"
	res, err = http.Post(ts.url(routeJobs), ct, strings.NewReader(twice))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res, 400, job.CodeBadRequest)
	nothingStored(t, b)
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(map[string]string{"mask_only": "false", "bg_color": "#ABC", "crop": "on", "crop_margin": "12"})
	if err != nil || o != (job.Options{Background: "#aabbcc", Crop: true, CropMargin: 12}) {
		t.Fatalf("options %+v, %v", o, err)
	}
	o, err = parseOptions(map[string]string{"mask_only": "true", "bg_color": ""})
	if err != nil || !o.MaskOnly || o.Background != "" {
		t.Fatalf("mask options %+v, %v", o, err)
	}
	if _, err := parseOptions(map[string]string{"crop": "true", "crop_margin": "-3"}); !job.IsCode(err, job.CodeBadRequest) {
		t.Fatalf("negative margin: %v", err)
	}
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Users\me\Ferien Foto.JPG`: "Ferien Foto.JPG",
		"../../etc/passwd":            "passwd",
		"a\x00b\nc.png":               "abc.png",
		"bad\xffutf8.jpg":             "badutf8.jpg",
		strings.Repeat("é", 300):      strings.Repeat("é", 127),
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestNewIDIsValidAndUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q, not ValidID", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidIDRejects(t *testing.T) {
	for _, id := range []string{"", "abc", strings.Repeat("a", 25), strings.Repeat("a", 27),
		strings.Repeat("A", 26), "../../../../etc/passwd/xxxx", strings.Repeat("a", 25) + "1", strings.Repeat("a", 25) + "/"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

func TestHTTPStatusTable(t *testing.T) {
	want := map[Code]int{
		CodeNotFound: 404, CodeBadRequest: 400, CodeNotAnImage: 415, CodeTooLarge: 413, CodeUnauthorized: 401,
		CodeForbidden: 403, CodeConflict: 409, CodeUnavailable: 503, CodeInternal: 500, CodeTimeout: 504,
		CodeMethodNotAllowed: 405, CodeTooManyRequests: 429, Code("no_such_code"): 500,
	}
	for c, s := range want {
		if got := HTTPStatus(c); got != s {
			t.Errorf("HTTPStatus(%q) = %d, want %d", c, got, s)
		}
	}
}

func TestErrorCodeThroughWrapping(t *testing.T) {
	base := NotFound("job abc")
	wrapped := fmt.Errorf("postgres: get: %w", base)
	if got := ErrorCode(wrapped); got != CodeNotFound {
		t.Fatalf("ErrorCode = %q", got)
	}
	if !IsNotFound(wrapped) || !errors.Is(wrapped, &Error{Code: CodeNotFound}) {
		t.Fatal("wrapped not-found is not recognised")
	}
	if errors.Is(wrapped, &Error{Code: CodeConflict}) {
		t.Fatal("not-found matched conflict")
	}
	if got := ErrorCode(errors.New("boom")); got != CodeInternal {
		t.Fatalf("plain error code = %q", got)
	}
	if got := ErrorCode(fmt.Errorf("x: %w", context.DeadlineExceeded)); got != CodeTimeout {
		t.Fatalf("deadline code = %q", got)
	}
	if ErrorCode(nil) != "" {
		t.Fatal("nil error has a code")
	}
}

func TestIsPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{Errorf(CodeNotAnImage, "x"), true},
		{fmt.Errorf("decode: %w", Errorf(CodeTooLarge, "x")), true},
		{Errorf(CodeConflict, "x"), true},
		{Errorf(CodeUnavailable, "x"), false},
		{Wrap(CodeInternal, errors.New("disk"), "x"), false},
	}
	for _, c := range cases {
		if got := IsPermanent(c.err); got != c.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestPublicHidesCause(t *testing.T) {
	err := fmt.Errorf("op: %w", Wrap(CodeUnavailable, errors.New("dial tcp 10.1.2.3: refused"), "storage unavailable"))
	p := Public(err)
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "10.1.2.3") || p.Code != CodeUnavailable {
		t.Fatalf("Public leaked or lost the code: %s", b)
	}
	if p := Public(errors.New("pq: password authentication failed")); p.Code != CodeInternal || strings.Contains(p.Message, "password") {
		t.Fatalf("Public(plain) = %+v", p)
	}
	if got := HTTPStatus(Public(fmt.Errorf("x: %w", NotFound("job"))).Code); got != http.StatusNotFound {
		t.Fatalf("status = %d", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	good := []Options{{}, {MaskOnly: true}, {Background: "#A0b1c2"}, {Crop: true, CropMargin: 12}}
	for _, o := range good {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	bad := []Options{{Background: "red"}, {Background: "#12345g"}, {Background: "#1234"}, {Crop: true, CropMargin: -1},
		{CropMargin: 5}, {Crop: true, CropMargin: MaxCropMargin + 1}, {MaskOnly: true, Background: "#000000"}}
	for _, o := range bad {
		err := o.Validate()
		if !IsCode(err, CodeBadRequest) {
			t.Errorf("%+v: got %v, want bad_request", o, err)
		}
	}
}

func TestDownloadNameAndDisposition(t *testing.T) {
	cases := []struct{ in, name, disp string }{
		{"holiday photo.jpg", "holiday photo.png", `attachment; filename="holiday photo.png"`},
		{`C:\Users\me\cat.webp`, "cat.png", `attachment; filename="cat.png"`},
		{"../../etc/passwd", "passwd.png", `attachment; filename="passwd.png"`},
		{"a\"b\r\nc.png", "abc.png", `attachment; filename="abc.png"`},
		{"", "cutout.png", `attachment; filename="cutout.png"`},
		{".hidden", ".hidden.png", `attachment; filename=".hidden.png"`},
		{"été.jpg", "été.png", `attachment; filename="_t_.png"; filename*=UTF-8''%C3%A9t%C3%A9.png`},
	}
	for _, c := range cases {
		name := DownloadName(c.in)
		if name != c.name {
			t.Errorf("DownloadName(%q) = %q, want %q", c.in, name, c.name)
		}
		if d := ContentDisposition(name); d != c.disp {
			t.Errorf("ContentDisposition(%q) = %q, want %q", name, d, c.disp)
		}
	}
}

func TestTaskBodyRoundTrip(t *testing.T) {
	id := NewID()
	if got := string(TaskBody(id)); got != `{"job_id":"`+id+`"}` {
		t.Fatalf("TaskBody = %s", got)
	}
	for _, body := range [][]byte{TaskBody(id), []byte(id), []byte(" " + id + "\n")} {
		got, err := ParseTaskBody(body)
		if err != nil || got != id {
			t.Errorf("ParseTaskBody(%q) = %q, %v", body, got, err)
		}
	}
	for _, body := range []string{"", "{", `{"job_id":"../x"}`, "not-an-id", `{"id":"` + id + `"}`} {
		if _, err := ParseTaskBody([]byte(body)); !IsCode(err, CodeBadRequest) {
			t.Errorf("ParseTaskBody(%q) err = %v, want bad_request", body, err)
		}
	}
}

func TestStatus(t *testing.T) {
	if !StatusDone.Terminal() || !StatusFailed.Terminal() || StatusQueued.Terminal() || StatusProcessing.Terminal() {
		t.Fatal("Terminal wrong")
	}
	if Status("running").Valid() || !StatusProcessing.Valid() {
		t.Fatal("Valid wrong")
	}
}

func TestEventJSON(t *testing.T) {
	j := &Job{ID: NewID(), Status: StatusFailed, Error: Wrap(CodeNotAnImage, errors.New("secret detail"), "not an image")}
	b, err := json.Marshal(EventOf(j))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `"status":"failed"`) || !strings.Contains(s, `"code":"not_an_image"`) || strings.Contains(s, "secret") {
		t.Fatalf("event JSON = %s", s)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil || back.Error.Code != CodeNotAnImage || back.JobID != j.ID {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestTaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://worker.example":                          "https://worker.example/_tasks/remove-background/",
		"https://worker.example/":                         "https://worker.example/_tasks/remove-background/",
		"http://127.0.0.1:8081/_tasks/remove-background/": "http://127.0.0.1:8081/_tasks/remove-background/",
		"https://example.com/backless":                    "https://example.com/backless/_tasks/remove-background/",
	} {
		if got := TaskURL(in); got != want {
			t.Errorf("TaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

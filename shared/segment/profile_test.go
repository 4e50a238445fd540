package segment

import (
	"image"
	"image/color"
	"testing"
)

func TestDetectProfile(t *testing.T) {
	for _, c := range []struct {
		path, input string
		size        int64
		want        string
	}{
		{"/m/isnet-medium.onnx", "input", 1024, "isnet"},
		{"/m/model.onnx", "input", 1024, "isnet"},
		{"/m/u2net.onnx", "input.1", 320, "u2net"},
		{"/m/u2netp.onnx", "input.1", 320, "u2netp"},
		{"/m/other.onnx", "x", 320, "u2net"},
		{"/m/BiRefNet-general-epoch_244.onnx", "input_image", 1024, "birefnet"},
		{"/m/model.onnx", "input_image", 1024, "birefnet"},
	} {
		p, err := DetectProfile(c.path, c.input, c.size)
		if err != nil || p.Name != c.want {
			t.Errorf("%+v: got %q, %v", c, p.Name, err)
		}
	}
	if _, err := DetectProfile("/m/x.onnx", "x", 512); err == nil {
		t.Error("a 512 model with no name hint must ask for an explicit profile")
	}
	if _, err := ProfileByName("nope"); err == nil {
		t.Error("unknown profile accepted")
	}
}

func TestParseColor(t *testing.T) {
	for in, want := range map[string]color.NRGBA{
		"#ff8000": {255, 128, 0, 255}, "00ff00": {0, 255, 0, 255}, "#fff": {255, 255, 255, 255},
		"#11223344": {0x11, 0x22, 0x33, 0x44},
	} {
		got, err := ParseColor(in)
		if err != nil || *got != want {
			t.Errorf("%q: got %v, %v", in, got, err)
		}
	}
	if c, err := ParseColor(""); c != nil || err != nil {
		t.Errorf("empty: %v %v", c, err)
	}
	for _, bad := range []string{"#12", "red", "#gggggg", "#1234567"} {
		if _, err := ParseColor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSubjectBox(t *testing.T) {
	m := image.NewGray(image.Rect(0, 0, 20, 10))
	m.SetGray(5, 3, color.Gray{200})
	m.SetGray(12, 6, color.Gray{cropThreshold})
	m.SetGray(15, 8, color.Gray{cropThreshold - 1}) // faint: not subject
	if got, want := subjectBox(m.Pix, m.Stride, 1, 0, m.Rect, 0), image.Rect(5, 3, 13, 7); got != want {
		t.Fatalf("box %v, want %v", got, want)
	}
	if got, want := subjectBox(m.Pix, m.Stride, 1, 0, m.Rect, 4), image.Rect(1, 0, 17, 10); got != want {
		t.Fatalf("box with margin %v, want %v (clipped)", got, want)
	}
	empty := image.NewGray(image.Rect(0, 0, 4, 4))
	if got := subjectBox(empty.Pix, empty.Stride, 1, 0, empty.Rect, 0); got != empty.Rect {
		t.Fatalf("empty mask must keep the whole image, got %v", got)
	}
}

func TestFlatten(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 255}) // opaque: unchanged
	img.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 0})   // transparent: background
	img.SetNRGBA(2, 0, color.NRGBA{255, 255, 255, 128})
	flatten(img, color.NRGBA{0, 0, 255, 255})
	want := []color.NRGBA{{200, 100, 50, 255}, {0, 0, 255, 255}, {128, 128, 255, 255}}
	for x, w := range want {
		if got := img.NRGBAAt(x, 0); got != w {
			t.Errorf("pixel %d: got %v, want %v", x, got, w)
		}
	}
}

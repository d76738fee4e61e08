// Package vehicleid validates and normalises the identities every ClearSky service keys
// vehicles by: the VIN (GB 16735 / ISO 3779, with its check digit) and the Chinese number plate
// with its colour.
package vehicleid

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Errors returned by the validators; the messages are safe to show to a client.
var (
	ErrVINLength     = errors.New("a VIN has 17 characters")
	ErrVINCharacter  = errors.New("a VIN holds only digits and capital letters other than I, O and Q")
	ErrVINCheckDigit = errors.New("the VIN's check digit (9th character) does not match")
	ErrPlate         = errors.New("a plate is a province character, an authority letter and 5 (fuel) or 6 (new-energy) letters or digits")
	ErrPlateColour   = errors.New("plate colour must be one of blue, yellow, green, yellow_green, white, black")
)

var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// transliterate gives the numeric value of a VIN character, or -1 for a character a VIN may
// not contain.
func transliterate(r byte) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'A' && r <= 'H':
		return int(r-'A') + 1
	case r >= 'J' && r <= 'N':
		return int(r-'J') + 1
	case r == 'P':
		return 7
	case r == 'R':
		return 9
	case r >= 'S' && r <= 'Z':
		return int(r-'S') + 2
	}
	return -1
}

// CheckDigit computes the check digit ('0'..'9' or 'X') of a 17-character VIN; the character
// at position 9 is ignored. It returns an error for a bad length or character.
func CheckDigit(vin string) (byte, error) {
	if len(vin) != 17 {
		return 0, ErrVINLength
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := transliterate(vin[i])
		if v < 0 {
			return 0, fmt.Errorf("character %d %q: %w", i+1, vin[i], ErrVINCharacter)
		}
		sum += v * vinWeights[i]
	}
	if r := sum % 11; r == 10 {
		return 'X', nil
	} else {
		return byte('0' + r), nil
	}
}

// NormaliseVIN trims spaces and upper-cases a VIN, then checks its length, characters and
// check digit. It returns the canonical VIN.
func NormaliseVIN(s string) (string, error) {
	vin := strings.ToUpper(strings.TrimSpace(halfWidth(s)))
	if vin == "" {
		return "", fmt.Errorf("required: %w", ErrVINLength)
	}
	cd, err := CheckDigit(vin)
	if err != nil {
		return "", err
	}
	if vin[8] != cd {
		return "", fmt.Errorf("%w: expected %q", ErrVINCheckDigit, cd)
	}
	return vin, nil
}

// WithCheckDigit upper-cases a 17-character VIN and sets its 9th character to the check digit;
// demo data and simulators use it to make valid VINs.
func WithCheckDigit(s string) (string, error) {
	vin := strings.ToUpper(strings.TrimSpace(s))
	cd, err := CheckDigit(vin)
	if err != nil {
		return "", err
	}
	return vin[:8] + string(cd) + vin[9:], nil
}

// Colour is a plate's background colour. It matters for identity: the same characters on a
// blue and on a yellow plate are two vehicles.
type Colour string

// The plate colours (GA 36).
const (
	Blue        Colour = "blue"         // small vehicles
	Yellow      Colour = "yellow"       // large vehicles, trucks, buses
	Green       Colour = "green"        // small new-energy vehicles
	YellowGreen Colour = "yellow_green" // large new-energy vehicles
	White       Colour = "white"        // police and armed police
	Black       Colour = "black"        // foreign and consular vehicles
)

// Colours lists every valid plate colour.
var Colours = []Colour{Blue, Yellow, Green, YellowGreen, White, Black}

// colourWords are the Chinese names of plate colours, as officers and forms write them (with or
// without 色 "colour" or 牌 "plate" after them).
var colourWords = map[string]Colour{"蓝": Blue, "黄": Yellow, "绿": Green, "渐变绿": Green, "黄绿": YellowGreen,
	"黄绿双拼": YellowGreen, "白": White, "黑": Black}

// ParseColour accepts a colour name in any case, with "-" or " " for "_", or its Chinese word
// (蓝, 黄, 绿 or 渐变绿, 黄绿, 白, 黑; 色 or 牌 may follow). Empty, it is "required".
func ParseColour(s string) (Colour, error) {
	c := Colour(strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"), " ", "_"))
	for _, v := range Colours {
		if c == v {
			return c, nil
		}
	}
	w := strings.TrimSpace(halfWidth(s))
	if w == "" {
		return "", fmt.Errorf("required: %w", ErrPlateColour)
	}
	w = strings.TrimSuffix(strings.TrimSuffix(w, "牌"), "色")
	if c, ok := colourWords[w]; ok {
		return c, nil
	}
	if w != s {
		return ParseColour(w) // full-width Latin letters
	}
	return "", ErrPlateColour
}

// halfWidth turns the full-width forms of ASCII characters that Chinese input methods type
// (Ｆ８９, U+FF01 to U+FF5E) and the ideographic space into ASCII; s without them is returned
// as it is.
func halfWidth(s string) string {
	i := strings.IndexFunc(s, isFullWidth)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			b.WriteRune(r - 0xFEE0)
		case r == '\u3000':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isFullWidth(r rune) bool { return r >= 0xFF01 && r <= 0xFF5E || r == '\u3000' }

// NewEnergy reports whether plates of this colour are issued to new-energy vehicles.
func (c Colour) NewEnergy() bool { return c == Green || c == YellowGreen }

// provinces are the one-character abbreviations that open a civil plate.
const provinces = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

// NormalisePlate removes spaces, dots and dashes, turns full-width letters and digits (as
// Chinese input methods type them) into ASCII, upper-cases the Latin letters and checks the
// shape: a province character, the issuing authority's letter, then 5 letters or digits (fuel
// vehicles) or 6 (new-energy vehicles). The last character may also be 挂 (trailer), 学
// (learner) or 警 (police) in place of a letter or digit.
func NormalisePlate(s string) (string, error) {
	p := s
	if !normalForm(s) { // most plates arrive as stored: no copy for them
		var b strings.Builder
		for _, r := range strings.TrimSpace(halfWidth(s)) {
			switch {
			case isPlateSeparator(r):
				continue
			case r < utf8.RuneSelf:
				b.WriteRune(unicode.ToUpper(r))
			default:
				b.WriteRune(r)
			}
		}
		p = b.String()
	}
	var runes [9]rune
	n := 0
	for _, r := range p {
		if n == len(runes) {
			break
		}
		runes[n] = r
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("required: %w", ErrPlate)
	}
	if n < 7 || n > 8 {
		return "", ErrPlate
	}
	if !strings.ContainsRune(provinces, runes[0]) {
		return "", fmt.Errorf("%w: %q is not a province abbreviation", ErrPlate, runes[0])
	}
	if runes[1] < 'A' || runes[1] > 'Z' {
		return "", fmt.Errorf("%w: the second character must be the authority's letter", ErrPlate)
	}
	for i, r := range runes[2:n] {
		last := i == n-3
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z' && r != 'I' && r != 'O':
		case last && (r == '挂' || r == '学' || r == '警'):
		default:
			return "", fmt.Errorf("%w: %q may not stand in a plate", ErrPlate, r)
		}
	}
	return p, nil
}

func isPlateSeparator(r rune) bool {
	return r == ' ' || r == '·' || r == '.' || r == '-' || r == '\u3000'
}

// normalForm reports whether NormalisePlate would leave s as it is: no separators, no
// surrounding space, no lower-case Latin letters.
func normalForm(s string) bool {
	for _, r := range s {
		if isPlateSeparator(r) || unicode.IsSpace(r) || r >= 'a' && r <= 'z' || isFullWidth(r) {
			return false
		}
	}
	return true
}

// Key is the lookup key of a plate: normalised plate and colour, as "京A12345:yellow".
func Key(plate string, colour Colour) string { return plate + ":" + string(colour) }

// SplitKey is the inverse of Key.
func SplitKey(k string) (plate string, colour Colour, ok bool) {
	i := strings.LastIndexByte(k, ':')
	if i <= 0 || i == len(k)-1 {
		return "", "", false
	}
	return k[:i], Colour(k[i+1:]), true
}

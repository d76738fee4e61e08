// Package password hashes and checks people's passwords with argon2id and holds the password
// policy. Hashes are PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), so the
// parameters travel with each hash and can be raised without invalidating the stored ones.
package password

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// The argon2id parameters of new hashes: OWASP's first recommendation (19 MiB of memory, two
// passes, one lane), about 25 ms on one core of the 2-core reference node. A 16-byte salt from
// crypto/rand and a 32-byte key.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2
	Threads = 1
	SaltLen = 16
	KeyLen  = 32
)

// MaxConcurrent bounds the hashes computed at once (each holds Memory): a burst of sign-ins waits
// rather than taking the node's memory.
const MaxConcurrent = 4

var slots = make(chan struct{}, MaxConcurrent)

func derive(ctx context.Context, pw string, salt []byte, m uint32, t uint32, p uint8, n uint32) ([]byte, error) {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-slots }()
	return argon2.IDKey([]byte(pw), salt, t, m, p, n), nil
}

// Hash returns the PHC string of pw with the current parameters.
func Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := derive(ctx, pw, salt, Memory, Time, Threads, KeyLen)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, Memory, Time, Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string hash, comparing in constant time. A hash it
// cannot read never matches.
func Verify(ctx context.Context, hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("not an argon2id hash")
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errors.New("unknown argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("bad argon2 parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false, errors.New("bad argon2 salt or key")
	}
	got, err := derive(ctx, pw, salt, m, t, p, uint32(len(want)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

var (
	dummyOnce sync.Once
	dummy     string
)

// Dummy is a hash of no one's password, for checking a password against when there is no
// account: an unknown username costs the same argon2id work as a wrong password.
func Dummy() string {
	dummyOnce.Do(func() {
		h, err := Hash(context.Background(), "no account has this password: "+rand.Text())
		if err != nil {
			panic(err)
		}
		dummy = h
	})
	return dummy
}

// The policy's lengths, in characters.
const (
	MinLength = 12
	MaxLength = 128
)

//go:embed common.txt
var commonList []byte

var common = func() map[string]bool {
	m := map[string]bool{}
	s := bufio.NewScanner(bytes.NewReader(commonList))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = true
		}
	}
	return m
}()

// Common reports whether pw (ignoring case) is on the shipped list of common passwords.
func Common(pw string) bool { return common[strings.ToLower(pw)] }

// Check applies the policy to pw for the account username: at least MinLength and at most
// MaxLength characters, not containing the username (ignoring case), not a common password,
// and not one character repeated. It returns what is wrong, or "".
func Check(pw, username string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinLength:
		return fmt.Sprintf("a password has at least %d characters", MinLength)
	case n > MaxLength:
		return fmt.Sprintf("a password has at most %d characters", MaxLength)
	case username != "" && strings.Contains(strings.ToLower(pw), strings.ToLower(username)):
		return "a password must not contain the username"
	case Common(pw):
		return "this password is on the list of common passwords; choose another"
	case strings.Count(pw, string([]rune(pw)[:1])) == n:
		return "a password is not one character repeated"
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return "a password holds no control characters"
		}
	}
	return ""
}

// alphabet of generated passwords: no 0/O, 1/l/I.
const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// Generate returns a one-time password of 20 random characters that passes Check for username.
func Generate(username string) string {
	for {
		b := make([]byte, 20)
		for i := range b {
			var r [1]byte
			for {
				_, _ = rand.Read(r[:])
				if int(r[0]) < 256-256%len(alphabet) {
					break
				}
			}
			b[i] = alphabet[int(r[0])%len(alphabet)]
		}
		if Check(string(b), username) == "" {
			return string(b)
		}
	}
}

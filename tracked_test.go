// Package clearsky_test holds the checks that concern the repository as a whole rather than one
// package. .ci/run runs TestTrackedFiles before the suite; `make test` runs it with the rest.
package clearsky_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// maxTrackedSize is the largest file the repository may track outside the exempt folders.
const maxTrackedSize = 5 << 20 // 5 MiB

// exempt reports whether path may hold large or binary files: test inputs (any testdata/
// folder) and the console's screenshots.
func exempt(path string) bool {
	return strings.HasPrefix(path, "testdata/") || strings.Contains(path, "/testdata/") ||
		strings.HasPrefix(path, "docs/screenshots/")
}

// executable names the executable format whose magic number head starts with, or "".
func executable(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "an ELF executable"
	case bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xce}), bytes.HasPrefix(head, []byte{0xfe, 0xed, 0xfa, 0xcf}),
		bytes.HasPrefix(head, []byte{0xce, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(head, []byte{0xcf, 0xfa, 0xed, 0xfe}):
		return "a Mach-O executable"
	case bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "a universal Mach-O executable (or a Java class file)"
	case bytes.HasPrefix(head, []byte("MZ")) && len(head) >= 0x40:
		// A PE file starts with an MS-DOS header whose e_lfanew (at 0x3c) points at "PE\0\0";
		// a text file that merely starts with "MZ" does not.
		off := binary.LittleEndian.Uint32(head[0x3c:0x40])
		if int(off)+4 <= len(head) && bytes.Equal(head[off:off+4], []byte("PE\x00\x00")) {
			return "a Windows (PE) executable"
		}
	}
	return ""
}

// headSize is how much of a file executable looks at: enough for a PE header at the usual
// offsets.
const headSize = 4096

// TestTrackedFiles fails when git tracks a build output: an executable binary, or any file
// larger than 5 MiB, outside testdata/ folders and docs/screenshots/.
func TestTrackedFiles(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		if os.Getenv("CLEARSKY_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("git ls-files: %v (CI runs on a git clone)", err)
		}
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	var bad []string
	for _, path := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if path == "" || exempt(path) {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue // deleted in the work tree, or a submodule
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			f.Close()
			continue
		}
		head := make([]byte, headSize)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if kind := executable(head[:n]); kind != "" {
			bad = append(bad, fmt.Sprintf("%s is %s", path, kind))
		} else if st.Size() > maxTrackedSize {
			bad = append(bad, fmt.Sprintf("%s is %.1f MiB (at most 5 MiB)", path, float64(st.Size())/(1<<20)))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("git tracks build outputs or oversized files:\n  %s\n"+
			"Untrack each (git rm --cached <path>) and add it to .gitignore: binaries belong in bin/ (make build) "+
			"or outside the repository. Large test inputs go in a testdata/ folder; screenshots in docs/screenshots/.",
			strings.Join(bad, "\n  "))
	}
}

func TestExecutable(t *testing.T) {
	pe := make([]byte, 0x80)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3c:], 0x40)
	copy(pe[0x40:], "PE\x00\x00")
	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"ELF", []byte("\x7fELF\x02\x01\x01"), true},
		{"Mach-O 64", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, true},
		{"Mach-O 32 big-endian", []byte{0xfe, 0xed, 0xfa, 0xce}, true},
		{"universal", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2}, true},
		{"PE", pe, true},
		{"text starting with MZ", []byte("MZ is a file that starts like a DOS header but is text, long enough to reach 0x40 bytes."), false},
		{"shell script", []byte("#!/usr/bin/env bash\n"), false},
		{"PNG", []byte("\x89PNG\r\n\x1a\n"), false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		if got := executable(tc.head) != ""; got != tc.want {
			t.Errorf("%s: executable = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !exempt("services/obd/internal/protocol/testdata/fuzz/FuzzDecode/abc") || !exempt("docs/screenshots/fleet-phone.png") ||
		!exempt("testdata/x") || exempt("cpload") || exempt("docs/limits.md") {
		t.Error("exempt: wrong folders")
	}
}

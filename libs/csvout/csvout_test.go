package csvout

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
		"-10": "'-10", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\r=1": "'\r=1",
		"": "", "sulfur": "sulfur", "92": "92", "0号普通柴油": "0号普通柴油", " =1": " =1", "a=b": "a=b",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterBOMQuotingAndFormulas(t *testing.T) {
	var b bytes.Buffer
	w := New(&b)
	rows := [][]string{{"row", "message", "sample_id"}, {"3", "a \"quoted\", comma", "=cmd|'/C calc'!A0"}, {"4", "柴油 -10 号", "-10"}}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, BOM) || strings.Count(out, BOM) != 1 {
		t.Fatalf("the file must start with one UTF-8 BOM: %q", out)
	}
	got, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, BOM))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{rows[0], {"3", "a \"quoted\", comma", "'=cmd|'/C calc'!A0"}, {"4", "柴油 -10 号", "'-10"}}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("row %d = %q, want %q", i, got[i], want[i])
		}
	}
	var empty bytes.Buffer
	if err := New(&empty).Flush(); err != nil || empty.String() != BOM {
		t.Fatalf("an empty file = %q, %v", empty.String(), err)
	}
}

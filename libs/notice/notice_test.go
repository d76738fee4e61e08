package notice

import (
	"strings"
	"testing"
	"time"
)

func TestRenderEscapesAndDates(t *testing.T) {
	n := Notice{Title: "责令改正通知书", Number: "nc-1", To: `<script>alert(1)</script>加油站`,
		Lead: []string{"经检验"}, Table: &Table{Head: []string{"项目"}, Rows: [][]string{{`"><img src=x onerror=alert(1)>`}}},
		Date: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)}
	b, err := n.Render()
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Fatalf("a value sent by a regulated party was not escaped:\n%s", page)
	}
	if !strings.Contains(page, "2027年1月1日") {
		t.Fatalf("the date is China's day (2027-01-01 01:00 in Shanghai): %s", page[strings.Index(page, `class="date"`):])
	}
	if !strings.Contains(page, DefaultIssuer) {
		t.Error("no issuer")
	}
}

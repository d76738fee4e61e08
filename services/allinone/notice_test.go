package allinone_test

import (
	"strings"
	"testing"

	"github.com/clearsky/clearsky/libs/auth"
)

// TestPrintableNotices: a remote-sensing case's notice to the owner and a fuel case's
// rectification notice are print-ready Chinese pages with the case's findings, for those who
// may read the case only.
func TestPrintableNotices(t *testing.T) {
	s := newStack(t)
	base := s.srv.URL
	bureau := s.token(auth.Bureau, "", "bureau-li")
	own := s.token(auth.Fleet, "fleet-shuozhou-logistics", "fleet-1")
	other := s.token(auth.Fleet, "fleet-other", "fleet-2")
	station := s.token(auth.Station, "st-shuocheng-01", "station-1")

	_, cases := call(t, base, "GET", "/v1/remote-sensing/cases?plate=%E6%99%8BF34567&colour=yellow", bureau, nil)
	items, _ := cases["items"].([]any)
	if len(items) == 0 {
		t.Fatalf("no demo case for 晋F34567: %v", cases)
	}
	rs := "/v1/remote-sensing/cases/" + items[0].(map[string]any)["id"].(string) + "/notice"
	st, hdr, page := fetch(t, base+rs, bureau)
	if st != 200 || !strings.HasPrefix(hdr, "text/html") {
		t.Fatalf("the owner's notice: %d %s %.300s", st, hdr, page)
	}
	for _, want := range []string{`lang="zh-CN"`, "机动车排放超标告知书", "晋F34567", "黄牌", "不透光烟度", "GB 3847-2018", "（盖章）", "@page { size: A4"} {
		if !strings.Contains(page, want) {
			t.Errorf("the owner's notice lacks %q", want)
		}
	}
	if st, _, _ := fetch(t, base+rs, own); st != 200 {
		t.Errorf("the owning fleet reads its notice: %d", st)
	}
	if st, _, _ := fetch(t, base+rs, other); st != 404 {
		t.Errorf("another fleet reads the notice: %d, want 404", st)
	}
	if st, _, _ := fetch(t, base+rs, station); st != 403 {
		t.Errorf("a station reads the notice: %d, want 403", st)
	}

	_, fc := call(t, base, "GET", "/v1/fuel/cases", bureau, nil)
	fitems, _ := fc["items"].([]any)
	if len(fitems) == 0 {
		t.Fatal("no demo fuel case")
	}
	c := fitems[0].(map[string]any)
	fuel := "/v1/fuel/cases/" + c["case_id"].(string) + "/notice"
	st, _, page = fetch(t, base+fuel, bureau)
	if st != 200 {
		t.Fatalf("the rectification notice: %d %.300s", st, page)
	}
	for _, want := range []string{"责令改正通知书", c["site_name"].(string), "检验项目", "标准要求", "（盖章）"} {
		if !strings.Contains(page, want) {
			t.Errorf("the rectification notice lacks %q", want)
		}
	}
	if st, _, _ := fetch(t, base+fuel, station); st != 403 {
		t.Errorf("a station reads a rectification notice: %d, want 403", st)
	}
}

// Package notice renders the printable documents a case produces (the notice to a vehicle's
// owner of an exceedance, the rectification notice to a failing site) as one print-ready HTML
// page each: A4, Chinese, the issuing authority's seal line and the date in China time. The
// services that own the cases fill a Notice; html/template escapes every value, so nothing a
// regulated party sent can run in the page.
package notice

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/localtime"
)

// Notice is one document.
type Notice struct {
	Title  string // 机动车排放超标告知书
	Number string // the document's number: the case id
	To     string // whom it is addressed to
	// Lead paragraphs, then the table of findings, then the basis, then what is required.
	Lead         []string
	Table        *Table
	Basis        []string
	Requirements []string
	Issuer       string    // the issuing authority, above the seal line
	Date         time.Time // the document's date (shown as a China day)
}

// Table is the findings.
type Table struct {
	Head []string
	Rows [][]string
}

// DefaultIssuer is the issuer when a service names none.
const DefaultIssuer = "生态环境局"

var page = template.Must(template.New("notice").Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Number}}</title>
<style>
@page { size: A4; margin: 20mm 18mm; }
body { font-family: "Songti SC", "SimSun", "Noto Serif CJK SC", serif; color: #000; max-width: 174mm; margin: 0 auto; line-height: 1.8; font-size: 12pt; }
h1 { text-align: center; font-size: 20pt; letter-spacing: .2em; margin: 0 0 4mm; }
.number { text-align: right; margin: 0 0 6mm; }
.to { font-weight: bold; }
p { text-indent: 2em; margin: 0 0 2mm; }
p.to, p.number, p.issuer, p.date { text-indent: 0; }
table { border-collapse: collapse; width: 100%; margin: 4mm 0; font-size: 10.5pt; }
th, td { border: 1px solid #000; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }
h2 { font-size: 12pt; margin: 5mm 0 1mm; }
ol { margin: 0 0 2mm; padding-left: 2em; }
.issuer, .date { text-align: right; margin: 0; }
.issuer { margin-top: 14mm; }
.seal { text-align: right; color: #666; font-size: 10pt; margin: 0; }
@media screen { body { padding: 10mm; } }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="number">编号：{{.Number}}</p>
<p class="to">{{.To}}：</p>
{{range .Lead}}<p>{{.}}</p>
{{end}}{{with .Table}}<table>
<thead><tr>{{range .Head}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{end}}{{if .Basis}}<h2>依据</h2>
<ol>{{range .Basis}}<li>{{.}}</li>{{end}}</ol>
{{end}}{{if .Requirements}}<h2>要求</h2>
<ol>{{range .Requirements}}<li>{{.}}</li>{{end}}</ol>
{{end}}<p class="issuer">{{.Issuer}}</p>
<p class="seal">（盖章）</p>
<p class="date">{{.Day}}</p>
</body>
</html>
`))

// Render writes the notice as a page.
func (n Notice) Render() ([]byte, error) {
	if n.Issuer == "" {
		n.Issuer = DefaultIssuer
	}
	var b bytes.Buffer
	err := page.Execute(&b, struct {
		Notice
		Day string
	}{n, Day(n.Date)})
	return b.Bytes(), err
}

// Day writes t as a Chinese document's date, in China time: 2026年12月4日.
func Day(t time.Time) string {
	t = t.In(localtime.Shanghai())
	return fmt.Sprintf("%d年%d月%d日", t.Year(), t.Month(), t.Day())
}

// Clock writes t in China time as Chinese users do: 2026-12-03 16:21.
func Clock(t time.Time) string { return t.In(localtime.Shanghai()).Format("2006-01-02 15:04") }

// Serve answers with the notice as a page; the browser's print makes it paper or a PDF.
func Serve(c *gin.Context, n Notice) error {
	b, err := n.Render()
	if err != nil {
		return err
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
	return nil
}

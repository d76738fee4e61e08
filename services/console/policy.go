package console

import (
	"bytes"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/docs"
)

// PolicyPath is the page listing the action plan's tasks; "task N" anywhere in the console
// links to PolicyPath#task-N.
const PolicyPath = "/policy"

var policyHTML = template.Must(template.New("policy").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>The action plan's tasks · {{.Title}}</title>
<link rel="icon" href="{{.Base}}/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="{{.Base}}/style.css">
</head>
<body>
<header class="top"><div class="top-row"><a class="brand" href="/"><img src="{{.Base}}/icon.svg" alt="" width="28" height="28"><span>{{.Title}}</span></a></div></header>
<main id="main" class="policy">
<section class="panel">
<h1>The action plan, task by task</h1>
<p class="intro">{{.Intro}}</p>
<table class="policy-tasks">
<thead><tr><th scope="col">task</th><th scope="col">what it requires</th><th scope="col">where ClearSky enforces it</th></tr></thead>
<tbody>
{{range .Tasks}}<tr id="task-{{.Number}}"><th scope="row">{{.Number}}</th><td>{{.Requires}}</td><td>{{.Enforced}}</td></tr>
{{end}}</tbody>
</table>
</section>
</main>
</body>
</html>
`))

// policyPage renders docs/policy.md as the console's page of tasks.
func policyPage(base, title string) []byte {
	var buf bytes.Buffer
	if err := policyHTML.Execute(&buf, struct {
		Base, Title, Intro string
		Tasks              []docs.Task
	}{base, title, docs.PolicyIntro(), docs.Tasks()}); err != nil {
		panic("console: policy page: " + err.Error())
	}
	return buf.Bytes()
}

func (s *Service) servePublic(c *gin.Context) {
	securityHeaders(c)
	c.Header("Content-Security-Policy", contentSecurityPolicy)
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.public)
}

func (s *Service) servePolicy(c *gin.Context) {
	securityHeaders(c)
	c.Header("Content-Security-Policy", contentSecurityPolicy)
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/html; charset=utf-8", s.policy)
}

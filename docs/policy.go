// Package docs carries the documentation pages the binaries serve: the action plan's tasks
// (policy.md), which the web console shows at /policy, each task with its own anchor.
package docs

import (
	_ "embed"
	"regexp"
	"strings"
)

//go:embed policy.md
var policyMD string

// Task is one task of the action plan, as policy.md states it.
type Task struct {
	Number   string // "15"
	Requires string
	Enforced string // where ClearSky enforces it, or that it does not
}

var (
	taskRow  = regexp.MustCompile(`^\| <a id="task-(\d+)"></a>\d+ \| (.*) \| (.*) \|$`)
	mdLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	backtick = strings.NewReplacer("`", "")
)

// Tasks returns the tasks of policy.md in order, their markdown links reduced to their text.
func Tasks() []Task {
	var out []Task
	for _, line := range strings.Split(policyMD, "\n") {
		m := taskRow.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		plain := func(s string) string { return backtick.Replace(mdLink.ReplaceAllString(s, "$1")) }
		out = append(out, Task{Number: m[1], Requires: plain(m[2]), Enforced: plain(m[3])})
	}
	return out
}

// PolicyIntro is policy.md's first paragraph, plain.
func PolicyIntro() string {
	_, rest, _ := strings.Cut(policyMD, "\n\n")
	para, _, _ := strings.Cut(rest, "\n\n")
	return strings.Join(strings.Fields(mdLink.ReplaceAllString(para, "$1")), " ")
}

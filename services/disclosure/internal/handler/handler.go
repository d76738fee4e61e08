// Package handler is the disclosure service's HTTP edge: the bureau's review routes under
// /v1/disclosures and the public routes under /v1/public/ (no sign-in).
package handler

import (
	"encoding/xml"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/clearsky/clearsky/libs/auth"
	"github.com/clearsky/clearsky/libs/disclosure"
	"github.com/clearsky/clearsky/libs/export"
	"github.com/clearsky/clearsky/libs/httpserver"
	"github.com/clearsky/clearsky/libs/localtime"
	"github.com/clearsky/clearsky/libs/request"
	"github.com/clearsky/clearsky/services/disclosure/internal/publish"
)

// Handler serves the routes.
type Handler struct {
	svc    *publish.Service
	log    *slog.Logger
	public httpserver.PublicOptions
	// BaseURL is the platform's public address, for the feed's links ("" : relative links).
	baseURL string
}

// New returns the handler.
func New(svc *publish.Service, log *slog.Logger, public httpserver.PublicOptions, baseURL string) *Handler {
	return &Handler{svc: svc, log: log, public: public, baseURL: baseURL}
}

// Routes registers the routes.
func (h *Handler) Routes(r gin.IRouter) {
	need, wrap := httpserver.Guards(h.log)
	g := r.Group("/v1/disclosures", need(auth.Bureau))
	g.POST("", wrap(h.compile))
	g.GET("", wrap(h.list))
	g.GET("/:id", wrap(h.get))
	g.POST("/:id/publish", wrap(h.publish))
	g.POST("/:id/withdraw", wrap(h.withdraw))

	p := r.Group("/v1/public", httpserver.Public(h.public, h.log))
	p.GET("/lists", wrap(h.publicLists))
	p.GET("/lists/:kind/:month", wrap(h.publicList))
	p.GET("/feed.atom", wrap(h.feed))
}

type stampJSON struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

func stampOut(s *publish.Stamp) *stampJSON {
	if s == nil {
		return nil
	}
	return &stampJSON{At: s.At.In(localtime.Shanghai()), By: s.By}
}

type rowJSON struct {
	N        int    `json:"n"`
	Data     any    `json:"data"`
	Withheld string `json:"withheld,omitempty"`
}

// listJSON is a list as the bureau reviews it.
type listJSON struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	Title     string     `json:"title"`
	Month     string     `json:"month"`
	Version   int        `json:"version"`
	State     string     `json:"state"`
	Revision  int64      `json:"revision"`
	Note      string     `json:"note,omitempty"`
	Count     int        `json:"count"`
	Withheld  int        `json:"withheld"`
	Compiled  stampJSON  `json:"compiled"`
	Published *stampJSON `json:"published,omitempty"`
	Ended     *stampJSON `json:"ended,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Rows      []rowJSON  `json:"rows,omitempty"`
}

func listOut(l publish.List, rows bool) listJSON {
	j := listJSON{ID: l.ID, Kind: string(l.Kind), Title: l.Kind.Title(), Month: string(l.Month), Version: l.Version, State: string(l.State), Revision: l.Rev,
		Note: l.Note, Count: len(l.Rows), Compiled: *stampOut(&l.Compiled), Published: stampOut(l.Published), Ended: stampOut(l.Ended), Reason: l.Reason}
	for _, r := range l.Rows {
		if r.Withheld != "" {
			j.Withheld++
		}
		if rows {
			j.Rows = append(j.Rows, rowJSON{N: r.N, Data: r.Data(), Withheld: r.Withheld})
		}
	}
	if rows && j.Rows == nil {
		j.Rows = []rowJSON{}
	}
	return j
}

type compileBody struct {
	Kind  string `json:"kind" input:"id"`
	Month string `json:"month" input:"id"`
}

func (h *Handler) compile(c *gin.Context) error {
	var b compileBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	k, err := disclosure.ParseKind("kind", b.Kind)
	if err != nil {
		return err
	}
	m, err := disclosure.ParseMonth("month", b.Month)
	if err != nil {
		return err
	}
	l, created, err := h.svc.Compile(c.Request.Context(), auth.Caller(c), k, m)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, listOut(l, true))
	return nil
}

func (h *Handler) list(c *gin.Context) error {
	if err := request.OnlyQuery(c, "state", "kind", "month", export.Param); err != nil {
		return err
	}
	var k disclosure.Kind
	var m disclosure.Month
	var err error
	if s := c.Query("kind"); s != "" {
		if k, err = disclosure.ParseKind("kind", s); err != nil {
			return err
		}
	}
	if s := c.Query("month"); s != "" {
		if m, err = disclosure.ParseMonth("month", s); err != nil {
			return err
		}
	}
	ls, err := h.svc.Lists(c.Request.Context(), auth.Caller(c), publish.State(c.Query("state")), k, m)
	if err != nil {
		return err
	}
	out := export.Each(ls, func(l publish.List) listJSON { return listOut(l, false) })
	return export.Rows(c, "disclosures", gin.H{"items": out}, out)
}

func (h *Handler) get(c *gin.Context) error {
	l, err := h.svc.Get(c.Request.Context(), auth.Caller(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOut(l, true))
	return nil
}

type withholdBody struct {
	Row    int    `json:"row" input:"min=1,max=1000000"`
	Reason string `json:"reason" input:"text"`
}

type publishBody struct {
	Revision int64          `json:"revision" input:"min=0,max=1000000000"`
	Withhold []withholdBody `json:"withhold" input:"items=100000"`
	Note     string         `json:"note" input:"text"`
}

func (h *Handler) publish(c *gin.Context) error {
	var b publishBody
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	ws := make([]publish.Withhold, len(b.Withhold))
	for i, w := range b.Withhold {
		ws[i] = publish.Withhold{Row: w.Row, Reason: w.Reason}
	}
	l, err := h.svc.Publish(c.Request.Context(), auth.Caller(c), c.Param("id"), b.Revision, ws, b.Note)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOut(l, false))
	return nil
}

func (h *Handler) withdraw(c *gin.Context) error {
	var b struct {
		Reason string `json:"reason" input:"text"`
	}
	if err := request.DecodeJSON(c, &b); err != nil {
		return err
	}
	l, err := h.svc.Withdraw(c.Request.Context(), auth.Caller(c), c.Param("id"), b.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOut(l, false))
	return nil
}

// publicListJSON is a published list as the public sees it: never who compiled it, never a
// withheld row, never a reason.
type publicListJSON struct {
	Kind        string    `json:"kind"`
	Title       string    `json:"title"`
	Month       string    `json:"month"`
	Version     int       `json:"version"`
	PublishedAt time.Time `json:"published_at"`
	Note        string    `json:"note,omitempty"`
	Count       int       `json:"count"`
	Rows        []any     `json:"rows,omitempty"`
}

func publicOut(l publish.List, rows bool) publicListJSON {
	pub := l.Public()
	j := publicListJSON{Kind: string(l.Kind), Title: l.Kind.Title(), Month: string(l.Month), Version: l.Version, Note: l.Note, Count: len(pub)}
	if l.Published != nil {
		j.PublishedAt = l.Published.At.In(localtime.Shanghai())
	}
	if rows {
		j.Rows = pub
	}
	return j
}

// publicLimit is how many published lists the index and the feed show.
const publicLimit = 120

func (h *Handler) publicLists(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	ls, err := h.svc.Current(c.Request.Context(), publicLimit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"items": export.Each(ls, func(l publish.List) publicListJSON { return publicOut(l, false) })})
	return nil
}

func (h *Handler) publicList(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	k, err := disclosure.ParseKind("kind", c.Param("kind"))
	if err != nil {
		return err
	}
	m, err := disclosure.ParseMonth("month", c.Param("month"))
	if err != nil {
		return err
	}
	l, err := h.svc.PublicList(c.Request.Context(), k, m)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, publicOut(l, true))
	return nil
}

// Atom (RFC 4287) feed of the published lists.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  atomAuthor  `xml:"author"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomEntry struct {
	ID      string     `xml:"id"`
	Title   string     `xml:"title"`
	Updated string     `xml:"updated"`
	Links   []atomLink `xml:"link"`
	Summary string     `xml:"summary"`
}

func (h *Handler) feed(c *gin.Context) error {
	if err := request.OnlyQuery(c); err != nil {
		return err
	}
	ls, err := h.svc.Current(c.Request.Context(), publicLimit)
	if err != nil {
		return err
	}
	f := atomFeed{Lang: "zh-CN", ID: "urn:clearsky:public:lists", Title: "蓝天保卫战 信息公开", Author: atomAuthor{Name: "生态环境局"},
		Links: []atomLink{{Href: h.baseURL + "/v1/public/feed.atom", Rel: "self", Type: "application/atom+xml"}, {Href: h.baseURL + "/public/", Rel: "alternate", Type: "text/html"}}}
	latest := time.Time{}
	for _, l := range ls {
		at := l.Compiled.At
		if l.Published != nil {
			at = l.Published.At
		}
		if at.After(latest) {
			latest = at
		}
		p := publicOut(l, false)
		f.Entries = append(f.Entries, atomEntry{
			ID:      "urn:clearsky:public:" + string(l.Kind) + ":" + string(l.Month) + ":" + strconv.Itoa(l.Version),
			Title:   string(l.Month) + " " + l.Kind.Title(),
			Updated: at.UTC().Format(time.RFC3339),
			Links: []atomLink{{Href: h.baseURL + "/v1/public/lists/" + string(l.Kind) + "/" + string(l.Month), Rel: "alternate", Type: "application/json"},
				{Href: h.baseURL + "/public/#" + string(l.Kind) + "/" + string(l.Month), Rel: "related", Type: "text/html"}},
			Summary: string(l.Month) + " " + l.Kind.Title() + "，共 " + strconv.Itoa(p.Count) + " 条。" + l.Note,
		})
	}
	if latest.IsZero() {
		latest = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	f.Updated = latest.UTC().Format(time.RFC3339)
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "application/atom+xml; charset=utf-8", append([]byte(xml.Header), out...))
	return nil
}

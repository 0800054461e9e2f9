package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

// Clients sends tasks through the Gupshup client of their family. A nil
// client means the worker has no credentials for that family: its tasks
// are dead-lettered with a reason that says so.
type Clients struct {
	SelfServe  *gupshup.SelfServeClient
	Enterprise *gupshup.EnterpriseClient
	// Partner clients by app id; the task's App picks one, DefaultPartner
	// serves tasks that name none.
	Partner        map[string]*gupshup.PartnerClient
	DefaultPartner string
}

// Send implements Sender: the payload becomes the family's request.
func (c *Clients) Send(ctx context.Context, s *tasks.Send, fallback bool) (gupshup.SendResult, error) {
	tpl := s.Template
	if fallback && s.Fallback != nil {
		tpl = s.Fallback
	}
	switch s.Family {
	case gupshup.SelfServe:
		if c.SelfServe == nil {
			return gupshup.SendResult{}, noCredentials(s.Family)
		}
		if tpl != nil {
			return c.SelfServe.SendTemplate(ctx, selfServeTemplate(s, tpl))
		}
		msg, err := gupshup.DecodeMessage(s.Session)
		if err != nil {
			return gupshup.SendResult{}, err
		}
		return c.SelfServe.Send(ctx, gupshup.SessionMessage{Source: s.Source, Destination: s.Destination, Message: msg})
	case gupshup.Enterprise:
		if c.Enterprise == nil {
			return gupshup.SendResult{}, noCredentials(s.Family)
		}
		return c.sendEnterprise(ctx, s, tpl)
	case gupshup.Partner:
		p := c.partner(s.App)
		if p == nil {
			return gupshup.SendResult{}, noCredentials(s.Family)
		}
		m, err := metaMessage(s, tpl)
		if err != nil {
			return gupshup.SendResult{}, err
		}
		return p.Send(ctx, m)
	}
	return gupshup.SendResult{}, &gupshup.ValidationError{Field: "family", Problem: fmt.Sprintf("unknown %q", s.Family)}
}

// Consent sends an opt-in or opt-out.
func (c *Clients) Consent(ctx context.Context, family gupshup.Family, phone string, in bool) error {
	switch family {
	case gupshup.SelfServe, "":
		if c.SelfServe == nil {
			return noCredentials(gupshup.SelfServe)
		}
		if in {
			return c.SelfServe.OptIn(ctx, phone)
		}
		return c.SelfServe.OptOut(ctx, phone)
	case gupshup.Enterprise:
		if c.Enterprise == nil {
			return noCredentials(family)
		}
		if in {
			return c.Enterprise.OptIn(ctx, phone)
		}
		return c.Enterprise.OptOut(ctx, phone)
	}
	return &gupshup.ValidationError{Field: "family", Problem: fmt.Sprintf("%q has no consent calls", family)}
}

func (c *Clients) partner(app string) *gupshup.PartnerClient {
	if app == "" {
		app = c.DefaultPartner
	}
	return c.Partner[app]
}

func noCredentials(f gupshup.Family) error {
	return &gupshup.ValidationError{Field: "family", Problem: fmt.Sprintf("this worker has no credentials for the %s API", f)}
}

func selfServeTemplate(s *tasks.Send, t *tasks.Template) gupshup.TemplateMessage {
	m := gupshup.TemplateMessage{Source: s.Source, Destination: s.Destination, ID: t.ID, Params: t.Params}
	for _, pb := range t.PostbackTexts {
		m.PostbackTexts = append(m.PostbackTexts, gupshup.PostbackText{Index: pb.Index, Text: pb.Text})
	}
	switch {
	case t.Location != nil:
		m.Media = gupshup.TemplateLocation{Longitude: t.Location.Longitude, Latitude: t.Location.Latitude}
	case t.Media != nil:
		switch t.Media.Type {
		case "image":
			m.Media = gupshup.TemplateImage{Link: t.Media.Link, ID: t.Media.ID}
		case "video":
			m.Media = gupshup.TemplateVideo{Link: t.Media.Link, ID: t.Media.ID}
		case "document":
			m.Media = gupshup.TemplateDocument{Link: t.Media.Link, ID: t.Media.ID, Filename: t.Media.Filename}
		}
	}
	return m
}

// enterpriseSession is the session message of an enterprise task:
// {"type":"text","text":"..."} or a media object.
type enterpriseSession struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	URL      string `json:"url"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

func (c *Clients) sendEnterprise(ctx context.Context, s *tasks.Send, t *tasks.Template) (gupshup.SendResult, error) {
	if t != nil {
		if t.Media != nil {
			return c.Enterprise.SendMedia(ctx, gupshup.EnterpriseMedia{
				To: s.Destination, Type: gupshup.EnterpriseMediaType(strings.ToUpper(t.Media.Type)), URL: t.Media.Link,
				Caption: t.Text, Filename: t.Media.Filename, Template: true, Footer: t.Footer, ButtonURLParam: t.ButtonURLParam,
			})
		}
		return c.Enterprise.SendTemplate(ctx, gupshup.EnterpriseTemplate{
			To: s.Destination, Text: t.Text, Header: t.Header, Footer: t.Footer, ButtonURLParam: t.ButtonURLParam,
		})
	}
	var m enterpriseSession
	if err := json.Unmarshal(s.Session, &m); err != nil {
		return gupshup.SendResult{}, &gupshup.ValidationError{Field: "session", Problem: err.Error()}
	}
	if m.Type == "text" {
		return c.Enterprise.SendText(ctx, gupshup.EnterpriseMessage{To: s.Destination, Text: m.Text})
	}
	return c.Enterprise.SendMedia(ctx, gupshup.EnterpriseMedia{
		To: s.Destination, Type: gupshup.EnterpriseMediaType(strings.ToUpper(m.Type)), URL: m.URL, Caption: m.Caption, Filename: m.Filename,
	})
}

// metaMessage builds the partner (Meta format) message of a task.
func metaMessage(s *tasks.Send, t *tasks.Template) (gupshup.MetaMessage, error) {
	if t == nil {
		m, err := gupshup.DecodeMetaMessage(s.Session)
		if err != nil {
			return m, err
		}
		m.To = s.Destination
		return m, nil
	}
	lang := t.Language
	if lang == "" {
		lang = "en"
	}
	mt := &gupshup.MetaTemplate{Name: t.ID, Language: gupshup.MetaLanguage{Code: lang, Policy: "deterministic"}}
	if len(t.Components) > 0 {
		if err := json.Unmarshal(t.Components, &mt.Components); err != nil {
			return gupshup.MetaMessage{}, &gupshup.ValidationError{Field: "template.components", Problem: err.Error()}
		}
	} else {
		if t.Media != nil {
			media := &gupshup.MetaMedia{Link: t.Media.Link, ID: t.Media.ID}
			p := gupshup.MetaParameter{Type: t.Media.Type}
			switch t.Media.Type {
			case "image":
				p.Image = media
			case "video":
				p.Video = media
			case "document":
				media.Filename = t.Media.Filename // Meta allows a filename on documents only
				p.Document = media
			}
			mt.Components = append(mt.Components, gupshup.MetaComponent{Type: "header", Parameters: []gupshup.MetaParameter{p}})
		}
		if len(t.Params) > 0 {
			body := gupshup.MetaComponent{Type: "body"}
			for _, p := range t.Params {
				body.Parameters = append(body.Parameters, gupshup.MetaParameter{Type: "text", Text: p})
			}
			mt.Components = append(mt.Components, body)
		}
	}
	return gupshup.MetaMessage{To: s.Destination, Type: gupshup.MetaTypeTemplate, Template: mt}, nil
}

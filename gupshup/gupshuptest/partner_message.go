package gupshuptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// partnerMaxBody bounds a v3 request; Meta's own limit is far below it.
const partnerMaxBody = 1 << 20

// partnerObjectFields are the top-level fields holding an object or array;
// in the form-encoded shape each is a field of JSON text.
var partnerObjectFields = map[string]bool{
	"context": true, "text": true, "image": true, "audio": true, "video": true,
	"document": true, "sticker": true, "reaction": true, "location": true,
	"contacts": true, "interactive": true, "template": true,
}

// partnerMsg is a v3 send that passed validation.
type partnerMsg struct {
	to, waID     string
	typ          string
	templateName string
	// flow names the flow an interactive flow message opens, for the check
	// that it exists and may be sent.
	flowID, flowName, flowMode string
	payload                    map[string]string
}

// The errors Meta answers a malformed send with: the code and its title,
// details naming the parameter.
func partnerInvalid(details string) *partnerMetaError {
	return &partnerMetaError{code: 100, title: "Invalid parameter", details: details}
}

func partnerMissing(param string) *partnerMetaError {
	return &partnerMetaError{code: 131008, title: "Required parameter is missing", details: "Parameter '" + param + "' is required"}
}

func partnerBadValue(param, why string) *partnerMetaError {
	return &partnerMetaError{code: 131009, title: "Parameter value is not valid", details: "Parameter '" + param + "' " + why}
}

func partnerUnsupported(what string) *partnerMetaError {
	return &partnerMetaError{code: 131051, title: "Unsupported message type", details: what + " is not supported"}
}

// parsePartnerMessage reads a v3 send, JSON or form-encoded, and checks it
// the way Meta does before anything is accepted.
func parsePartnerMessage(r *http.Request) (partnerMsg, *partnerMetaError) {
	var m partnerMsg
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, partnerMaxBody))
	if err != nil {
		return m, partnerInvalid("the request body could not be read: " + err.Error())
	}
	fields := map[string]json.RawMessage{}
	payload := map[string]string{}
	ct := r.Header.Get("Content-Type")
	trimmed := bytes.TrimSpace(body)
	if strings.Contains(ct, "json") || (!strings.Contains(ct, "form") && len(trimmed) > 0 && trimmed[0] == '{') {
		if err := json.Unmarshal(body, &fields); err != nil {
			return m, partnerInvalid("the request body is not a JSON object")
		}
		for k, v := range fields {
			payload[k] = partnerRawText(v)
		}
	} else {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return m, partnerInvalid("the request body is neither JSON nor a form")
		}
		for k, vs := range vals {
			v := vs[0]
			payload[k] = v
			if partnerObjectFields[k] {
				t := strings.TrimSpace(v)
				if !json.Valid([]byte(t)) {
					return m, partnerBadValue(k, "is not valid JSON")
				}
				fields[k] = json.RawMessage(t)
				continue
			}
			fields[k], _ = json.Marshal(v)
		}
	}
	m.payload = payload

	product, perr := partnerString(fields, "messaging_product")
	if perr != nil {
		return m, perr
	}
	switch product {
	case "":
		return m, partnerInvalid("The parameter messaging_product is required.")
	case "whatsapp":
	default:
		return m, partnerBadValue("messaging_product", "must be whatsapp")
	}
	rt, perr := partnerString(fields, "recipient_type")
	if perr != nil {
		return m, perr
	}
	if rt != "" && rt != "individual" {
		return m, partnerBadValue("recipient_type", "must be individual")
	}
	if m.to, perr = partnerString(fields, "to"); perr != nil {
		return m, perr
	}
	if m.to == "" {
		return m, partnerMissing("to")
	}
	var ok bool
	if m.waID, ok = partnerPhone(m.to); !ok {
		return m, partnerBadValue("to", "is not a phone number in E.164 format")
	}
	if m.typ, perr = partnerString(fields, "type"); perr != nil {
		return m, perr
	}
	if m.typ == "" {
		return m, partnerMissing("type")
	}
	if raw, ok := fields["context"]; ok {
		var c struct {
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(raw, &c) != nil {
			return m, partnerBadValue("context", "must be an object")
		}
		if c.MessageID == "" {
			return m, partnerMissing("context.message_id")
		}
	}
	check, known := partnerChecks[m.typ]
	if !known {
		return m, partnerUnsupported("Message type '" + m.typ + "'")
	}
	raw, ok := fields[m.typ]
	if !ok || string(raw) == "null" {
		return m, partnerMissing(m.typ)
	}
	if perr := check(&m, raw); perr != nil {
		return m, perr
	}
	return m, nil
}

// partnerChecks validates the object of each message type.
var partnerChecks = map[string]func(*partnerMsg, json.RawMessage) *partnerMetaError{
	"text":        partnerCheckText,
	"image":       partnerMediaCheck("image"),
	"audio":       partnerMediaCheck("audio"),
	"video":       partnerMediaCheck("video"),
	"document":    partnerMediaCheck("document"),
	"sticker":     partnerMediaCheck("sticker"),
	"reaction":    partnerCheckReaction,
	"location":    partnerCheckLocation,
	"contacts":    partnerCheckContacts,
	"interactive": partnerCheckInteractive,
	"template":    partnerCheckTemplate,
}

func partnerCheckText(_ *partnerMsg, raw json.RawMessage) *partnerMetaError {
	var t struct {
		Body *string `json:"body"`
	}
	if json.Unmarshal(raw, &t) != nil {
		return partnerBadValue("text", "must be an object with a string body")
	}
	if t.Body == nil || *t.Body == "" {
		return partnerMissing("text.body")
	}
	if n := len([]rune(*t.Body)); n > 4096 {
		return partnerBadValue("text.body", fmt.Sprintf("is %d characters long, the limit is 4096", n))
	}
	return nil
}

type partnerMedia struct {
	ID       string `json:"id"`
	Link     string `json:"link"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

func partnerMediaCheck(kind string) func(*partnerMsg, json.RawMessage) *partnerMetaError {
	return func(_ *partnerMsg, raw json.RawMessage) *partnerMetaError {
		var md partnerMedia
		if json.Unmarshal(raw, &md) != nil {
			return partnerBadValue(kind, "must be an object with link or id")
		}
		return partnerCheckMedia(kind, kind, &md)
	}
}

func partnerCheckMedia(param, kind string, md *partnerMedia) *partnerMetaError {
	switch {
	case md == nil || (md.ID == "" && md.Link == ""):
		return partnerMissing(param + ".link or " + param + ".id")
	case md.ID != "" && md.Link != "":
		return partnerBadValue(param, "must have link or id, not both")
	case md.Link != "" && !partnerURL(md.Link):
		return partnerBadValue(param+".link", "is not an http or https URL")
	case md.Caption != "" && (kind == "audio" || kind == "sticker"):
		return partnerBadValue(param+".caption", "is not allowed for "+kind)
	case md.Filename != "" && kind != "document":
		return partnerBadValue(param+".filename", "is allowed for document only")
	}
	return nil
}

func partnerCheckReaction(_ *partnerMsg, raw json.RawMessage) *partnerMetaError {
	var re struct {
		MessageID string  `json:"message_id"`
		Emoji     *string `json:"emoji"`
	}
	if json.Unmarshal(raw, &re) != nil {
		return partnerBadValue("reaction", "must be an object")
	}
	if re.MessageID == "" {
		return partnerMissing("reaction.message_id")
	}
	// Present but empty removes a reaction; absent is an error.
	if re.Emoji == nil {
		return partnerMissing("reaction.emoji")
	}
	return nil
}

func partnerCheckLocation(_ *partnerMsg, raw json.RawMessage) *partnerMetaError {
	return partnerCheckCoordinates("location", raw)
}

func partnerCheckCoordinates(param string, raw json.RawMessage) *partnerMetaError {
	var l struct {
		Latitude  json.RawMessage `json:"latitude"`
		Longitude json.RawMessage `json:"longitude"`
	}
	if json.Unmarshal(raw, &l) != nil {
		return partnerBadValue(param, "must be an object")
	}
	for _, c := range []struct {
		name  string
		raw   json.RawMessage
		limit float64
	}{{"latitude", l.Latitude, 90}, {"longitude", l.Longitude, 180}} {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			return partnerMissing(param + "." + c.name)
		}
		s := strings.Trim(string(c.raw), `"`)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return partnerBadValue(param+"."+c.name, "is not a number")
		}
		if f < -c.limit || f > c.limit {
			return partnerBadValue(param+"."+c.name, "is out of range")
		}
	}
	return nil
}

func partnerCheckContacts(_ *partnerMsg, raw json.RawMessage) *partnerMetaError {
	var cs []struct {
		Name *struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
	}
	if json.Unmarshal(raw, &cs) != nil {
		return partnerBadValue("contacts", "must be an array of contacts")
	}
	if len(cs) == 0 {
		return partnerMissing("contacts[0]")
	}
	for i, c := range cs {
		if c.Name == nil {
			return partnerMissing(fmt.Sprintf("contacts[%d].name", i))
		}
		if c.Name.FormattedName == "" {
			return partnerMissing(fmt.Sprintf("contacts[%d].name.formatted_name", i))
		}
	}
	return nil
}

type partnerInteractive struct {
	Type   string `json:"type"`
	Header *struct {
		Type     string        `json:"type"`
		Text     string        `json:"text"`
		Image    *partnerMedia `json:"image"`
		Video    *partnerMedia `json:"video"`
		Document *partnerMedia `json:"document"`
	} `json:"header"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Action *struct {
		Button  string `json:"button"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"rows"`
		} `json:"sections"`
		Name       string `json:"name"`
		Parameters *struct {
			FlowMessageVersion string `json:"flow_message_version"`
			FlowID             string `json:"flow_id"`
			FlowName           string `json:"flow_name"`
			FlowCTA            string `json:"flow_cta"`
			FlowAction         string `json:"flow_action"`
			Mode               string `json:"mode"`
			Country            string `json:"country"`
			DisplayText        string `json:"display_text"`
			URL                string `json:"url"`
		} `json:"parameters"`
	} `json:"action"`
}

func partnerCheckInteractive(m *partnerMsg, raw json.RawMessage) *partnerMetaError {
	var in partnerInteractive
	if err := json.Unmarshal(raw, &in); err != nil {
		return partnerBadValue("interactive", "is not a valid interactive object")
	}
	switch in.Type {
	case "":
		return partnerMissing("interactive.type")
	case "list", "button", "flow", "address_message", "cta_url", "location_request_message":
	default:
		return partnerUnsupported("Interactive type '" + in.Type + "'")
	}
	if h := in.Header; h != nil {
		switch h.Type {
		case "text":
			if h.Text == "" {
				return partnerMissing("interactive.header.text")
			}
		case "image", "video", "document":
			if in.Type == "list" {
				return partnerBadValue("interactive.header.type", "must be text for a list")
			}
			md := map[string]*partnerMedia{"image": h.Image, "video": h.Video, "document": h.Document}[h.Type]
			if perr := partnerCheckMedia("interactive.header."+h.Type, h.Type, md); perr != nil {
				return perr
			}
		case "":
			return partnerMissing("interactive.header.type")
		default:
			return partnerBadValue("interactive.header.type", "must be text, image, video or document")
		}
	}
	if in.Body == nil || in.Body.Text == "" {
		return partnerMissing("interactive.body.text")
	}
	a := in.Action
	if a == nil {
		return partnerMissing("interactive.action")
	}
	wantName := map[string]string{"flow": "flow", "address_message": "address_message", "cta_url": "cta_url", "location_request_message": "send_location"}[in.Type]
	if wantName != "" && a.Name != wantName {
		return partnerBadValue("interactive.action.name", "must be "+wantName)
	}
	switch in.Type {
	case "list":
		if a.Button == "" {
			return partnerMissing("interactive.action.button")
		}
		if len(a.Sections) == 0 {
			return partnerMissing("interactive.action.sections")
		}
		rows := 0
		for i, s := range a.Sections {
			if len(s.Rows) == 0 {
				return partnerMissing(fmt.Sprintf("interactive.action.sections[%d].rows", i))
			}
			if len(a.Sections) > 1 && s.Title == "" {
				return partnerMissing(fmt.Sprintf("interactive.action.sections[%d].title", i))
			}
			for j, row := range s.Rows {
				if row.ID == "" {
					return partnerMissing(fmt.Sprintf("interactive.action.sections[%d].rows[%d].id", i, j))
				}
				if row.Title == "" {
					return partnerMissing(fmt.Sprintf("interactive.action.sections[%d].rows[%d].title", i, j))
				}
			}
			rows += len(s.Rows)
		}
		if rows > 10 {
			return partnerBadValue("interactive.action.sections", "have more than 10 rows")
		}
	case "button":
		if len(a.Buttons) == 0 {
			return partnerMissing("interactive.action.buttons")
		}
		if len(a.Buttons) > 3 {
			return partnerBadValue("interactive.action.buttons", "has more than 3 buttons")
		}
		for i, b := range a.Buttons {
			if b.Type != "reply" {
				return partnerBadValue(fmt.Sprintf("interactive.action.buttons[%d].type", i), "must be reply")
			}
			if b.Reply.ID == "" {
				return partnerMissing(fmt.Sprintf("interactive.action.buttons[%d].reply.id", i))
			}
			if b.Reply.Title == "" {
				return partnerMissing(fmt.Sprintf("interactive.action.buttons[%d].reply.title", i))
			}
		}
	case "flow":
		p := a.Parameters
		switch {
		case p == nil:
			return partnerMissing("interactive.action.parameters")
		case p.FlowMessageVersion == "":
			return partnerMissing("interactive.action.parameters.flow_message_version")
		case p.FlowID == "" && p.FlowName == "":
			return partnerMissing("interactive.action.parameters.flow_id")
		case p.FlowCTA == "":
			return partnerMissing("interactive.action.parameters.flow_cta")
		case p.FlowAction != "" && p.FlowAction != "navigate" && p.FlowAction != "data_exchange":
			return partnerBadValue("interactive.action.parameters.flow_action", "must be navigate or data_exchange")
		}
		m.flowID, m.flowName, m.flowMode = p.FlowID, p.FlowName, p.Mode
	case "address_message":
		if a.Parameters == nil || a.Parameters.Country == "" {
			return partnerMissing("interactive.action.parameters.country")
		}
	case "cta_url":
		p := a.Parameters
		switch {
		case p == nil || p.DisplayText == "":
			return partnerMissing("interactive.action.parameters.display_text")
		case p.URL == "":
			return partnerMissing("interactive.action.parameters.url")
		case !partnerURL(p.URL):
			return partnerBadValue("interactive.action.parameters.url", "is not an http or https URL")
		}
	}
	return nil
}

type partnerComponent struct {
	Type       string                       `json:"type"`
	SubType    string                       `json:"sub_type"`
	Index      json.RawMessage              `json:"index"`
	Parameters []map[string]json.RawMessage `json:"parameters"`
	Cards      []struct {
		Components []partnerComponent `json:"components"`
	} `json:"cards"`
}

func partnerCheckTemplate(m *partnerMsg, raw json.RawMessage) *partnerMetaError {
	var t struct {
		Name     string `json:"name"`
		Language *struct {
			Code   string `json:"code"`
			Policy string `json:"policy"`
		} `json:"language"`
		Components []partnerComponent `json:"components"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return partnerBadValue("template", "is not a valid template object")
	}
	if t.Name == "" {
		return partnerMissing("template.name")
	}
	if t.Language == nil || t.Language.Code == "" {
		return partnerMissing("template.language.code")
	}
	if p := t.Language.Policy; p != "" && p != "deterministic" {
		return partnerBadValue("template.language.policy", "must be deterministic")
	}
	m.templateName = t.Name
	return partnerCheckComponents("template.components", t.Components)
}

func partnerCheckComponents(prefix string, cs []partnerComponent) *partnerMetaError {
	for i, c := range cs {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		switch c.Type {
		case "":
			return partnerMissing(f + ".type")
		case "header", "body", "footer", "limited_time_offer":
		case "button":
			if c.SubType == "" {
				return partnerMissing(f + ".sub_type")
			}
			idx := strings.Trim(string(c.Index), `"`)
			if idx == "" || idx == "null" {
				return partnerMissing(f + ".index")
			}
			if n, err := strconv.Atoi(idx); err != nil || n < 0 || n > 9 {
				return partnerBadValue(f+".index", "must be 0 to 9")
			}
		case "carousel":
			if len(c.Cards) == 0 {
				return partnerMissing(f + ".cards")
			}
			for j, card := range c.Cards {
				if perr := partnerCheckComponents(fmt.Sprintf("%s.cards[%d].components", f, j), card.Components); perr != nil {
					return perr
				}
			}
		default:
			return partnerBadValue(f+".type", "is not a template component type")
		}
		for j, p := range c.Parameters {
			pf := fmt.Sprintf("%s.parameters[%d]", f, j)
			var typ string
			if json.Unmarshal(p["type"], &typ) != nil || typ == "" {
				return partnerMissing(pf + ".type")
			}
			switch typ {
			case "text", "payload", "coupon_code", "currency", "date_time", "location", "limited_time_offer", "action":
				if v, ok := p[typ]; !ok || string(v) == "null" || string(v) == `""` {
					return partnerMissing(pf + "." + typ)
				}
				if typ == "location" {
					if perr := partnerCheckCoordinates(pf+".location", p[typ]); perr != nil {
						return perr
					}
				}
			case "image", "video", "document":
				var md partnerMedia
				if json.Unmarshal(p[typ], &md) != nil {
					return partnerMissing(pf + "." + typ)
				}
				if perr := partnerCheckMedia(pf+"."+typ, typ, &md); perr != nil {
					return perr
				}
			default:
				return partnerBadValue(pf+".type", "is not a template parameter type")
			}
		}
	}
	return nil
}

// partnerString reads a top-level field that must be a string.
func partnerString(fields map[string]json.RawMessage, key string) (string, *partnerMetaError) {
	raw, ok := fields[key]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", partnerBadValue(key, "must be a string")
	}
	return s, nil
}

// partnerPhone takes E.164 with or without the "+" and returns the digits:
// Meta formats the number it is given into wa_id.
func partnerPhone(s string) (string, bool) {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "", false
		}
	}
	return d, true
}

func partnerURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// partnerRawText is a JSON value as recorded: strings unquoted, anything
// else as its JSON text.
func partnerRawText(v json.RawMessage) string {
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/waqueue/waqueue/gupshup"
)

// Limits on identifiers. A message id becomes an asynq task id and part of
// Redis keys, so it is kept short and printable. A campaign id is held to
// half of that so that the id derived from it and a destination
// (CampaignMessageID) always fits within MaxMessageID.
const (
	MaxMessageID  = 128
	MaxCampaignID = 64
	maxApp        = 128
	maxTemplateID = 512
)

// Normalize rewrites what has one obvious canonical form: phone numbers to
// the E.164 digits Gupshup wants ("+91 98765-43210" becomes "919876543210"),
// and a JSON null session to no session. Whatever it cannot make sense of
// it leaves as it is for Validate to report, so it never fails.
func (s *Send) Normalize() {
	if n, err := gupshup.NormalizePhone(s.Destination); err == nil {
		s.Destination = n
	}
	if n, err := gupshup.NormalizePhone(s.Source); err == nil {
		s.Source = n
	}
	if !present(s.Session) {
		s.Session = nil
	}
}

// Validate checks everything the worker relies on, so that a task that
// reaches Redis can only fail for reasons outside the payload. It returns the
// first problem found as a *ValidationError. It does not look at the clock:
// an expires_at in the past is valid (the worker records the message as
// expired), and NewSendTask refuses it on the producer side.
func (s *Send) Validate() error {
	if err := checkVersion(s.V); err != nil {
		return err
	}
	if err := checkID("message_id", s.MessageID, MaxMessageID, true); err != nil {
		return err
	}
	if err := checkID("campaign_id", s.CampaignID, MaxCampaignID, false); err != nil {
		return err
	}
	if err := checkFamily(s.Family); err != nil {
		return err
	}
	if err := checkPhone("source", s.Source); err != nil {
		return err
	}
	if err := checkID("app", s.App, maxApp, false); err != nil {
		return err
	}
	if err := checkPhone("destination", s.Destination); err != nil {
		return err
	}
	if s.Destination == s.Source {
		return invalid("destination", "is the source number itself")
	}
	hasSession := present(s.Session)
	switch {
	case s.Template != nil && hasSession:
		return invalid("template", "set together with session; exactly one of template and session is allowed")
	case s.Template == nil && !hasSession:
		return invalid("template", "missing; exactly one of template and session is required")
	case s.Template != nil:
		if err := checkTemplate("template", s.Template, s.Family); err != nil {
			return err
		}
	default:
		if err := checkSession(s.Session, s.Family); err != nil {
			return err
		}
	}
	if s.Fallback != nil {
		if !hasSession {
			return invalid("fallback_template", "only allowed with session (it replaces a session message when the 24-hour window is closed)")
		}
		if err := checkTemplate("fallback_template", s.Fallback, s.Family); err != nil {
			return err
		}
	}
	if s.Generation < 0 {
		return invalid("gen", "%d is negative", s.Generation)
	}
	// expires_at is optional: without it a message is worth sending for as
	// long as its retries last.
	if s.ExpiresAt != nil && s.ExpiresAt.IsZero() {
		return invalid("expires_at", "is the zero time")
	}
	return nil
}

// Normalize rewrites the phone to its canonical E.164 digits when it can.
func (c *Consent) Normalize() {
	if n, err := gupshup.NormalizePhone(c.Phone); err == nil {
		c.Phone = n
	}
}

// Validate checks a consent payload the way Send.Validate checks a send.
func (c *Consent) Validate() error {
	if err := checkVersion(c.V); err != nil {
		return err
	}
	if err := checkFamily(c.Family); err != nil {
		return err
	}
	if err := checkID("app", c.App, maxApp, false); err != nil {
		return err
	}
	return checkPhone("phone", c.Phone)
}

func checkVersion(v int) error {
	switch {
	case v == 0:
		return invalid("v", "missing; the schema version must be 1..%d", PayloadVersion)
	case v < 0:
		return invalid("v", "%d is not a schema version (want 1..%d)", v, PayloadVersion)
	case v > PayloadVersion:
		return &ValidationError{
			Field:   "v",
			Problem: fmt.Sprintf("version %d is newer than this build supports (%d); upgrade it", v, PayloadVersion),
			Err:     ErrNewerVersion,
		}
	}
	return nil
}

// checkID accepts printable text without whitespace. Braces are refused
// too: ids end up inside Redis hash tags (store.MessageKey), where a "}"
// would cut the tag short and move the key to another cluster slot.
func checkID(field, v string, limit int, required bool) error {
	if v == "" {
		if required {
			return invalid(field, "missing")
		}
		return nil
	}
	if len(v) > limit {
		return invalid(field, "is %d bytes long, at most %d allowed", len(v), limit)
	}
	if plainASCII(v) {
		return nil
	}
	if !utf8.ValidString(v) {
		return invalid(field, "not valid UTF-8")
	}
	for _, r := range v {
		switch {
		case unicode.IsSpace(r):
			return invalid(field, "contains whitespace %q", r)
		case unicode.IsControl(r) || !unicode.IsPrint(r):
			return invalid(field, "contains the unprintable character %q", r)
		case r == '{' || r == '}':
			return invalid(field, "contains %q, which Redis key hash tags reserve", r)
		}
	}
	return nil
}

// plainASCII reports whether v is printable ASCII without space or braces,
// which almost every id is: checkID then needs no Unicode tables, which cost
// a tenth of the enqueuer's CPU on a campaign.
func plainASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

func checkFamily(f gupshup.Family) error {
	switch {
	case f == "":
		return invalid("family", "missing (want selfserve, enterprise or partner)")
	case !f.Valid():
		return invalid("family", "unknown %q (want selfserve, enterprise or partner)", string(f))
	}
	return nil
}

func checkPhone(field, v string) error {
	if v == "" {
		return invalid(field, "missing")
	}
	n, err := gupshup.NormalizePhone(v)
	if err != nil {
		return &ValidationError{Field: field, Problem: err.Error(), Err: err}
	}
	if n != v {
		return invalid(field, "not in canonical form: want %q (digits only, no +)", n)
	}
	return nil
}

// Media header types a template can carry.
var templateMediaTypes = map[string]bool{"image": true, "video": true, "document": true}

func checkTemplate(field string, t *Template, fam gupshup.Family) error {
	if fam == gupshup.Enterprise {
		// The Enterprise Gateway finds a template by its filled text, not by id.
		if t.Text == "" {
			return invalid(field+".text", "missing; enterprise templates are sent as their filled-in text")
		}
	} else if t.ID == "" {
		return invalid(field+".id", "missing")
	}
	if t.ID != "" {
		if err := checkID(field+".id", t.ID, maxTemplateID, false); err != nil {
			return err
		}
	}
	if t.Language != "" && !validLanguage(t.Language) {
		return invalid(field+".language", "%q is not a language code like en or pt_BR", t.Language)
	}
	for i, p := range t.Params {
		// The field name is built only for an error: this loop runs for
		// every param of every send, on both sides of the queue.
		f := func() string { return fmt.Sprintf("%s.params[%d]", field, i) }
		if strings.TrimSpace(p) == "" {
			return invalid(f(), "empty")
		}
		if !utf8.ValidString(p) {
			return invalid(f(), "not valid UTF-8")
		}
		// WhatsApp refuses such a parameter (error 132018) after Gupshup has
		// accepted the send; a CSV cell with an embedded line break is the
		// usual way one gets here.
		if strings.ContainsAny(p, "\n\r\t") || strings.Contains(p, "     ") {
			return invalid(f(), "contains a line break, a tab or more than 4 spaces in a row, which WhatsApp refuses")
		}
	}
	for _, v := range []struct{ name, text string }{
		{"text", t.Text}, {"header", t.Header}, {"footer", t.Footer}, {"button_url_param", t.ButtonURLParam},
	} {
		if !utf8.ValidString(v.text) {
			return invalid(field+"."+v.name, "not valid UTF-8")
		}
	}
	if t.Media != nil && t.Location != nil {
		return invalid(field, "media and location are both set; a template has one header")
	}
	if m := t.Media; m != nil {
		f := field + ".media"
		if !templateMediaTypes[m.Type] {
			return invalid(f+".type", "unknown %q (want image, video or document)", m.Type)
		}
		switch {
		case m.Link == "" && m.ID == "":
			return invalid(f+".link", "missing; a media header needs link or id")
		case m.Link != "" && m.ID != "":
			return invalid(f, "link and id are both set; give one")
		case m.Link != "":
			if err := checkURL(f+".link", m.Link); err != nil {
				return err
			}
		}
	}
	if l := t.Location; l != nil {
		f := field + ".location"
		if err := checkCoordinate(f+".latitude", l.Latitude, 90); err != nil {
			return err
		}
		if err := checkCoordinate(f+".longitude", l.Longitude, 180); err != nil {
			return err
		}
	}
	seen := make(map[int]bool, len(t.PostbackTexts))
	for i, p := range t.PostbackTexts {
		f := fmt.Sprintf("%s.postback_texts[%d]", field, i)
		switch {
		case p.Index < 0:
			return invalid(f+".index", "%d is negative", p.Index)
		case seen[p.Index]:
			return invalid(f+".index", "%d appears twice", p.Index)
		case p.Text == "":
			return invalid(f+".text", "empty")
		}
		seen[p.Index] = true
	}
	if present(t.Components) && jsonKind(t.Components) != '[' {
		return invalid(field+".components", "not a JSON array")
	}
	return nil
}

// validLanguage accepts the shapes of WhatsApp template language codes:
// "en", "fil", "en_US", "zh_HK", and the hyphenated spelling some tools use.
func validLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(strings.ReplaceAll(s, "-", "_"), "_")
	if len(lang) < 2 || len(lang) > 3 || !letters(lang) {
		return false
	}
	return !hasRegion || (len(region) >= 2 && len(region) <= 4 && letters(region))
}

func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func checkURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "%q is not an absolute http(s) URL", v)
	}
	return nil
}

func checkCoordinate(field, v string, limit float64) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < -limit || f > limit || f != f {
		return invalid(field, "%q is not a number between %g and %g", v, -limit, limit)
	}
	return nil
}

// Session message types each family can send, as GUPSHUP.md lists them.
// Checking them here turns a session written for the wrong family into a
// rejected row at enqueue time instead of a dead letter hours later.
var sessionTypes = map[gupshup.Family]map[string]bool{
	gupshup.SelfServe: set("text", "image", "video", "audio", "file", "sticker", "location",
		"contact", "list", "quick_reply", "reaction"),
	gupshup.Partner: set("text", "image", "audio", "video", "document", "sticker", "reaction",
		"location", "contacts", "interactive"),
	gupshup.Enterprise: set("text", "image", "video", "document", "audio"),
}

func set(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func checkSession(raw json.RawMessage, fam gupshup.Family) error {
	if jsonKind(raw) != '{' || !json.Valid(raw) {
		return invalid("session", "not a JSON object")
	}
	var head struct {
		Type json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return invalid("session", "not a JSON object")
	}
	if !present(head.Type) {
		return invalid("session.type", "missing")
	}
	var typ string
	if err := json.Unmarshal(head.Type, &typ); err != nil {
		return invalid("session.type", "not a string")
	}
	if !sessionTypes[fam][typ] {
		return invalid("session.type", "%q is not a session message type of the %s family", typ, fam)
	}
	return nil
}

// present reports whether a raw JSON field holds a value: absent and an
// explicit null mean the same to every producer.
func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

// jsonKind is the first significant byte of a JSON value: '{', '[', '"', ...
func jsonKind(raw json.RawMessage) byte {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

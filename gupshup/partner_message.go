package gupshup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Message types of the partner v3 API, spelled as Meta spells them in the
// "type" field.
const (
	MetaTypeText        = "text"
	MetaTypeImage       = "image"
	MetaTypeAudio       = "audio"
	MetaTypeVideo       = "video"
	MetaTypeDocument    = "document"
	MetaTypeSticker     = "sticker"
	MetaTypeReaction    = "reaction"
	MetaTypeLocation    = "location"
	MetaTypeContacts    = "contacts"
	MetaTypeInteractive = "interactive"
	MetaTypeTemplate    = "template"
)

// MetaMessage is one message in the Meta Cloud API format that the partner
// v3 passthrough relays unchanged. Exactly one of the type objects is set,
// the one named by Type. It marshals to the JSON Meta documents; empty
// MessagingProduct, RecipientType and Type are filled in on the way out
// ("whatsapp", "individual", and the type of the one object that is set),
// so callers may leave them out.
type MetaMessage struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type,omitempty"`
	// To is the recipient's phone number; Send normalizes it to E.164 digits.
	To   string `json:"to"`
	Type string `json:"type"`
	// Context makes the message a reply to an earlier one.
	Context *MetaContext `json:"context,omitempty"`
	// BizOpaqueCallbackData comes back in the status callbacks of this message.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`

	Text        *MetaText        `json:"text,omitempty"`
	Image       *MetaMedia       `json:"image,omitempty"`
	Audio       *MetaMedia       `json:"audio,omitempty"`
	Video       *MetaMedia       `json:"video,omitempty"`
	Document    *MetaMedia       `json:"document,omitempty"`
	Sticker     *MetaMedia       `json:"sticker,omitempty"`
	Reaction    *MetaReaction    `json:"reaction,omitempty"`
	Location    *MetaLocation    `json:"location,omitempty"`
	Contacts    []MetaContact    `json:"contacts,omitempty"`
	Interactive *MetaInteractive `json:"interactive,omitempty"`
	Template    *MetaTemplate    `json:"template,omitempty"`
}

// MetaContext names the message being replied to by its WhatsApp or Gupshup id.
type MetaContext struct {
	MessageID string `json:"message_id"`
}

// MetaText is a text message. PreviewURL asks WhatsApp to render a preview
// of the first URL in Body.
type MetaText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// MetaMedia is an image, audio, video, document or sticker, given by a
// public Link or by the ID of uploaded media. Caption is for image, video and
// document; Filename for document only.
type MetaMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// MetaReaction puts Emoji on an earlier message; an empty Emoji removes the
// reaction, which is why it is always sent.
type MetaReaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// MetaLocation is a pin on the map.
type MetaLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// UnmarshalJSON takes coordinates as numbers (Meta's reference) and as
// strings (Gupshup's own samples and hand-written payloads).
func (l *MetaLocation) UnmarshalJSON(b []byte) error {
	var raw struct {
		Latitude  json.RawMessage `json:"latitude"`
		Longitude json.RawMessage `json:"longitude"`
		Name      string          `json:"name"`
		Address   string          `json:"address"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	lat, err := metaFloat(raw.Latitude)
	if err != nil {
		return fmt.Errorf("latitude: %w", err)
	}
	lng, err := metaFloat(raw.Longitude)
	if err != nil {
		return fmt.Errorf("longitude: %w", err)
	}
	*l = MetaLocation{Latitude: lat, Longitude: lng, Name: raw.Name, Address: raw.Address}
	return nil
}

// MetaContact is one contact card of a contacts message.
type MetaContact struct {
	Addresses []MetaContactAddress `json:"addresses,omitempty"`
	Birthday  string               `json:"birthday,omitempty"` // YYYY-MM-DD
	Emails    []MetaContactEmail   `json:"emails,omitempty"`
	Name      MetaContactName      `json:"name"`
	Org       *MetaContactOrg      `json:"org,omitempty"`
	Phones    []MetaContactPhone   `json:"phones,omitempty"`
	URLs      []MetaContactURL     `json:"urls,omitempty"`
}

// MetaContactName needs FormattedName and at least one of the other parts.
type MetaContactName struct {
	FormattedName string `json:"formatted_name"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

type MetaContactAddress struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"` // HOME or WORK
}

type MetaContactEmail struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

type MetaContactOrg struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

type MetaContactPhone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WaID  string `json:"wa_id,omitempty"`
}

type MetaContactURL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// MarshalJSON fills in the constant fields and the type, so that a message
// built with only To and one object is complete on the wire.
func (m MetaMessage) MarshalJSON() ([]byte, error) {
	type plain MetaMessage
	return json.Marshal(plain(m.withDefaults()))
}

func (m MetaMessage) withDefaults() MetaMessage {
	if m.MessagingProduct == "" {
		m.MessagingProduct = "whatsapp"
	}
	if m.RecipientType == "" {
		m.RecipientType = "individual"
	}
	if m.Type == "" {
		if set := m.objectsSet(); len(set) == 1 {
			m.Type = set[0]
		}
	}
	return m
}

// objectsSet lists the type objects present, in a fixed order.
func (m *MetaMessage) objectsSet() []string {
	var out []string
	add := func(present bool, name string) {
		if present {
			out = append(out, name)
		}
	}
	add(m.Text != nil, MetaTypeText)
	add(m.Image != nil, MetaTypeImage)
	add(m.Audio != nil, MetaTypeAudio)
	add(m.Video != nil, MetaTypeVideo)
	add(m.Document != nil, MetaTypeDocument)
	add(m.Sticker != nil, MetaTypeSticker)
	add(m.Reaction != nil, MetaTypeReaction)
	add(m.Location != nil, MetaTypeLocation)
	add(m.Contacts != nil, MetaTypeContacts)
	add(m.Interactive != nil, MetaTypeInteractive)
	add(m.Template != nil, MetaTypeTemplate)
	return out
}

// metaObjectFields are the top-level fields whose value is an object or
// array: the ones the form-encoded shape carries as JSON text.
var metaObjectFields = map[string]bool{
	"context": true, "text": true, "image": true, "audio": true, "video": true,
	"document": true, "sticker": true, "reaction": true, "location": true,
	"contacts": true, "interactive": true, "template": true,
}

// DecodeMetaMessage reads a message written in Meta's JSON, the format the
// task payload carries. Other services write that JSON by hand, so it also
// takes the shapes Gupshup's own samples use: a type object given as a
// string of JSON (as in the form-encoded request), "to" as a number,
// coordinates as strings and a button index as a number. It does not
// validate; call Validate (Send does).
func DecodeMetaMessage(b []byte) (MetaMessage, error) {
	var m MetaMessage
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return m, &ValidationError{Field: "message", Problem: "not a JSON object: " + err.Error()}
	}
	// In a fixed order, so that of several faults the same one is reported.
	keys := slices.Sorted(maps.Keys(raw))
	for _, k := range keys {
		v := bytes.TrimSpace(raw[k])
		switch {
		case len(v) > 0 && v[0] == '"' && metaObjectFields[k]:
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return m, invalid(k, "%v", err)
			}
			inner := bytes.TrimSpace([]byte(s))
			if !json.Valid(inner) {
				return m, invalid(k, "string is not JSON")
			}
			raw[k] = inner
		case k == "to" && len(v) > 0 && v[0] != '"' && string(v) != "null":
			// A phone written as a bare number; keep its digits exactly.
			var n json.Number
			if err := json.Unmarshal(v, &n); err != nil {
				return m, invalid("to", "must be a string of digits")
			}
			raw[k] = strconv.AppendQuote(nil, n.String())
		}
	}
	// One field at a time, so that the error names the field at fault.
	type plain MetaMessage
	var p plain
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: raw[k]})
		if err := json.Unmarshal(one, &p); err != nil {
			field, problem := metaJSONProblem(err)
			if field == "" {
				field = k
			}
			return m, &ValidationError{Field: field, Problem: problem}
		}
	}
	return MetaMessage(p), nil
}

// metaJSONProblem turns what encoding/json says about a type mismatch into a
// field path and a problem without Go type names in it.
func metaJSONProblem(err error) (field, problem string) {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return te.Field, fmt.Sprintf("JSON %s where %s was expected", te.Value, metaJSONKind(te.Type.Kind().String()))
	}
	return "", err.Error()
}

func metaJSONKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	default:
		return "a number"
	}
}

// metaFloat reads a JSON number or a string holding one.
func metaFloat(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		if s == "" {
			return 0, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("%s is not a number", raw)
	}
	return f, nil
}

package gupshup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Message is a session (free-form) message of the self-serve API: the value
// of the "message" form field. Each type marshals to exactly the JSON
// Gupshup documents for it, "type" included, and DecodeMessage reads that
// JSON back, so a task payload can carry a message as plain JSON written by
// any service.
type Message interface {
	// MessageType is the "type" Gupshup knows the message by.
	MessageType() string
	// Validate reports the first field Gupshup or WhatsApp would refuse,
	// named as Gupshup spells it ("message.text", "message.items[0].options").
	Validate() error
}

// Context makes a message a reply to an earlier one. MsgID is the WhatsApp
// id of that message as the inbound callback gave it.
type Context struct {
	MsgID string `json:"msgId"`
}

// Limits WhatsApp enforces on session messages. A message over them is
// accepted by Gupshup and fails later in a callback, so they are checked
// before sending, where the error can still name the field.
const (
	selfServeMaxText        = 4096
	selfServeMaxCaption     = 1024
	selfServeMaxHeader      = 60
	selfServeMaxButtonTitle = 20
	selfServeMaxRowTitle    = 24
	selfServeMaxRowDesc     = 72
	selfServeMaxListOptions = 10
	selfServeMaxListItems   = 10
	selfServeMaxQuickReply  = 3
)

// DecodeMessage reads the JSON of a session message, dispatching on its
// "type". It is strict: an unknown type or a field the type does not have is
// an error, since a misspelt key written by hand would otherwise be dropped
// without a trace and the message sent without it. It does not validate the
// content; Send does, and Validate can be called on the result earlier.
func DecodeMessage(data []byte) (Message, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &ValidationError{Field: "message", Problem: "is not a JSON object: " + err.Error()}
	}
	if head.Type == nil || *head.Type == "" {
		return nil, invalid("message.type", "is missing")
	}
	decode, ok := selfServeDecoders[*head.Type]
	if !ok {
		return nil, invalid("message.type", "unknown type %q", *head.Type)
	}
	return decode(data)
}

var selfServeDecoders = map[string]func([]byte) (Message, error){
	"text":        selfServeDecodeAs[Text],
	"image":       selfServeDecodeAs[Image],
	"video":       selfServeDecodeAs[Video],
	"audio":       selfServeDecodeAs[Audio],
	"file":        selfServeDecodeAs[File],
	"sticker":     selfServeDecodeAs[Sticker],
	"location":    selfServeDecodeAs[Location],
	"contact":     selfServeDecodeAs[Contact],
	"list":        selfServeDecodeAs[List],
	"quick_reply": selfServeDecodeAs[QuickReply],
	"reaction":    selfServeDecodeAs[Reaction],
}

// selfServeDecodeAs returns the value, not a pointer, so that callers can
// switch on the same types they build messages with.
func selfServeDecodeAs[T Message](data []byte) (Message, error) {
	var m T
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, selfServeJSONError(err)
	}
	return m, nil
}

// selfServeJSONError names the field of a JSON value of the wrong kind the
// way the rest of the package does ("message.items.options.title"), rather
// than by the Go types it was decoded into.
func selfServeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		field := "message." + strings.TrimPrefix(te.Field, "wire.")
		want := "a " + te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Struct, reflect.Pointer, reflect.Map:
			want = "an object"
		case reflect.Int, reflect.Int64, reflect.Float64:
			want = "a number"
		case reflect.Bool:
			want = "a boolean"
		}
		return invalid(field, "is a JSON %s, must be %s", te.Value, want)
	}
	return &ValidationError{Field: "message", Problem: strings.TrimPrefix(err.Error(), "json: ")}
}

// selfServeTag is the "type" key every message carries beside its fields.
type selfServeTag struct {
	Type string `json:"type"`
}

// selfServeDecode decodes into v, which embeds a selfServeTag (tag) and the
// message's fields, refusing unknown keys and a "type" other than want. An
// absent type is fine: the caller chose the Go type already.
func selfServeDecode(data []byte, v any, tag *selfServeTag, want string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if tag.Type != "" && tag.Type != want {
		return fmt.Errorf("type is %q, not %q", tag.Type, want)
	}
	return nil
}

// Text is a plain text message.
type Text struct {
	Text    string   `json:"text"`
	Context *Context `json:"context,omitempty"`
}

func (Text) MessageType() string { return "text" }

func (m Text) Validate() error {
	if strings.TrimSpace(m.Text) == "" {
		return invalid("message.text", "is empty")
	}
	if err := selfServeMaxRunes("message.text", m.Text, selfServeMaxText); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Text) MarshalJSON() ([]byte, error) {
	type wire Text
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"text"}, wire(m)})
}

func (m *Text) UnmarshalJSON(data []byte) error {
	type wire Text
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "text")
}

// Image is an image sent by URL (OriginalURL, with a smaller PreviewURL
// shown before download) or by the id of uploaded media.
type Image struct {
	OriginalURL string   `json:"originalUrl,omitempty"`
	PreviewURL  string   `json:"previewUrl,omitempty"`
	Caption     string   `json:"caption,omitempty"`
	ID          string   `json:"id,omitempty"`
	Context     *Context `json:"context,omitempty"`
}

func (Image) MessageType() string { return "image" }

func (m Image) Validate() error {
	if m.OriginalURL == "" && m.ID == "" {
		return invalid("message.originalUrl", "is empty and no id is given: an image needs originalUrl or id")
	}
	if err := selfServeMediaURL("message.originalUrl", m.OriginalURL); err != nil {
		return err
	}
	if err := selfServeMediaURL("message.previewUrl", m.PreviewURL); err != nil {
		return err
	}
	if err := selfServeMaxRunes("message.caption", m.Caption, selfServeMaxCaption); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Image) MarshalJSON() ([]byte, error) {
	type wire Image
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"image"}, wire(m)})
}

func (m *Image) UnmarshalJSON(data []byte) error {
	type wire Image
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "image")
}

// Video is a video sent by URL or by the id of uploaded media.
type Video struct {
	URL     string   `json:"url,omitempty"`
	Caption string   `json:"caption,omitempty"`
	ID      string   `json:"id,omitempty"`
	Context *Context `json:"context,omitempty"`
}

func (Video) MessageType() string { return "video" }

func (m Video) Validate() error {
	if m.URL == "" && m.ID == "" {
		return invalid("message.url", "is empty and no id is given: a video needs url or id")
	}
	if err := selfServeMediaURL("message.url", m.URL); err != nil {
		return err
	}
	if err := selfServeMaxRunes("message.caption", m.Caption, selfServeMaxCaption); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Video) MarshalJSON() ([]byte, error) {
	type wire Video
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"video"}, wire(m)})
}

func (m *Video) UnmarshalJSON(data []byte) error {
	type wire Video
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "video")
}

// Audio is an audio clip sent by URL or by the id of uploaded media.
type Audio struct {
	URL     string   `json:"url,omitempty"`
	ID      string   `json:"id,omitempty"`
	Context *Context `json:"context,omitempty"`
}

func (Audio) MessageType() string { return "audio" }

func (m Audio) Validate() error {
	if m.URL == "" && m.ID == "" {
		return invalid("message.url", "is empty and no id is given: an audio needs url or id")
	}
	if err := selfServeMediaURL("message.url", m.URL); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Audio) MarshalJSON() ([]byte, error) {
	type wire Audio
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"audio"}, wire(m)})
}

func (m *Audio) UnmarshalJSON(data []byte) error {
	type wire Audio
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "audio")
}

// File is a document. Filename is what the user's phone shows and saves it
// as; without it WhatsApp shows a generic name.
type File struct {
	URL      string   `json:"url"`
	Filename string   `json:"filename,omitempty"`
	Caption  string   `json:"caption,omitempty"`
	Context  *Context `json:"context,omitempty"`
}

func (File) MessageType() string { return "file" }

func (m File) Validate() error {
	if m.URL == "" {
		return invalid("message.url", "is empty")
	}
	if err := selfServeMediaURL("message.url", m.URL); err != nil {
		return err
	}
	if err := selfServeMaxRunes("message.caption", m.Caption, selfServeMaxCaption); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m File) MarshalJSON() ([]byte, error) {
	type wire File
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"file"}, wire(m)})
}

func (m *File) UnmarshalJSON(data []byte) error {
	type wire File
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "file")
}

// Sticker is a WebP sticker sent by URL.
type Sticker struct {
	URL     string   `json:"url"`
	Context *Context `json:"context,omitempty"`
}

func (Sticker) MessageType() string { return "sticker" }

func (m Sticker) Validate() error {
	if m.URL == "" {
		return invalid("message.url", "is empty")
	}
	if err := selfServeMediaURL("message.url", m.URL); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Sticker) MarshalJSON() ([]byte, error) {
	type wire Sticker
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"sticker"}, wire(m)})
}

func (m *Sticker) UnmarshalJSON(data []byte) error {
	type wire Sticker
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "sticker")
}

// Location is a pin on the map. The coordinates are decimal degrees kept as
// strings, as Gupshup documents them, so that no precision is lost on the
// way through a task payload.
type Location struct {
	Longitude string   `json:"longitude"`
	Latitude  string   `json:"latitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
	Context   *Context `json:"context,omitempty"`
}

func (Location) MessageType() string { return "location" }

func (m Location) Validate() error {
	if err := selfServeCoordinate("message.longitude", m.Longitude, 180); err != nil {
		return err
	}
	if err := selfServeCoordinate("message.latitude", m.Latitude, 90); err != nil {
		return err
	}
	return m.Context.validate()
}

func (m Location) MarshalJSON() ([]byte, error) {
	type wire Location
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"location"}, wire(m)})
}

// UnmarshalJSON also takes the coordinates as JSON numbers: Gupshup's own
// samples of session locations write them that way.
func (m *Location) UnmarshalJSON(data []byte) error {
	var v struct {
		selfServeTag
		Longitude selfServeNumber `json:"longitude"`
		Latitude  selfServeNumber `json:"latitude"`
		Name      string          `json:"name"`
		Address   string          `json:"address"`
		Context   *Context        `json:"context"`
	}
	if err := selfServeDecode(data, &v, &v.selfServeTag, "location"); err != nil {
		return err
	}
	*m = Location{Longitude: string(v.Longitude), Latitude: string(v.Latitude), Name: v.Name, Address: v.Address, Context: v.Context}
	return nil
}

// selfServeNumber is a JSON string or number kept as its decimal text.
type selfServeNumber string

func (n *selfServeNumber) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*n = selfServeNumber(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(data, &num); err != nil {
		return errors.New("coordinate must be a string or a number")
	}
	*n = selfServeNumber(num)
	return nil
}

// Reaction puts an emoji on an earlier message; an empty Emoji removes the
// reaction, as in WhatsApp itself.
type Reaction struct {
	MsgID   string   `json:"msgId"`
	Emoji   string   `json:"emoji"`
	Context *Context `json:"context,omitempty"`
}

func (Reaction) MessageType() string { return "reaction" }

func (m Reaction) Validate() error {
	if strings.TrimSpace(m.MsgID) == "" {
		return invalid("message.msgId", "is empty: a reaction needs the id of the message it reacts to")
	}
	return m.Context.validate()
}

func (m Reaction) MarshalJSON() ([]byte, error) {
	type wire Reaction
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"reaction"}, wire(m)})
}

func (m *Reaction) UnmarshalJSON(data []byte) error {
	type wire Reaction
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "reaction")
}

func (c *Context) validate() error {
	if c != nil && strings.TrimSpace(c.MsgID) == "" {
		return invalid("message.context.msgId", "is empty")
	}
	return nil
}

// selfServeMediaURL accepts an empty value (the caller decides whether the
// field is required) or an absolute http(s) URL: WhatsApp downloads the
// media itself, so anything else fails later with code 1010.
func selfServeMediaURL(field, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid(field, "is not an absolute http(s) URL")
	}
	return nil
}

func selfServeMaxRunes(field, v string, limit int) error {
	if n := utf8.RuneCountInString(v); n > limit {
		return invalid(field, "has %d characters, WhatsApp allows at most %d", n, limit)
	}
	return nil
}

func selfServeCoordinate(field, v string, limit float64) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "is empty")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return invalid(field, "%q is not a decimal number", v)
	}
	if f < -limit || f > limit {
		return invalid(field, "%s is outside -%g..%g", v, limit, limit)
	}
	return nil
}

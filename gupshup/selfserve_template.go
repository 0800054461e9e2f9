package gupshup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// TemplateMessage is a send of an approved template: the only kind of
// message WhatsApp lets a business start a conversation with.
type TemplateMessage struct {
	// Source is the app's business number; Destination the user's. Both
	// are normalized to E.164 digits before sending.
	Source      string
	Destination string
	// ID is the template's id (a UUID) as Gupshup lists it for the app.
	ID string
	// Params fill the template's placeholders in order of occurrence.
	Params []string
	// PostbackTexts set what a tap on a quick-reply button of the template
	// sends back, by button index.
	PostbackTexts []PostbackText
	// Media is the header of a media or location template; nil for text templates.
	Media TemplateMedia
}

// PostbackText is the payload of one quick-reply button of a template.
type PostbackText struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// Validate checks everything that can be known before sending, except the
// phone numbers' normalization which Send does (and reports) itself.
func (t TemplateMessage) Validate() error {
	if _, err := NormalizePhone(t.Source); err != nil {
		return invalid("source", "%v", err)
	}
	if _, err := NormalizePhone(t.Destination); err != nil {
		return invalid("destination", "%v", err)
	}
	if strings.TrimSpace(t.ID) == "" {
		return invalid("template.id", "is empty")
	}
	for i, p := range t.Params {
		field := fmt.Sprintf("template.params[%d]", i)
		// Gupshup refuses a template with an empty placeholder, and WhatsApp
		// refuses parameter text with line breaks, tabs or long runs of spaces.
		if strings.TrimSpace(p) == "" {
			return invalid(field, "is empty")
		}
		if strings.ContainsAny(p, "\n\r\t") {
			return invalid(field, "has a line break or tab, which WhatsApp refuses in template parameters")
		}
		if strings.Contains(p, "     ") {
			return invalid(field, "has more than 4 spaces in a row, which WhatsApp refuses in template parameters")
		}
	}
	seen := map[int]bool{}
	for i, pb := range t.PostbackTexts {
		field := fmt.Sprintf("postbackTexts[%d]", i)
		if pb.Index < 0 {
			return invalid(field+".index", "is negative")
		}
		if seen[pb.Index] {
			return invalid(field+".index", "%d is given twice", pb.Index)
		}
		seen[pb.Index] = true
		if strings.TrimSpace(pb.Text) == "" {
			return invalid(field+".text", "is empty")
		}
	}
	if t.Media != nil {
		return t.Media.Validate()
	}
	return nil
}

// templateJSON is the "template" form field.
func (t TemplateMessage) templateJSON() ([]byte, error) {
	params := t.Params
	if params == nil {
		params = []string{} // Gupshup wants the array even when it is empty
	}
	return json.Marshal(struct {
		ID     string   `json:"id"`
		Params []string `json:"params"`
	}{t.ID, params})
}

// TemplateMedia is the "message" field of a media or location template: the
// header the template was approved with. It marshals to the template shape
// ({"type":"image","image":{"link":...}}), which differs from the session
// Image.
type TemplateMedia interface {
	MediaType() string
	Validate() error
}

// TemplateImage is the image header of a template, by link or uploaded media id.
type TemplateImage struct {
	Link string `json:"link,omitempty"`
	ID   string `json:"id,omitempty"`
}

// TemplateVideo is the video header of a template, by link or uploaded media id.
type TemplateVideo struct {
	Link string `json:"link,omitempty"`
	ID   string `json:"id,omitempty"`
}

// TemplateDocument is the document header of a template; Filename is the
// name the user's phone shows.
type TemplateDocument struct {
	Link     string `json:"link,omitempty"`
	ID       string `json:"id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// TemplateLocation is the location header of a template, in decimal degrees.
type TemplateLocation struct {
	Longitude string `json:"longitude"`
	Latitude  string `json:"latitude"`
}

func (TemplateImage) MediaType() string    { return "image" }
func (TemplateVideo) MediaType() string    { return "video" }
func (TemplateDocument) MediaType() string { return "document" }
func (TemplateLocation) MediaType() string { return "location" }

func (m TemplateImage) Validate() error { return selfServeTemplateLink("image", m.Link, m.ID) }
func (m TemplateVideo) Validate() error { return selfServeTemplateLink("video", m.Link, m.ID) }
func (m TemplateDocument) Validate() error {
	return selfServeTemplateLink("document", m.Link, m.ID)
}

func (m TemplateLocation) Validate() error {
	if err := selfServeCoordinate("message.location.longitude", m.Longitude, 180); err != nil {
		return err
	}
	return selfServeCoordinate("message.location.latitude", m.Latitude, 90)
}

func selfServeTemplateLink(kind, link, id string) error {
	field := "message." + kind + ".link"
	if link == "" && id == "" {
		return invalid(field, "is empty and no id is given: a %s header needs link or id", kind)
	}
	return selfServeMediaURL(field, link)
}

func (m TemplateImage) MarshalJSON() ([]byte, error) {
	type wire TemplateImage
	return json.Marshal(struct {
		selfServeTag
		Image wire `json:"image"`
	}{selfServeTag{"image"}, wire(m)})
}

func (m TemplateVideo) MarshalJSON() ([]byte, error) {
	type wire TemplateVideo
	return json.Marshal(struct {
		selfServeTag
		Video wire `json:"video"`
	}{selfServeTag{"video"}, wire(m)})
}

func (m TemplateDocument) MarshalJSON() ([]byte, error) {
	type wire TemplateDocument
	return json.Marshal(struct {
		selfServeTag
		Document wire `json:"document"`
	}{selfServeTag{"document"}, wire(m)})
}

func (m TemplateLocation) MarshalJSON() ([]byte, error) {
	type wire TemplateLocation
	return json.Marshal(struct {
		selfServeTag
		Location wire `json:"location"`
	}{selfServeTag{"location"}, wire(m)})
}

// DecodeTemplateMedia reads the "message" JSON of a media or location
// template, strictly, as DecodeMessage does for session messages.
func DecodeTemplateMedia(data []byte) (TemplateMedia, error) {
	var v struct {
		selfServeTag
		Image    *TemplateImage    `json:"image"`
		Video    *TemplateVideo    `json:"video"`
		Document *TemplateDocument `json:"document"`
		Location *struct {
			Longitude selfServeNumber `json:"longitude"`
			Latitude  selfServeNumber `json:"latitude"`
		} `json:"location"`
	}
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, &ValidationError{Field: "message", Problem: "is not a JSON object: " + err.Error()}
	}
	if head.Type == nil || *head.Type == "" {
		return nil, invalid("message.type", "is missing")
	}
	kind := *head.Type
	switch kind {
	case "image", "video", "document", "location":
	default:
		return nil, invalid("message.type", "unknown template media type %q", kind)
	}
	if err := selfServeDecode(data, &v, &v.selfServeTag, kind); err != nil {
		return nil, selfServeJSONError(err)
	}
	var m TemplateMedia
	switch {
	case kind == "image" && v.Image != nil:
		m = *v.Image
	case kind == "video" && v.Video != nil:
		m = *v.Video
	case kind == "document" && v.Document != nil:
		m = *v.Document
	case kind == "location" && v.Location != nil:
		m = TemplateLocation{Longitude: string(v.Location.Longitude), Latitude: string(v.Location.Latitude)}
	}
	// Only the object named by the type may be present: a second one would
	// be ignored by Gupshup and is most likely a mistake.
	objects := 0
	for _, present := range []bool{v.Image != nil, v.Video != nil, v.Document != nil, v.Location != nil} {
		if present {
			objects++
		}
	}
	if m == nil || objects != 1 {
		return nil, invalid("message."+kind, "must be the one object beside type %q", kind)
	}
	return m, nil
}

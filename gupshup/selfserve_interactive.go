package gupshup

import (
	"encoding/json"
	"fmt"
	"strings"
)

// List is an interactive list: a body, one button that opens the list, and
// sections (Items) of options the user picks one of. The pick comes back as
// an inbound message carrying the option's PostbackText.
type List struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body"`
	// MsgID is echoed back with the user's pick, to tell lists apart.
	MsgID         string       `json:"msgid,omitempty"`
	GlobalButtons []ListButton `json:"globalButtons"`
	Items         []ListItem   `json:"items"`
	Context       *Context     `json:"context,omitempty"`
}

// ListButton is the button that opens the list. Type is "text", filled in
// when empty.
type ListButton struct {
	Type  string `json:"type"`
	Title string `json:"title"`
}

// ListItem is one section of the list.
type ListItem struct {
	Title    string       `json:"title"`
	Subtitle string       `json:"subtitle,omitempty"`
	Options  []ListOption `json:"options"`
}

// ListOption is one row the user can pick. Type is "text", filled in when empty.
type ListOption struct {
	Type         string `json:"type"`
	Title        string `json:"title"`
	Description  string `json:"description,omitempty"`
	PostbackText string `json:"postbackText,omitempty"`
}

func (List) MessageType() string { return "list" }

func (m List) Validate() error {
	if strings.TrimSpace(m.Body) == "" {
		return invalid("message.body", "is empty")
	}
	if err := selfServeMaxRunes("message.body", m.Body, selfServeMaxCaption); err != nil {
		return err
	}
	if err := selfServeMaxRunes("message.title", m.Title, selfServeMaxHeader); err != nil {
		return err
	}
	// WhatsApp lists have exactly one button; Gupshup takes it as an array.
	if len(m.GlobalButtons) != 1 {
		return invalid("message.globalButtons", "has %d buttons, a list needs exactly one", len(m.GlobalButtons))
	}
	if err := selfServeButtonTitle("message.globalButtons[0].title", m.GlobalButtons[0].Title); err != nil {
		return err
	}
	if len(m.Items) == 0 {
		return invalid("message.items", "is empty")
	}
	if len(m.Items) > selfServeMaxListItems {
		return invalid("message.items", "has %d sections, WhatsApp allows at most %d", len(m.Items), selfServeMaxListItems)
	}
	total := 0
	for i, it := range m.Items {
		field := fmt.Sprintf("message.items[%d]", i)
		// A section title is what tells sections apart; WhatsApp asks for
		// it as soon as there is more than one.
		if len(m.Items) > 1 && strings.TrimSpace(it.Title) == "" {
			return invalid(field+".title", "is empty, and a list with several sections needs a title for each")
		}
		if err := selfServeMaxRunes(field+".title", it.Title, selfServeMaxRowTitle); err != nil {
			return err
		}
		if len(it.Options) == 0 {
			return invalid(field+".options", "is empty")
		}
		total += len(it.Options)
		for j, o := range it.Options {
			of := fmt.Sprintf("%s.options[%d]", field, j)
			if strings.TrimSpace(o.Title) == "" {
				return invalid(of+".title", "is empty")
			}
			if err := selfServeMaxRunes(of+".title", o.Title, selfServeMaxRowTitle); err != nil {
				return err
			}
			if err := selfServeMaxRunes(of+".description", o.Description, selfServeMaxRowDesc); err != nil {
				return err
			}
			if o.Type != "" && o.Type != "text" {
				return invalid(of+".type", "is %q, list options are \"text\"", o.Type)
			}
		}
	}
	if total > selfServeMaxListOptions {
		return invalid("message.items", "has %d options in all, WhatsApp allows at most %d", total, selfServeMaxListOptions)
	}
	return m.Context.validate()
}

func (m List) MarshalJSON() ([]byte, error) {
	type wire List
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"list"}, wire(m)})
}

func (m *List) UnmarshalJSON(data []byte) error {
	type wire List
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "list")
}

func (b ListButton) MarshalJSON() ([]byte, error) {
	type wire ListButton
	if b.Type == "" {
		b.Type = "text"
	}
	return json.Marshal(wire(b))
}

func (o ListOption) MarshalJSON() ([]byte, error) {
	type wire ListOption
	if o.Type == "" {
		o.Type = "text"
	}
	return json.Marshal(wire(o))
}

// QuickReply is a message with up to three reply buttons under a text,
// image, video or file. The tapped button comes back as an inbound message
// carrying its PostbackText.
type QuickReply struct {
	// MsgID is echoed back with the user's reply, to tell messages apart.
	MsgID   string             `json:"msgid,omitempty"`
	Content QuickReplyContent  `json:"content"`
	Options []QuickReplyOption `json:"options"`
	Context *Context           `json:"context,omitempty"`
}

// QuickReplyContent is what the buttons are attached to. Type is text,
// image, video or file; Text is the body, Header the line above it (text
// only), Caption the footer, URL and Filename the media.
type QuickReplyContent struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Header   string `json:"header,omitempty"`
	URL      string `json:"url,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// QuickReplyOption is one button. Type is "text", filled in when empty.
type QuickReplyOption struct {
	Type         string `json:"type"`
	Title        string `json:"title"`
	PostbackText string `json:"postbackText,omitempty"`
}

func (QuickReply) MessageType() string { return "quick_reply" }

func (m QuickReply) Validate() error {
	c := m.Content
	switch c.Type {
	case "text":
		if strings.TrimSpace(c.Text) == "" {
			return invalid("message.content.text", "is empty")
		}
		if err := selfServeMaxRunes("message.content.text", c.Text, selfServeMaxCaption); err != nil {
			return err
		}
		if err := selfServeMaxRunes("message.content.header", c.Header, selfServeMaxHeader); err != nil {
			return err
		}
		// Under a text the caption is the footer line, which is short.
		if err := selfServeMaxRunes("message.content.caption", c.Caption, selfServeMaxHeader); err != nil {
			return err
		}
	case "image", "video", "file":
		if c.URL == "" {
			return invalid("message.content.url", "is empty: %s content needs a url", c.Type)
		}
		if err := selfServeMediaURL("message.content.url", c.URL); err != nil {
			return err
		}
		if err := selfServeMaxRunes("message.content.caption", c.Caption, selfServeMaxCaption); err != nil {
			return err
		}
	case "":
		return invalid("message.content.type", "is empty")
	default:
		return invalid("message.content.type", "is %q, not text, image, video or file", c.Type)
	}
	if len(m.Options) == 0 {
		return invalid("message.options", "is empty")
	}
	if len(m.Options) > selfServeMaxQuickReply {
		return invalid("message.options", "has %d buttons, WhatsApp allows at most %d", len(m.Options), selfServeMaxQuickReply)
	}
	seen := make(map[string]bool, len(m.Options))
	for i, o := range m.Options {
		field := fmt.Sprintf("message.options[%d]", i)
		if err := selfServeButtonTitle(field+".title", o.Title); err != nil {
			return err
		}
		// WhatsApp refuses two buttons with the same title.
		if seen[o.Title] {
			return invalid(field+".title", "%q is used by an earlier button", o.Title)
		}
		seen[o.Title] = true
		if o.Type != "" && o.Type != "text" {
			return invalid(field+".type", "is %q, quick reply options are \"text\"", o.Type)
		}
	}
	return m.Context.validate()
}

func (m QuickReply) MarshalJSON() ([]byte, error) {
	type wire QuickReply
	return json.Marshal(struct {
		selfServeTag
		wire
	}{selfServeTag{"quick_reply"}, wire(m)})
}

func (m *QuickReply) UnmarshalJSON(data []byte) error {
	type wire QuickReply
	v := struct {
		selfServeTag
		*wire
	}{wire: (*wire)(m)}
	return selfServeDecode(data, &v, &v.selfServeTag, "quick_reply")
}

func (o QuickReplyOption) MarshalJSON() ([]byte, error) {
	type wire QuickReplyOption
	if o.Type == "" {
		o.Type = "text"
	}
	return json.Marshal(wire(o))
}

func selfServeButtonTitle(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return invalid(field, "is empty")
	}
	return selfServeMaxRunes(field, v, selfServeMaxButtonTitle)
}

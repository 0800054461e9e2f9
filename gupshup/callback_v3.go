package gupshup

import (
	"errors"
	"fmt"
)

// The v3 subscription delivers Meta's webhook format with Gupshup's ids
// added (gs_app_id on the envelope, gs_id on statuses).

const v3Object = "whatsapp_business_account"

// v3ProbeType is the status "type" of the call Gupshup makes when a
// subscription is set, to see that the URL answers.
const v3ProbeType = "set-callback"

type callbackV3Entry struct {
	Changes []callbackV3Change `json:"changes"`
}

type callbackV3Change struct {
	Field string          `json:"field"`
	Value callbackV3Value `json:"value"`
}

type callbackV3Value struct {
	Statuses []callbackV3Status  `json:"statuses"`
	Messages []callbackV3Message `json:"messages"`
	Contacts []callbackV3Contact `json:"contacts"`
}

type callbackV3Status struct {
	GsID        string         `json:"gs_id"`
	ID          string         `json:"id"`
	RecipientID string         `json:"recipient_id"`
	Status      string         `json:"status"`
	Type        string         `json:"type"`
	Timestamp   callbackScalar `json:"timestamp"`
	Errors      []struct {
		Code    callbackScalar `json:"code"`
		Title   string         `json:"title"`
		Message string         `json:"message"`
	} `json:"errors"`
	// An older failed shape puts the error flat on the status.
	Code         callbackScalar `json:"code"`
	Reason       string         `json:"reason"`
	Conversation *struct {
		ID         string         `json:"id"`
		Expiration callbackScalar `json:"expiration_timestamp"`
		Origin     struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Category string `json:"category"`
	} `json:"pricing"`
}

type callbackV3Message struct {
	From      string         `json:"from"`
	ID        string         `json:"id"`
	Timestamp callbackScalar `json:"timestamp"`
	Type      string         `json:"type"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *callbackV3Media `json:"image"`
	Video    *callbackV3Media `json:"video"`
	Audio    *callbackV3Media `json:"audio"`
	Document *callbackV3Media `json:"document"`
	Sticker  *callbackV3Media `json:"sticker"`
	Button   struct {
		Text string `json:"text"`
	} `json:"button"`
	Interactive struct {
		ButtonReply struct {
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply struct {
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Reaction struct {
		Emoji string `json:"emoji"`
	} `json:"reaction"`
	Context struct {
		ID   string `json:"id"`
		GsID string `json:"gs_id"`
	} `json:"context"`
}

type callbackV3Media struct {
	URL     string `json:"url"`
	Link    string `json:"link"`
	Caption string `json:"caption"`
}

type callbackV3Contact struct {
	WaID    string `json:"wa_id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

func (o *callbackObject) v3Events() ([]Event, error) {
	if o.Object != "" && o.Object != v3Object {
		return nil, fmt.Errorf("callback: v3: unknown object %s", callbackQuote(o.Object))
	}
	n := len(o.Statuses)
	for _, e := range o.Entry {
		for _, c := range e.Changes {
			n += len(c.Value.Statuses) + len(c.Value.Messages)
		}
	}
	events := make([]Event, 0, n)
	var err error
	if events, err = o.v3Statuses(events, o.Statuses, -1, -1); err != nil {
		return nil, err
	}
	otherFields := false
	for i, e := range o.Entry {
		for j, c := range e.Changes {
			if c.Field != "" && c.Field != "messages" {
				otherFields = true
			}
			if events, err = o.v3Statuses(events, c.Value.Statuses, i, j); err != nil {
				return nil, err
			}
			if events, err = o.v3Messages(events, &c.Value, i, j); err != nil {
				return nil, err
			}
		}
	}
	if len(events) == 0 {
		if otherFields {
			return nil, fmt.Errorf("callback: v3: %w", ErrUnhandledCallback)
		}
		return nil, errors.New("callback: v3: no statuses or messages in entry[].changes[].value")
	}
	return events, nil
}

// v3Path names an element for an error message; entry -1 is the bare
// statuses list of a probe without the envelope. Built only on failure, so
// the success path does not format a string per change.
func v3Path(entry, change int, list string, k int) string {
	if entry < 0 {
		return fmt.Sprintf("%s[%d]", list, k)
	}
	return fmt.Sprintf("entry[%d].changes[%d].value.%s[%d]", entry, change, list, k)
}

func (o *callbackObject) v3Statuses(events []Event, statuses []callbackV3Status, entry, change int) ([]Event, error) {
	for k := range statuses {
		s := &statuses[k]
		ev, err := v3StatusEvent(s)
		if err != nil {
			return nil, fmt.Errorf("callback: v3 %s: %w", v3Path(entry, change, "statuses", k), err)
		}
		ev.Format, ev.App = CallbackV3, o.GsAppID
		events = append(events, ev)
	}
	return events, nil
}

func v3StatusEvent(s *callbackV3Status) (Event, error) {
	if s.Type == v3ProbeType {
		return Event{Kind: EventProbe}, nil
	}
	if s.Status == "" {
		return Event{}, errors.New("status missing")
	}
	st, ok := parseCallbackStatus(s.Status)
	if !ok {
		return Event{}, fmt.Errorf("unknown status %s", callbackQuote(s.Status))
	}
	if s.GsID == "" && s.ID == "" {
		return Event{}, errors.New("gs_id and id missing")
	}
	ev := Event{
		Kind:        EventStatus,
		Status:      st,
		MessageID:   s.GsID,
		WhatsAppID:  s.ID,
		Destination: callbackPhone(s.RecipientID),
	}
	var err error
	if ev.Time, err = s.Timestamp.instant("timestamp"); err != nil {
		return Event{}, err
	}
	if len(s.Errors) > 0 {
		e := &s.Errors[0]
		if ev.Code, err = e.Code.integer("errors[0].code"); err != nil {
			return Event{}, err
		}
		ev.Reason = callbackFirst(e.Title, e.Message)
	} else {
		if ev.Code, err = s.Code.integer("code"); err != nil {
			return Event{}, err
		}
		ev.Reason = s.Reason
	}
	if c := s.Conversation; c != nil {
		ev.ConversationID = c.ID
		if ev.ConversationExpires, err = c.Expiration.instant("conversation.expiration_timestamp"); err != nil {
			return Event{}, err
		}
		ev.PricingCategory = c.Origin.Type
	}
	if s.Pricing != nil && s.Pricing.Category != "" {
		ev.PricingCategory = s.Pricing.Category
	}
	return ev, nil
}

func (o *callbackObject) v3Messages(events []Event, v *callbackV3Value, entry, change int) ([]Event, error) {
	for k := range v.Messages {
		m := &v.Messages[k]
		if m.ID == "" {
			return nil, fmt.Errorf("callback: v3 %s: id missing", v3Path(entry, change, "messages", k))
		}
		from := callbackPhone(m.From)
		if from == "" {
			return nil, fmt.Errorf("callback: v3 %s: from missing", v3Path(entry, change, "messages", k))
		}
		at, err := m.Timestamp.instant("timestamp")
		if err != nil {
			return nil, fmt.Errorf("callback: v3 %s: %w", v3Path(entry, change, "messages", k), err)
		}
		in := &InboundMessage{
			ID:          m.ID,
			From:        from,
			Name:        v3ContactName(v.Contacts, m.From),
			Type:        m.Type,
			Text:        m.Text.Body,
			ContextID:   m.Context.ID,
			ContextGsID: m.Context.GsID,
		}
		for _, media := range [...]*callbackV3Media{m.Image, m.Video, m.Document, m.Audio, m.Sticker} {
			if media != nil {
				in.Text = callbackFirst(in.Text, media.Caption)
				in.MediaURL = callbackFirst(media.URL, media.Link)
				break
			}
		}
		in.Text = callbackFirst(in.Text, m.Button.Text, m.Interactive.ButtonReply.Title,
			m.Interactive.ListReply.Title, m.Reaction.Emoji)
		events = append(events, Event{
			Kind:        EventInbound,
			Format:      CallbackV3,
			App:         o.GsAppID,
			WhatsAppID:  m.ID,
			Destination: from,
			Time:        at,
			Inbound:     in,
		})
	}
	return events, nil
}

// v3ContactName finds the sender's profile name. Meta lists contacts beside
// messages rather than inside them; a lone contact is the sender even when
// the two spellings of the number differ (masked, or with a "+").
func v3ContactName(contacts []callbackV3Contact, from string) string {
	for i := range contacts {
		if contacts[i].WaID == from {
			return contacts[i].Profile.Name
		}
	}
	if len(contacts) == 1 {
		return contacts[0].Profile.Name
	}
	return ""
}

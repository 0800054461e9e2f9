package gupshup

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// callbackV2Payload is the "payload" of a v2 envelope for all three types
// (message-event, message, user-event); each type uses a subset.
type callbackV2Payload struct {
	ID          string                  `json:"id"`
	GsID        string                  `json:"gsId"`
	Type        string                  `json:"type"`
	Destination string                  `json:"destination"`
	Source      string                  `json:"source"`
	Phone       string                  `json:"phone"`
	Payload     callbackV2Details       `json:"payload"`
	Sender      callbackV2Sender        `json:"sender"`
	Context     callbackV2Context       `json:"context"`
	Conv        *callbackV2Conversation `json:"conversation"`
	Pricing     *callbackV2Pricing      `json:"pricing"`

	// Some inbound messages carry the content flat in payload rather than
	// in payload.payload; both have been seen.
	Text    string `json:"text"`
	URL     string `json:"url"`
	Caption string `json:"caption"`
}

// callbackV2Details is payload.payload: the failure of a failed event, the
// time of a DLR event, or the content of an inbound message.
type callbackV2Details struct {
	Code   callbackScalar `json:"code"`
	Reason string         `json:"reason"`
	TS     callbackScalar `json:"ts"`
	// enqueued events name the WhatsApp id before any DLR does.
	WhatsAppMessageID string `json:"whatsappMessageId"`

	Text    string `json:"text"`
	URL     string `json:"url"`
	Caption string `json:"caption"`
	Title   string `json:"title"` // button_reply, list_reply

	// Documented beside payload.payload, but accepted inside it as well.
	Conv    *callbackV2Conversation `json:"conversation"`
	Pricing *callbackV2Pricing      `json:"pricing"`
}

type callbackV2Sender struct {
	Phone string `json:"phone"`
	Name  string `json:"name"`
}

type callbackV2Context struct {
	ID   string `json:"id"`
	GsID string `json:"gsId"`
}

type callbackV2Conversation struct {
	ID        string         `json:"id"`
	ExpiresAt callbackScalar `json:"expiresAt"`
	Type      string         `json:"type"`
}

type callbackV2Pricing struct {
	Category string `json:"category"`
}

func (o *callbackObject) v2Events() ([]Event, error) {
	kind := o.Type
	if kind == "" {
		return nil, errors.New("callback: v2: type missing")
	}
	switch kind {
	case "message-event", "message", "user-event":
	case "billing-event", "template-event", "account-event":
		return nil, fmt.Errorf("callback: v2 %s: %w", kind, ErrUnhandledCallback)
	default:
		return nil, fmt.Errorf("callback: v2: unknown type %s", callbackQuote(kind))
	}
	p := o.Payload
	if p == nil {
		return nil, fmt.Errorf("callback: v2 %s: payload missing", kind)
	}
	at, err := o.Timestamp.instant("timestamp")
	if err != nil {
		return nil, fmt.Errorf("callback: v2 %s: %w", kind, err)
	}
	var ev Event
	switch kind {
	case "message-event":
		ev, err = v2StatusEvent(p, at)
	case "message":
		ev, err = v2InboundEvent(p, at)
	default:
		ev, err = v2UserEvent(p, at)
	}
	if err != nil {
		return nil, fmt.Errorf("callback: v2 %s: %w", kind, err)
	}
	ev.Format = CallbackV2
	ev.App = o.App
	return []Event{ev}, nil
}

func v2StatusEvent(p *callbackV2Payload, envelopeTime time.Time) (Event, error) {
	if p.Type == "" {
		return Event{}, errors.New("payload.type missing")
	}
	st, ok := parseCallbackStatus(p.Type)
	if !ok {
		return Event{}, fmt.Errorf("unknown status %s in payload.type", callbackQuote(p.Type))
	}
	ev := Event{Kind: EventStatus, Status: st, Destination: callbackPhone(p.Destination)}
	d := &p.Payload
	switch {
	case st == StatusEnqueued || st == StatusFailed:
		// Reported at submit time, id is the Gupshup id; a failure that
		// WhatsApp reports later looks like a DLR event and has a gsId.
		if p.GsID != "" {
			ev.MessageID, ev.WhatsAppID = p.GsID, p.ID
		} else {
			ev.MessageID, ev.WhatsAppID = p.ID, d.WhatsAppMessageID
		}
	default:
		// For DLR events id is always the WhatsApp id. Gupshup drops gsId
		// from events that come more than a week after the send; taking id
		// for the Gupshup id then would match nothing or the wrong message.
		ev.MessageID, ev.WhatsAppID = p.GsID, p.ID
	}
	if ev.MessageID == "" && ev.WhatsAppID == "" {
		return Event{}, errors.New("payload.id missing")
	}
	var err error
	if ev.Code, err = d.Code.integer("payload.payload.code"); err != nil {
		return Event{}, err
	}
	ev.Reason = d.Reason
	// ts is when WhatsApp saw the change; the envelope only says when
	// Gupshup posted the callback, which can be much later on a retry.
	if ev.Time, err = d.TS.instant("payload.payload.ts"); err != nil {
		return Event{}, err
	}
	if ev.Time.IsZero() {
		ev.Time = envelopeTime
	}
	conv, pricing := p.Conv, p.Pricing
	if conv == nil {
		conv = d.Conv
	}
	if pricing == nil {
		pricing = d.Pricing
	}
	if conv != nil {
		ev.ConversationID = conv.ID
		if ev.ConversationExpires, err = conv.ExpiresAt.instant("payload.conversation.expiresAt"); err != nil {
			return Event{}, err
		}
		ev.PricingCategory = conv.Type
	}
	if pricing != nil && pricing.Category != "" {
		ev.PricingCategory = pricing.Category
	}
	return ev, nil
}

func v2InboundEvent(p *callbackV2Payload, at time.Time) (Event, error) {
	if p.ID == "" {
		return Event{}, errors.New("payload.id missing")
	}
	from := callbackPhone(callbackFirst(p.Sender.Phone, p.Source))
	if from == "" {
		return Event{}, errors.New("payload.source and payload.sender.phone missing")
	}
	d := &p.Payload
	in := &InboundMessage{
		ID:          p.ID,
		From:        from,
		Name:        p.Sender.Name,
		Type:        p.Type,
		Text:        callbackFirst(d.Text, d.Caption, d.Title, p.Text, p.Caption),
		MediaURL:    callbackFirst(d.URL, p.URL),
		ContextID:   p.Context.ID,
		ContextGsID: p.Context.GsID,
	}
	return Event{Kind: EventInbound, WhatsAppID: p.ID, Destination: from, Time: at, Inbound: in}, nil
}

func v2UserEvent(p *callbackV2Payload, at time.Time) (Event, error) {
	switch t := strings.ToLower(p.Type); t {
	case "opted-in", "opted-out", "sandbox-start":
		phone := callbackPhone(p.Phone)
		if phone == "" {
			return Event{}, errors.New("payload.phone missing")
		}
		return Event{Kind: EventUser, UserEvent: t, Destination: phone, Time: at}, nil
	case "":
		return Event{}, errors.New("payload.type missing")
	}
	return Event{}, fmt.Errorf("unknown user event %s in payload.type", callbackQuote(p.Type))
}

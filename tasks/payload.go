// Package tasks holds the contract between producers and the worker: the
// task type names, the versioned JSON payload of a send, the queues, and
// helpers that enqueue a send with the right asynq options.
//
// The payload is plain JSON so that a producer in any language can build it
// by hand; README.md documents the schema. It never carries a credential:
// the worker holds the API keys and picks them by family and app.
package tasks

import (
	"encoding/json"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

// Task type names. They are part of the contract with producers and with
// tasks already waiting in Redis: never rename them.
const (
	TypeSend   = "whatsapp:send"
	TypeOptIn  = "whatsapp:optin"
	TypeOptOut = "whatsapp:optout"
)

// PayloadVersion is the schema version this build writes. The worker reads
// every version up to it and rejects newer ones with a clear reason, so a
// producer deployed ahead of the workers cannot have its tasks half-read.
const PayloadVersion = 1

// Send is the payload of a TypeSend task: one message to one recipient.
type Send struct {
	// V is the schema version (PayloadVersion).
	V int `json:"v"`
	// CampaignID groups the sends of one campaign; empty for one-off sends.
	CampaignID string `json:"campaign_id,omitempty"`
	// MessageID is the producer's id of this message and the idempotency
	// key: the asynq task id is derived from it, and the worker never
	// submits a message id twice once Gupshup has accepted it.
	MessageID string `json:"message_id"`
	// Family is the Gupshup API family: selfserve, enterprise or partner.
	Family gupshup.Family `json:"family"`
	// Source is the business phone number (E.164 digits), the unit the
	// send rate is limited by.
	Source string `json:"source"`
	// App is the self-serve app name or the partner app id; empty means the
	// worker's configured default for the family.
	App string `json:"app,omitempty"`
	// Destination is the recipient (E.164 digits).
	Destination string `json:"destination"`
	// Exactly one of Template and Session is set.
	Template *Template `json:"template,omitempty"`
	// Session is a free-form message in the family's own JSON: the
	// self-serve `message` object, the partner (Meta) message object with
	// its "type", or for enterprise {"type":"text","text":"..."} or a media
	// object {"type":"image","url":"...","caption":"..."}.
	Session json.RawMessage `json:"session,omitempty"`
	// Fallback is sent instead of Session when the user's 24-hour window is
	// closed, rather than dead-lettering the message.
	Fallback *Template `json:"fallback_template,omitempty"`
	// ExpiresAt is the validity period: past it the message is not sent and
	// is recorded as expired.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Generation is the worker's own count of resends that failed callbacks
	// asked for: producers leave it out (0); the worker enqueues generation
	// n+1 when a callback reports a retryable failure of generation n.
	Generation int `json:"gen,omitempty"`
}

// Template is a template (HSM) message, in a shape every family can send.
type Template struct {
	// ID is the self-serve template uuid or the partner template name.
	ID string `json:"id,omitempty"`
	// Language is the partner template language code (default "en").
	Language string `json:"language,omitempty"`
	// Params are the body placeholders, in order of occurrence.
	Params []string `json:"params,omitempty"`
	// Media is the header of a media template.
	Media *Media `json:"media,omitempty"`
	// Location is the header of a location template.
	Location *Location `json:"location,omitempty"`
	// PostbackTexts are the self-serve quick-reply payloads.
	PostbackTexts []PostbackText `json:"postback_texts,omitempty"`
	// Text is the filled template text an enterprise HSM send carries,
	// with Header, Footer and ButtonURLParam.
	Text           string `json:"text,omitempty"`
	Header         string `json:"header,omitempty"`
	Footer         string `json:"footer,omitempty"`
	ButtonURLParam string `json:"button_url_param,omitempty"`
	// Components is the raw Meta components array for partner templates
	// that need more than body params (buttons, limited-time offers).
	Components json.RawMessage `json:"components,omitempty"`
}

// Media is a media header: a link or an uploaded media id.
type Media struct {
	Type     string `json:"type"` // image, video, document
	Link     string `json:"link,omitempty"`
	ID       string `json:"id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Location is a location header.
type Location struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
	Name      string `json:"name,omitempty"`
	Address   string `json:"address,omitempty"`
}

// PostbackText is the payload of one quick-reply button.
type PostbackText struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// Consent is the payload of TypeOptIn and TypeOptOut tasks.
type Consent struct {
	V      int            `json:"v"`
	Family gupshup.Family `json:"family"`
	App    string         `json:"app,omitempty"`
	Phone  string         `json:"phone"`
}

package gupshup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// EventKind says what a callback event is about.
type EventKind string

const (
	// EventStatus is a delivery status of a message we sent.
	EventStatus EventKind = "status"
	// EventInbound is a message a user wrote to the business.
	EventInbound EventKind = "inbound"
	// EventUser is a change of a user's state (opt-in, opt-out, sandbox).
	EventUser EventKind = "user"
	// EventProbe is the test call Gupshup makes when a subscription is set;
	// it carries nothing but must be acknowledged.
	EventProbe EventKind = "probe"
)

// Status is the delivery state a status event reports.
type Status string

const (
	StatusEnqueued  Status = "enqueued"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
	StatusDeleted   Status = "deleted"
)

// CallbackFormat names the wire format an event arrived in. With both a v2
// and a v3 subscription every event arrives twice, once per format, so
// de-duplication must not key on the format.
type CallbackFormat string

const (
	CallbackV2         CallbackFormat = "v2"
	CallbackV3         CallbackFormat = "v3"
	CallbackEnterprise CallbackFormat = "enterprise"
)

// Event is one thing a callback reports. A single callback body may carry
// several (a v3 batch, an enterprise DLR array).
type Event struct {
	Kind   EventKind
	Format CallbackFormat
	// App is the v2 "app" name or the v3 gs_app_id; empty for enterprise.
	App string
	// MessageID is the Gupshup message id, the one the send call returned.
	// It is empty when the callback carries only a WhatsApp id: v2 sent,
	// delivered and read events lose their gsId a week after the send, and
	// inbound messages never had one.
	MessageID string
	// WhatsAppID is the WhatsApp (wamid) id when the callback carries it.
	WhatsAppID string
	// Destination is the user's phone, as digits without "+": the recipient
	// of a status, the sender of an inbound message, the subject of a user event.
	Destination string
	Status      Status
	// Code is the failure code (Gupshup 1001-1012, 4001-4005, Meta 131xxx,
	// enterprise errorCode), 0 when none.
	Code int
	// Reason is the failure text. It varies between deliveries of the same
	// failure, so decisions belong on Code.
	Reason string
	// Time is when the event happened, in UTC; zero when the callback has no time.
	Time      time.Time
	Inbound   *InboundMessage
	UserEvent string // "opted-in", "opted-out" or "sandbox-start"
	// The conversation fields are set only when a sent (or later) status
	// carries them; pricing changes moved the category between objects, so
	// PricingCategory falls back to the conversation type.
	ConversationID      string
	ConversationExpires time.Time
	PricingCategory     string
}

// InboundMessage is the content of a message a user sent.
type InboundMessage struct {
	ID   string // WhatsApp id of the message
	From string // digits, no "+"
	Name string // profile name, when given
	Type string // text, image, video, audio, file/document, location, button, interactive, ...
	// Text is the text body, a media caption, or the title of a tapped button.
	Text     string
	MediaURL string
	// ContextID and ContextGsID identify the message this one replies to:
	// its WhatsApp id and, when Gupshup knows it, its Gupshup id.
	ContextID   string
	ContextGsID string
}

// ErrUnhandledCallback marks a well-formed callback of a kind that produces
// no events here: v2 billing-event, template-event and account-event, and v3
// changes of fields other than "messages". A webhook should acknowledge
// these with a 2xx; otherwise Gupshup keeps delivering them again.
var ErrUnhandledCallback = errors.New("callback kind not handled")

// ParseCallback turns one body received on the callback URL into events.
// It recognises the v2 envelope, the v3 (Meta format) envelope including the
// set-callback probe, and the enterprise delivery reports: a JSON array of
// reports, a single report, or the classic form-encoded DLR. Anything else
// is an error whose text names what was wrong; the function never panics,
// whatever the input.
func ParseCallback(body []byte) ([]Event, error) {
	// Some HTTP stacks prepend a byte order mark, which encoding/json rejects.
	b := bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return nil, errors.New("callback: empty body")
	}
	switch b[0] {
	case '{':
		return parseCallbackObject(b)
	case '[':
		return parseDLRArray(b)
	}
	if json.Valid(b) {
		return nil, fmt.Errorf("callback: JSON %s is not a callback", callbackJSONKind(b[0]))
	}
	return parseDLRForm(b)
}

// callbackObject covers every JSON object shape in one decode: the worker
// parses thousands of callbacks a second, and a first pass to sniff the
// shape would double the work. The key sets of the shapes do not overlap.
type callbackObject struct {
	// v2
	App       string             `json:"app"`
	Timestamp callbackScalar     `json:"timestamp"`
	Type      string             `json:"type"`
	Payload   *callbackV2Payload `json:"payload"`

	// v3
	Object  string            `json:"object"`
	GsAppID string            `json:"gs_app_id"`
	Entry   []callbackV3Entry `json:"entry"`
	// A set-callback probe may come without the envelope.
	Statuses []callbackV3Status `json:"statuses"`

	// a single enterprise DLR
	callbackDLR
}

func parseCallbackObject(b []byte) ([]Event, error) {
	var o callbackObject
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("callback: malformed JSON: %w", err)
	}
	switch {
	case o.Object != "" || o.Entry != nil || o.GsAppID != "":
		return o.v3Events()
	case o.Type != "" || o.Payload != nil:
		return o.v2Events()
	case o.Statuses != nil:
		return o.v3Events()
	case !o.ExternalID.empty() || o.EventType != "":
		return dlrEvents(&o.callbackDLR, "enterprise DLR")
	}
	return nil, errors.New("callback: JSON object of unknown shape (no type, entry, statuses or externalId)")
}

func callbackJSONKind(c byte) string {
	switch c {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	}
	return "number"
}

// callbackScalar holds a JSON value that Gupshup sends sometimes as a number
// and sometimes as a string (timestamps, error codes, ids). It keeps the raw
// text and converts on demand, so that a value of the wrong type becomes an
// error naming the field instead of failing the whole decode anonymously.
type callbackScalar struct {
	raw  string
	kind byte // 0: absent or null, 's': string, 'n': number, 'x': neither
}

func (s *callbackScalar) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case 'n':
		*s = callbackScalar{}
	case '"':
		if len(b) < 2 {
			return errors.New("unterminated string")
		}
		if bytes.IndexByte(b, '\\') < 0 {
			s.raw = string(b[1 : len(b)-1])
		} else if err := json.Unmarshal(b, &s.raw); err != nil {
			return err
		}
		s.kind = 's'
	case 't', 'f':
		*s = callbackScalar{raw: "a boolean", kind: 'x'}
	case '{':
		*s = callbackScalar{raw: "an object", kind: 'x'}
	case '[':
		*s = callbackScalar{raw: "an array", kind: 'x'}
	default:
		*s = callbackScalar{raw: string(b), kind: 'n'}
	}
	return nil
}

func (s callbackScalar) empty() bool { return s.kind == 0 || strings.TrimSpace(s.raw) == "" }

// text returns the value as a string; a number keeps its JSON spelling.
func (s callbackScalar) text() string {
	if s.kind == 'x' {
		return ""
	}
	return strings.TrimSpace(s.raw)
}

func (s callbackScalar) integer(field string) (int, error) {
	if s.kind == 'x' {
		return 0, fmt.Errorf("%s: want a number or numeric string, got %s", field, s.raw)
	}
	t := strings.TrimSpace(s.raw)
	if t == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %s is not an integer", field, callbackQuote(t))
	}
	return n, nil
}

// Epoch magnitudes that tell the units apart: 1e11 seconds is the year 5138
// while 1e11 milliseconds is 1973, so every plausible date falls clearly on
// one side. Gupshup documents numbers in ms and strings in s but sends both
// the other way too, hence magnitude rather than JSON type decides.
const (
	epochMillisFrom = 1e11
	epochMicrosFrom = 1e14
	epochNanosFrom  = 1e17
)

// instant converts an epoch timestamp in s, ms, µs or ns to UTC. Absent,
// empty and 0 give the zero time.
func (s callbackScalar) instant(field string) (time.Time, error) {
	if s.kind == 'x' {
		return time.Time{}, fmt.Errorf("%s: want a number or numeric string, got %s", field, s.raw)
	}
	t := strings.TrimSpace(s.raw)
	if t == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		switch {
		case n < 0:
			return time.Time{}, fmt.Errorf("%s: negative timestamp %s", field, callbackQuote(t))
		case n == 0:
			return time.Time{}, nil
		case n < epochMillisFrom:
			return time.Unix(n, 0).UTC(), nil
		case n < epochMicrosFrom:
			return time.UnixMilli(n).UTC(), nil
		case n < epochNanosFrom:
			return time.UnixMicro(n).UTC(), nil
		}
		return time.Unix(0, n).UTC(), nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, fmt.Errorf("%s: %s is not a timestamp", field, callbackQuote(t))
	}
	switch {
	case f < 0:
		return time.Time{}, fmt.Errorf("%s: negative timestamp %s", field, callbackQuote(t))
	case f == 0:
		return time.Time{}, nil
	case f < epochMillisFrom:
		f *= 1e9
	case f < epochMicrosFrom:
		f *= 1e6
	case f < epochNanosFrom:
		f *= 1e3
	}
	if f >= math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%s: timestamp %s out of range", field, callbackQuote(t))
	}
	// A float64 holds about 16 significant digits, so nanoseconds since 1970
	// come out a few hundred ns off; no callback carries more than µs.
	return time.Unix(0, int64(f)).Round(time.Microsecond).UTC(), nil
}

func parseCallbackStatus(s string) (Status, bool) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case StatusEnqueued, StatusSent, StatusDelivered, StatusRead, StatusFailed, StatusDeleted:
		return st, true
	}
	return "", false
}

// callbackPhone keeps a phone as Gupshup spells it minus a leading "+". It
// does not validate: callbacks carry masked numbers ("9189XXXXXXXX") that
// must still reach the worker.
func callbackPhone(s string) string {
	return strings.TrimPrefix(strings.TrimSpace(s), "+")
}

// callbackQuote quotes a value taken from the body for an error message,
// cut short so that a hostile body cannot blow up log lines.
func callbackQuote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}

func callbackFirst(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

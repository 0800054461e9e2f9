package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxPayloadSize bounds a payload in bytes. A send is one message: even a
// template with many params and Meta components stays far below it, while
// asynq keeps every payload in Redis memory until the task is done, so a
// runaway producer should be stopped at the door.
const MaxPayloadSize = 64 << 10

// EncodeSend returns the JSON payload of s after normalizing and validating
// a copy (s is not modified). A zero V means the current PayloadVersion, so
// Go producers need not set it.
func EncodeSend(s *Send) ([]byte, error) {
	c := *s
	if c.V == 0 {
		c.V = PayloadVersion
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := marshal(&c)
	if err != nil {
		return nil, invalid("", "payload: %v", err)
	}
	if err := checkSize(b); err != nil {
		return nil, err
	}
	return b, nil
}

// DecodeSend reads and validates a TypeSend payload. It is what the worker
// calls on every task, so it must never panic whatever the bytes; every error
// is a *ValidationError naming the JSON field.
//
// It is strict: a field this build does not know is an error, not ignored.
// An additive schema change that matters to the worker bumps v, and a newer
// v is refused with ErrNewerVersion before unknown fields are looked at, so
// strictness costs no forward compatibility; what it buys is that a misspelt
// key in a hand-built payload ("fallback_templat") is reported instead of
// the message going out without it.
//
// Phones are normalized before validation, so a hand-built payload may say
// "+1 415 555 0100".
func DecodeSend(b []byte) (*Send, error) {
	s, err := ParseSend(b)
	if err != nil {
		return nil, err
	}
	s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSend is the first half of DecodeSend: the size limit, the version
// check and the strict JSON decoding, without Normalize and Validate, for
// callers that fill in defaults first (a file of message specs). A missing v
// is left zero.
func ParseSend(b []byte) (*Send, error) {
	if err := checkSize(b); err != nil {
		return nil, err
	}
	// expires_at is taken as raw JSON: time.Time's own error does not say
	// which field it is about.
	type sendAlias Send
	var w struct {
		*sendAlias
		ExpiresAt json.RawMessage `json:"expires_at,omitempty"`
	}
	var s Send
	w.sendAlias = (*sendAlias)(&s)
	if err := decodeVersioned(b, &w, func() int { return s.V }); err != nil {
		return nil, err
	}
	if present(w.ExpiresAt) {
		t, err := parseTime(w.ExpiresAt)
		if err != nil {
			return nil, invalid("expires_at", "not an RFC 3339 time in a JSON string, like \"2025-01-02T15:04:05Z\"")
		}
		s.ExpiresAt = &t
	}
	return &s, nil
}

// EncodeConsent is EncodeSend for consent payloads.
func EncodeConsent(c *Consent) ([]byte, error) {
	v := *c
	if v.V == 0 {
		v.V = PayloadVersion
	}
	v.Normalize()
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return marshal(&v)
}

// marshal leaves <, > and & as they are: payloads are never embedded in
// HTML, and escaping them would make a message text up to six times longer
// on its way to the size limit.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DecodeConsent is DecodeSend for TypeOptIn and TypeOptOut payloads.
func DecodeConsent(b []byte) (*Consent, error) {
	if err := checkSize(b); err != nil {
		return nil, err
	}
	var c Consent
	if err := decodeVersioned(b, &c, func() int { return c.V }); err != nil {
		return nil, err
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func checkSize(b []byte) error {
	if len(b) > MaxPayloadSize {
		return invalid("", "payload is %d bytes, over the %d-byte limit", len(b), MaxPayloadSize)
	}
	return nil
}

// decodeVersioned decodes b strictly into v, and checks the schema version
// version reads from it: a payload from a newer schema is refused as newer
// (ErrNewerVersion, which the worker hands back for an upgraded worker),
// never for a field this build has never heard of or a value it reads
// differently. The version is looked at on its own (peekVersion) only when
// the strict decoding fails, so a good payload is read in one pass.
func decodeVersioned(b []byte, v any, version func() int) error {
	if err := decodeStrict(b, v); err != nil {
		if verr := peekVersion(b); verr != nil {
			return verr
		}
		return err
	}
	if n := version(); n != 0 {
		return checkVersion(n)
	}
	return nil
}

// peekVersion reads v alone, so that a payload from a newer schema is
// refused as newer (ErrNewerVersion, which the worker hands back for an upgraded worker) rather than for
// a field this build has never heard of.
func peekVersion(b []byte) error {
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return invalid("", "payload is not valid JSON: %v (at byte %d)", syn, syn.Offset)
		}
		return invalid("", "payload is not a JSON object")
	}
	if !present(head.V) {
		return nil // Validate reports it, after the caller's defaults
	}
	var v int
	if err := json.Unmarshal(head.V, &v); err != nil {
		return invalid("v", "not an integer")
	}
	if v == 0 {
		return nil
	}
	return checkVersion(v)
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("", "payload has data after the JSON object")
	}
	return nil
}

// jsonError turns encoding/json's errors into ones that name the field.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid("", "payload is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		// encoding/json names the path through embedded structs too: the
		// alias ParseSend decodes through is not part of the JSON.
		field := strings.TrimPrefix(typ.Field, "sendAlias.")
		if field == "" {
			field = "payload"
		}
		want := "another type"
		if typ.Type != nil {
			want = jsonType(typ.Type.String())
		}
		return invalid(field, "want %s, got %s", want, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalid("", "payload is truncated JSON")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalid(strings.Trim(name, `"`), "unknown field (check the spelling; a newer schema would have a higher v)")
	}
	return invalid("", "payload: %v", err)
}

// jsonType names a Go type the way a producer in another language thinks of it.
func jsonType(goType string) string {
	switch {
	case goType == "string" || goType == "gupshup.Family":
		return "a string"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "bool":
		return "true or false"
	}
	return "an object"
}

func parseTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expires_at: %w", err)
	}
	return t, nil
}

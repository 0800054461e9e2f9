package tasks

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, s := range map[string]*Send{"template": templateSend(), "session": sessionSend()} {
		t.Run(name, func(t *testing.T) {
			b, err := EncodeSend(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeSend(b)
			if err != nil {
				t.Fatalf("DecodeSend(%s): %v", b, err)
			}
			if !got.ExpiresAt.Equal(*s.ExpiresAt) {
				t.Fatalf("expires_at %v, want %v", got.ExpiresAt, s.ExpiresAt)
			}
			got.ExpiresAt, s.ExpiresAt = nil, nil
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
			}
		})
	}
}

func TestEncodeSendNormalizesACopy(t *testing.T) {
	s := templateSend()
	s.V = 0
	s.Destination = "+91 98765 43210"
	b, err := EncodeSend(s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Destination != "+91 98765 43210" || s.V != 0 {
		t.Fatalf("EncodeSend modified its argument: %+v", s)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["destination"] != "919876543210" || m["v"] != float64(PayloadVersion) {
		t.Fatalf("payload %s", b)
	}
}

// TestPayloadWireFormat pins the JSON names producers in other languages
// write by hand.
func TestPayloadWireFormat(t *testing.T) {
	b, err := EncodeSend(sessionSend())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"campaign_id":"spring-sale","message_id":"msg-0001","family":"selfserve",` +
		`"source":"14155550100","app":"DemoAPI","destination":"919876543210",` +
		`"session":{"type":"text","text":"Your order has shipped"},` +
		`"fallback_template":{"id":"order-shipped","params":["A-1001"]},"expires_at":"2099-01-02T15:04:05Z"}`
	if string(b) != want {
		t.Fatalf("payload\n got %s\nwant %s", b, want)
	}
}

func TestDecodeSendHandBuilt(t *testing.T) {
	in := `{
		"v": 1, "message_id": "otp-77", "family": "partner", "source": "+1 415 555 0100",
		"destination": "+91 98765 43210", "app": "7c1d",
		"template": {"id": "otp_login", "language": "en", "params": ["481516"]},
		"expires_at": "2099-01-02T15:04:05+05:30"
	}`
	s, err := DecodeSend([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if s.Destination != "919876543210" || s.Source != "14155550100" {
		t.Fatalf("phones not normalized: %+v", s)
	}
	if s.ExpiresAt.UTC().Hour() != 9 {
		t.Fatalf("expires_at %v", s.ExpiresAt)
	}
}

func TestDecodeSendErrors(t *testing.T) {
	valid, err := EncodeSend(templateSend())
	if err != nil {
		t.Fatal(err)
	}
	with := func(key, raw string) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		if raw == "" {
			delete(m, key)
		} else {
			m[key] = json.RawMessage(raw)
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	big := `{"v":1,"message_id":"` + strings.Repeat("x", MaxPayloadSize) + `"}`
	tests := []struct {
		name, in, want string
		newer          bool
	}{
		{"empty", ``, "not valid JSON", false},
		{"null", `null`, "v: missing", false},
		{"array", `[1,2]`, "not a JSON object", false},
		{"string", `"hi"`, "not a JSON object", false},
		{"syntax", `{"v":1,`, "not valid JSON", false},
		{"trailing garbage", string(valid) + `x`, "not valid JSON", false},
		{"two objects", string(valid) + ` {}`, "not valid JSON", false},
		{"too large", big, fmt.Sprintf("payload is %d bytes, over the 65536-byte limit", len(big)), false},
		{"v missing", with("v", ""), "v: missing", false},
		{"v string", with("v", `"1"`), "v: not an integer", false},
		{"v fraction", with("v", `1.5`), "v: not an integer", false},
		{"v newer", with("v", `2`), "v: version 2 is newer than this build supports (1)", true},
		{"v newer with new fields", `{"v":7,"priority":"high"}`, "v: version 7 is newer", true},
		{"unknown field", with("destinaton", `"1"`), "destinaton: unknown field", false},
		{"unknown nested field", with("template", `{"id":"t","parms":["a"]}`), "parms: unknown field", false},
		{"destination number", with("destination", `919876543210`), "destination: want a string, got number", false},
		{"params not array", with("template", `{"id":"t","params":"a"}`), "template.params: want an array, got string", false},
		{"param not string", with("template", `{"id":"t","params":[1]}`), "template.params: want a string, got number", false},
		{"template string", with("template", `"t"`), "template: want an object, got string", false},
		{"expires_at number", with("expires_at", `1700000000`), "expires_at: not an RFC 3339 time", false},
		{"expires_at bad", with("expires_at", `"tomorrow"`), "expires_at: not an RFC 3339 time", false},
		{"destination invalid", with("destination", `"12ab5678"`), "destination: not an E.164 number", false},
		{"session string", with("session", `"hi"`), "template: set together with session", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeSend([]byte(tt.in))
			if err == nil {
				t.Fatalf("DecodeSend = %+v, want an error with %q", s, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeSend error %q, want %q", err, tt.want)
			}
			if !IsValidation(err) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if errors.Is(err, ErrNewerVersion) != tt.newer {
				t.Fatalf("errors.Is(%v, ErrNewerVersion) = %v", err, !tt.newer)
			}
		})
	}
}

func TestConsentRoundTrip(t *testing.T) {
	c := &Consent{Family: "selfserve", App: "DemoAPI", Phone: "+91 98765 43210"}
	b, err := EncodeConsent(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeConsent(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Consent{V: 1, Family: "selfserve", App: "DemoAPI", Phone: "919876543210"}
	if *got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := DecodeConsent([]byte(`{"v":1,"family":"selfserve","phone":"919876543210","user":"x"}`)); err == nil {
		t.Fatal("unknown consent field accepted")
	}
}

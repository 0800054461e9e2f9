package tasks

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

func TestSendValidate(t *testing.T) {
	zero := time.Time{}
	tests := []struct {
		name   string
		base   func() *Send
		change func(*Send)
		field  string // "" means valid
		text   string // part of the problem
	}{
		{"template ok", templateSend, func(*Send) {}, "", ""},
		{"session ok", sessionSend, func(*Send) {}, "", ""},
		{"no campaign ok", templateSend, func(s *Send) { s.CampaignID = "" }, "", ""},
		{"no app ok", templateSend, func(s *Send) { s.App = "" }, "", ""},
		{"partner session", sessionSend, func(s *Send) {
			s.Family = gupshup.Partner
			s.Session = json.RawMessage(`{"type":"text","text":{"body":"hi"}}`)
		}, "", ""},
		{"enterprise template by text", templateSend, func(s *Send) {
			s.Family = gupshup.Enterprise
			s.Template = &Template{Text: "Hello Asha, your code is 1234"}
		}, "", ""},
		{"location header", templateSend, func(s *Send) {
			s.Template.Media = nil
			s.Template.Location = &Location{Latitude: "12.97", Longitude: "77.59"}
		}, "", ""},
		{"language en_US", templateSend, func(s *Send) { s.Template.Language = "en_US" }, "", ""},
		{"language fil", templateSend, func(s *Send) { s.Template.Language = "fil" }, "", ""},
		{"components array", templateSend, func(s *Send) { s.Template.Components = json.RawMessage(`[{"type":"body"}]`) }, "", ""},
		{"expired is still valid", templateSend, func(s *Send) {
			past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
			s.ExpiresAt = &past
		}, "", ""},

		{"v missing", templateSend, func(s *Send) { s.V = 0 }, "v", "missing"},
		{"v negative", templateSend, func(s *Send) { s.V = -1 }, "v", "not a schema version"},
		{"v newer", templateSend, func(s *Send) { s.V = PayloadVersion + 1 }, "v", "newer than this build"},

		{"message_id missing", templateSend, func(s *Send) { s.MessageID = "" }, "message_id", "missing"},
		{"message_id too long", templateSend, func(s *Send) { s.MessageID = strings.Repeat("a", MaxMessageID+1) }, "message_id", "at most 128"},
		{"message_id 128 ok", templateSend, func(s *Send) { s.MessageID = strings.Repeat("a", MaxMessageID) }, "", ""},
		{"message_id space", templateSend, func(s *Send) { s.MessageID = "a b" }, "message_id", "whitespace"},
		{"message_id tab", templateSend, func(s *Send) { s.MessageID = "a\tb" }, "message_id", "whitespace"},
		{"message_id nbsp", templateSend, func(s *Send) { s.MessageID = "a\u00a0b" }, "message_id", "whitespace"},
		{"message_id control", templateSend, func(s *Send) { s.MessageID = "a\x00b" }, "message_id", "unprintable"},
		{"message_id DEL", templateSend, func(s *Send) { s.MessageID = "a\x7fb" }, "message_id", "unprintable"},
		{"message_id non-ASCII ok", templateSend, func(s *Send) { s.MessageID = "commande-été-42" }, "", ""},
		{"message_id brace", templateSend, func(s *Send) { s.MessageID = "a}b" }, "message_id", "hash tags"},
		{"message_id bad utf8", templateSend, func(s *Send) { s.MessageID = "a\xffb" }, "message_id", "UTF-8"},

		{"campaign_id too long", templateSend, func(s *Send) { s.CampaignID = strings.Repeat("c", MaxCampaignID+1) }, "campaign_id", "at most 64"},
		{"campaign_id space", templateSend, func(s *Send) { s.CampaignID = "spring sale" }, "campaign_id", "whitespace"},

		{"family missing", templateSend, func(s *Send) { s.Family = "" }, "family", "missing"},
		{"family unknown", templateSend, func(s *Send) { s.Family = "foo" }, "family", `unknown "foo"`},

		{"source missing", templateSend, func(s *Send) { s.Source = "" }, "source", "missing"},
		{"source not e164", templateSend, func(s *Send) { s.Source = "0800123456" }, "source", "not an E.164 number"},
		{"app space", templateSend, func(s *Send) { s.App = "Demo API" }, "app", "whitespace"},

		{"destination missing", templateSend, func(s *Send) { s.Destination = "" }, "destination", "missing"},
		{"destination letters", templateSend, func(s *Send) { s.Destination = "91987654321x" }, "destination", "not an E.164 number"},
		{"destination short", templateSend, func(s *Send) { s.Destination = "1234567" }, "destination", "at least 8"},
		{"destination long", templateSend, func(s *Send) { s.Destination = "1234567890123456" }, "destination", "at most 15"},
		{"destination not canonical", templateSend, func(s *Send) { s.Destination = "+919876543210" }, "destination", `want "919876543210"`},
		{"destination is source", templateSend, func(s *Send) { s.Destination = s.Source }, "destination", "source number"},

		{"neither template nor session", templateSend, func(s *Send) { s.Template = nil }, "template", "exactly one"},
		{"null session is none", templateSend, func(s *Send) { s.Template = nil; s.Session = json.RawMessage("null") }, "template", "exactly one"},
		{"both template and session", templateSend, func(s *Send) { s.Session = json.RawMessage(`{"type":"text","text":"x"}`) }, "template", "exactly one"},

		{"template id missing", templateSend, func(s *Send) { s.Template.ID = "" }, "template.id", "missing"},
		{"template id space", templateSend, func(s *Send) { s.Template.ID = "a b" }, "template.id", "whitespace"},
		{"enterprise template without text", templateSend, func(s *Send) { s.Family = gupshup.Enterprise }, "template.text", "missing"},
		{"template language", templateSend, func(s *Send) { s.Template.Language = "english" }, "template.language", "language code"},
		{"template param empty", templateSend, func(s *Send) { s.Template.Params = []string{"a", "b", ""} }, "template.params[2]", "empty"},
		{"template param blank", templateSend, func(s *Send) { s.Template.Params = []string{"  "} }, "template.params[0]", "empty"},
		{"template param newline", templateSend, func(s *Send) { s.Template.Params = []string{"a\nb"} }, "template.params[0]", "line break"},
		{"template param 5 spaces", templateSend, func(s *Send) { s.Template.Params = []string{"a     b"} }, "template.params[0]", "4 spaces"},
		{"template param bad utf8", templateSend, func(s *Send) { s.Template.Params = []string{"\xff"} }, "template.params[0]", "UTF-8"},
		{"template header bad utf8", templateSend, func(s *Send) { s.Template.Header = "\xff" }, "template.header", "UTF-8"},
		{"media type", templateSend, func(s *Send) { s.Template.Media.Type = "gif" }, "template.media.type", `unknown "gif"`},
		{"media no link", templateSend, func(s *Send) { s.Template.Media.Link = "" }, "template.media.link", "missing"},
		{"media link and id", templateSend, func(s *Send) { s.Template.Media.ID = "123" }, "template.media", "both"},
		{"media link not url", templateSend, func(s *Send) { s.Template.Media.Link = "banner.jpg" }, "template.media.link", "http(s) URL"},
		{"media link ftp", templateSend, func(s *Send) { s.Template.Media.Link = "ftp://x/y" }, "template.media.link", "http(s) URL"},
		{"media id ok", templateSend, func(s *Send) { s.Template.Media = &Media{Type: "video", ID: "4490"} }, "", ""},
		{"media and location", templateSend, func(s *Send) { s.Template.Location = &Location{Latitude: "1", Longitude: "2"} }, "template", "one header"},
		{"latitude", templateSend, func(s *Send) {
			s.Template.Media = nil
			s.Template.Location = &Location{Latitude: "91", Longitude: "0"}
		}, "template.location.latitude", "between -90 and 90"},
		{"longitude", templateSend, func(s *Send) {
			s.Template.Media = nil
			s.Template.Location = &Location{Latitude: "0", Longitude: "east"}
		}, "template.location.longitude", "not a number"},
		{"postback index", templateSend, func(s *Send) { s.Template.PostbackTexts = []PostbackText{{Index: -1, Text: "x"}} }, "template.postback_texts[0].index", "negative"},
		{"postback twice", templateSend, func(s *Send) {
			s.Template.PostbackTexts = []PostbackText{{Index: 0, Text: "x"}, {Index: 0, Text: "y"}}
		}, "template.postback_texts[1].index", "twice"},
		{"postback text", templateSend, func(s *Send) { s.Template.PostbackTexts = []PostbackText{{Index: 0}} }, "template.postback_texts[0].text", "empty"},
		{"components object", templateSend, func(s *Send) { s.Template.Components = json.RawMessage(`{}`) }, "template.components", "JSON array"},

		{"session string", sessionSend, func(s *Send) { s.Session = json.RawMessage(`"hello"`) }, "session", "not a JSON object"},
		{"session array", sessionSend, func(s *Send) { s.Session = json.RawMessage(`[1]`) }, "session", "not a JSON object"},
		{"session broken", sessionSend, func(s *Send) { s.Session = json.RawMessage(`{"type":`) }, "session", "not a JSON object"},
		{"session no type", sessionSend, func(s *Send) { s.Session = json.RawMessage(`{"text":"x"}`) }, "session.type", "missing"},
		{"session type number", sessionSend, func(s *Send) { s.Session = json.RawMessage(`{"type":1}`) }, "session.type", "not a string"},
		{"session type of other family", sessionSend, func(s *Send) { s.Session = json.RawMessage(`{"type":"document"}`) }, "session.type", `"document" is not a session message type of the selfserve family`},
		{"enterprise session list", sessionSend, func(s *Send) {
			s.Family = gupshup.Enterprise
			s.Session = json.RawMessage(`{"type":"list"}`)
		}, "session.type", "of the enterprise family"},

		{"fallback without session", templateSend, func(s *Send) { s.Fallback = &Template{ID: "x"} }, "fallback_template", "only allowed with session"},
		{"fallback invalid", sessionSend, func(s *Send) { s.Fallback.Params = []string{""} }, "fallback_template.params[0]", "empty"},
		{"fallback id", sessionSend, func(s *Send) { s.Fallback.ID = "" }, "fallback_template.id", "missing"},

		{"gen of a resend", templateSend, func(s *Send) { s.Generation = 3 }, "", ""},
		{"gen negative", templateSend, func(s *Send) { s.Generation = -1 }, "gen", "negative"},

		{"expires_at zero", templateSend, func(s *Send) { s.ExpiresAt = &zero }, "expires_at", "zero time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.base()
			tt.change(s)
			err := s.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v (%T), want a *ValidationError", err, err)
			}
			if ve.Field != tt.field || !strings.Contains(ve.Problem, tt.text) {
				t.Fatalf("Validate() = %q, want field %q with %q", err, tt.field, tt.text)
			}
			if !strings.HasPrefix(err.Error(), tt.field+": ") {
				t.Fatalf("error %q does not start with the field name", err)
			}
		})
	}
}

func TestValidateNewerVersionIsRecognizable(t *testing.T) {
	s := templateSend()
	s.V = PayloadVersion + 1
	if err := s.Validate(); !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Validate() = %v, want ErrNewerVersion in its chain", err)
	}
	s.V = 0
	if err := s.Validate(); errors.Is(err, ErrNewerVersion) {
		t.Fatalf("a missing version must not look newer: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	s := templateSend()
	s.Destination = "+91 98765-43210"
	s.Source = "(1) 415.555.0100"
	s.Normalize()
	if s.Destination != "919876543210" || s.Source != "14155550100" {
		t.Fatalf("Normalize: destination %q source %q", s.Destination, s.Source)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}

	bad := templateSend()
	bad.Destination = "call me"
	bad.Normalize()
	if bad.Destination != "call me" {
		t.Fatalf("Normalize changed an invalid number to %q", bad.Destination)
	}
	if err := bad.Validate(); err == nil || !strings.HasPrefix(err.Error(), "destination: not an E.164 number: ") {
		t.Fatalf("Validate() = %v", err)
	}
}

func TestConsentValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     Consent
		field string
	}{
		{"ok", Consent{V: 1, Family: gupshup.SelfServe, App: "DemoAPI", Phone: "919876543210"}, ""},
		{"ok enterprise without app", Consent{V: 1, Family: gupshup.Enterprise, Phone: "919876543210"}, ""},
		{"version", Consent{V: 0, Family: gupshup.SelfServe, Phone: "919876543210"}, "v"},
		{"family", Consent{V: 1, Family: "sms", Phone: "919876543210"}, "family"},
		{"app", Consent{V: 1, Family: gupshup.SelfServe, App: "a b", Phone: "919876543210"}, "app"},
		{"phone missing", Consent{V: 1, Family: gupshup.SelfServe}, "phone"},
		{"phone bad", Consent{V: 1, Family: gupshup.SelfServe, Phone: "12"}, "phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			var ve *ValidationError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tt.field != "" && (!errors.As(err, &ve) || ve.Field != tt.field):
				t.Fatalf("Validate() = %v, want field %q", err, tt.field)
			}
		})
	}
}

func TestExpiryIsOptional(t *testing.T) {
	s := templateSend()
	s.ExpiresAt = nil
	if err := s.Validate(); err != nil {
		t.Fatalf("a send without expires_at: %v", err)
	}
}

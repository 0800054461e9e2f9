package gupshup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseCallback feeds arbitrary bodies to the parser. The callback URL
// is public, so anything may arrive there; the parser must never panic and
// must never hand the worker a status it cannot match to a message.
func FuzzParseCallback(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "callbacks", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range callbackFormBodies {
		f.Add([]byte(tc.body))
	}
	for _, s := range []string{"", "null", "[]", "{}", "[{}]", `{"statuses":[{}]}`, "externalId=1&status=SENT"} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := ParseCallback(body)
		if err != nil {
			if events != nil {
				t.Fatalf("events %+v returned with error %v", events, err)
			}
			if !strings.HasPrefix(err.Error(), "callback: ") {
				t.Fatalf("error %q lacks the callback prefix", err)
			}
			return
		}
		if len(events) == 0 {
			t.Fatal("no error and no events")
		}
		for i, ev := range events {
			switch ev.Format {
			case CallbackV2, CallbackV3, CallbackEnterprise:
			default:
				t.Fatalf("event %d: format %q", i, ev.Format)
			}
			switch ev.Kind {
			case EventStatus:
				if ev.MessageID == "" && ev.WhatsAppID == "" {
					t.Fatalf("event %d: status without MessageID or WhatsAppID: %+v", i, ev)
				}
				if _, ok := parseCallbackStatus(string(ev.Status)); !ok || ev.Status != Status(strings.ToLower(string(ev.Status))) {
					t.Fatalf("event %d: status %q", i, ev.Status)
				}
			case EventInbound:
				if ev.Inbound == nil || ev.Inbound.ID == "" || ev.Inbound.From == "" {
					t.Fatalf("event %d: inbound without message, id or sender: %+v", i, ev)
				}
			case EventUser:
				if ev.UserEvent == "" || ev.Destination == "" {
					t.Fatalf("event %d: user event without type or phone: %+v", i, ev)
				}
			case EventProbe:
			default:
				t.Fatalf("event %d: kind %q", i, ev.Kind)
			}
			if strings.HasPrefix(ev.Destination, "+") {
				t.Fatalf("event %d: destination %q keeps its +", i, ev.Destination)
			}
		}
	})
}

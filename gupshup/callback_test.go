package gupshup

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func utc(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
}

// Ids shared by the fixtures.
const (
	gsMsgID   = "ee4a68a0-1203-4c85-8dc3-49d0b3226a35"
	waMsgID   = "gBEGkYiEB1VXAglK1ZEqA1YKPrU"
	userPhone = "919876543210"
	v3AppSeed = "bf9ee64c-3d4d-4ac4-8668-732e577007c4"
	v3AppDocs = "82ed52f4-30c0-4f12-81b4-e7ad07bd41de"
)

var (
	v2EnvelopeTime = utc(2024, 1, 18, 10, 47, 49, 123)
	enterpriseTime = utc(2018, 8, 6, 7, 57, 51, 0)
)

func v2Status(st Status, msgID, waID string, at time.Time) Event {
	return Event{
		Kind: EventStatus, Format: CallbackV2, App: "DemoAPI",
		MessageID: msgID, WhatsAppID: waID, Destination: userPhone, Status: st, Time: at,
	}
}

func v2User(kind string) Event {
	return Event{Kind: EventUser, Format: CallbackV2, App: "DemoAPI", Destination: userPhone, UserEvent: kind, Time: v2EnvelopeTime}
}

// callbackFixtures maps each file in testdata/callbacks to the events it must give.
var callbackFixtures = map[string][]Event{
	"v2_enqueued.json": {v2Status(StatusEnqueued, gsMsgID, waMsgID, v2EnvelopeTime)},
	"v2_failed_early.json": {func() Event {
		e := v2Status(StatusFailed, gsMsgID, "", v2EnvelopeTime)
		e.Code, e.Reason = 1002, "Number Does Not Exists On WhatsApp"
		return e
	}()},
	"v2_failed_late.json": {func() Event {
		e := v2Status(StatusFailed, gsMsgID, waMsgID, v2EnvelopeTime)
		e.Code = 1006
		e.Reason = "Message sending failed as user is inactive for session message and not opted in for template message"
		return e
	}()},
	"v2_sent.json": {func() Event {
		e := v2Status(StatusSent, gsMsgID, waMsgID, utc(2024, 1, 18, 10, 47, 48, 0))
		e.ConversationID = "532b57b5f6e63595ccd74c6010e5c5c7"
		e.ConversationExpires = utc(2024, 1, 19, 10, 47, 49, 0)
		e.PricingCategory = "utility"
		return e
	}()},
	"v2_delivered.json":              {v2Status(StatusDelivered, gsMsgID, waMsgID, utc(2024, 1, 18, 10, 47, 51, 0))},
	"v2_read.json":                   {v2Status(StatusRead, gsMsgID, waMsgID, utc(2024, 1, 18, 10, 48, 20, 0))},
	"v2_deleted.json":                {v2Status(StatusDeleted, gsMsgID, waMsgID, utc(2024, 1, 18, 10, 50, 0, 0))},
	"v2_delivered_without_gsid.json": {v2Status(StatusDelivered, "", waMsgID, utc(2024, 1, 18, 10, 47, 51, 0))},
	"v2_inbound_text.json": {{
		Kind: EventInbound, Format: CallbackV2, App: "DemoAPI",
		WhatsAppID:  "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAEhgUM0E1NjIzMTY1N0VGNUE5NjY1M0EA",
		Destination: userPhone, Time: v2EnvelopeTime,
		Inbound: &InboundMessage{
			ID:   "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAEhgUM0E1NjIzMTY1N0VGNUE5NjY1M0EA",
			From: userPhone, Name: "Smit", Type: "text", Text: "Hi, is my order on its way?",
			ContextID: waMsgID, ContextGsID: gsMsgID,
		},
	}},
	"v2_inbound_image.json": {{
		Kind: EventInbound, Format: CallbackV2, App: "DemoAPI",
		WhatsAppID: "ABEGkYaYVSEEAhAL3SLAWwHKeKrt6s3FKB0c", Destination: userPhone, Time: v2EnvelopeTime,
		Inbound: &InboundMessage{
			ID: "ABEGkYaYVSEEAhAL3SLAWwHKeKrt6s3FKB0c", From: userPhone, Name: "Smit", Type: "image",
			Text: "the damaged parcel", MediaURL: "https://filemanager.gupshup.io/wa/ee4a68a0/wa/media/parcel.jpg",
		},
	}},
	"v2_user_opted_in.json":      {v2User("opted-in")},
	"v2_user_opted_out.json":     {v2User("opted-out")},
	"v2_user_sandbox_start.json": {v2User("sandbox-start")},

	"v3_enqueued.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppDocs,
		MessageID:   "2baff204-c39a-4121-90b5-f53f26d522b3",
		WhatsAppID:  "wamid.HBgMOTE5MTYzODA1ODczFQIAERgSNkZCMThGMEEwQzJDOUFGQjFBAA==",
		Destination: "919163805873", Status: StatusEnqueued, Time: utc(2024, 3, 20, 13, 29, 53, 420),
	}},
	"v3_sent.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppDocs,
		MessageID:   "7daeb742-f2dc-4c09-90e0-d879d20f7b98",
		WhatsAppID:  "wamid.HBgMOTE5MTYzODA1ODczFQIAERgSMDQ4RjFCQTc2MzdFMUI4NkIyAA==",
		Destination: "919163805873", Status: StatusSent, Time: utc(2024, 3, 20, 10, 27, 41, 0),
		ConversationID:      "3dabdf65abaf1cbbf85217d232cce91f",
		ConversationExpires: utc(2024, 3, 20, 12, 2, 0, 0),
		PricingCategory:     "marketing",
	}},
	"v3_delivered.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppDocs,
		MessageID:   "7daeb742-f2dc-4c09-90e0-d879d20f7b98",
		WhatsAppID:  "wamid.HBgMOTE5MTYzODA1ODczFQIAERgSMDQ4RjFCQTc2MzdFMUI4NkIyAA==",
		Destination: "919163805873", Status: StatusDelivered, Time: utc(2024, 3, 20, 12, 2, 0, 0),
	}},
	"v3_read.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
		MessageID: "3de985af-d06e-41e1-acaf-c379b429668a", WhatsAppID: "fc46fadf-5075-4bb6-9cff-f3ff8c6f6478",
		Destination: "919970754444", Status: StatusRead, Time: utc(2024, 1, 18, 10, 47, 49, 0),
	}},
	"v3_failed_errors.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
		MessageID:   "3de985af-d06e-41e1-acaf-c379b429668a",
		WhatsAppID:  "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAERgSQjZCRUM3QzY1RjRGNjcwQTk3AA==",
		Destination: "919970754444", Status: StatusFailed, Time: utc(2024, 1, 18, 10, 47, 51, 0),
		Code: 131047, Reason: "Re-engagement message",
	}},
	"v3_failed_flat.json": {{
		Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
		MessageID:   "3de985af-d06e-41e1-acaf-c379b429668a",
		Destination: "919970754444", Status: StatusFailed, Time: v2EnvelopeTime,
		Code: 1002, Reason: "Number Does Not Exists On WhatsApp",
	}},
	"v3_inbound_text.json": {{
		Kind: EventInbound, Format: CallbackV3, App: v3AppSeed,
		WhatsAppID:  "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAEhgUM0E1NjIzMTY1N0VGNUE5NjY1M0EA",
		Destination: "91997075***", Time: utc(2024, 1, 18, 10, 47, 51, 0),
		Inbound: &InboundMessage{
			ID:   "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAEhgUM0E1NjIzMTY1N0VGNUE5NjY1M0EA",
			From: "91997075***", Name: "Sneha", Type: "text", Text: "Hi",
		},
	}},
	"v3_batch.json": {
		{
			Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
			MessageID: "11111111-1111-4111-8111-111111111111", WhatsAppID: "wamid.AAA",
			Destination: "919900000001", Status: StatusDelivered, Time: utc(2024, 1, 18, 10, 47, 51, 0),
		},
		{
			Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
			MessageID: "22222222-2222-4222-8222-222222222222", WhatsAppID: "wamid.BBB",
			Destination: "919900000002", Status: StatusRead, Time: utc(2024, 1, 18, 10, 48, 20, 0),
		},
		{
			Kind: EventInbound, Format: CallbackV3, App: v3AppSeed,
			WhatsAppID: "wamid.EEE", Destination: "919900000005", Time: utc(2024, 1, 18, 10, 50, 0, 0),
			Inbound: &InboundMessage{
				ID: "wamid.EEE", From: "919900000005", Name: "Ravi", Type: "image", Text: "receipt",
				MediaURL:  "https://filemanager.gupshup.io/wa/media/receipt.jpg",
				ContextID: "wamid.BBB", ContextGsID: "22222222-2222-4222-8222-222222222222",
			},
		},
		{
			Kind: EventStatus, Format: CallbackV3, App: v3AppSeed,
			MessageID: "33333333-3333-4333-8333-333333333333", WhatsAppID: "wamid.CCC",
			Destination: "919900000003", Status: StatusFailed, Time: utc(2024, 1, 18, 10, 50, 0, 0),
			Code: 131026, Reason: "Message undeliverable",
		},
	},
	"v3_probe.json":      {{Kind: EventProbe, Format: CallbackV3, App: v3AppSeed}},
	"v3_probe_bare.json": {{Kind: EventProbe, Format: CallbackV3}},

	"enterprise_dlr_array.json": {
		{
			Kind: EventStatus, Format: CallbackEnterprise, MessageID: "4340692475342673000-328395726406189000",
			Destination: "9189XXXXXXXX", Status: StatusDelivered, Time: enterpriseTime,
		},
		{
			Kind: EventStatus, Format: CallbackEnterprise, MessageID: "4340692475342673001-328395726406189001",
			Destination: "918900000000", Status: StatusFailed, Time: enterpriseTime,
			Code: 1002, Reason: "UNKNOWN_SUBSCRIBER",
		},
	},
	"enterprise_dlr_single.json": {{
		Kind: EventStatus, Format: CallbackEnterprise, MessageID: "4340692475342673000-328395726406189000",
		Destination: "9189XXXXXXXX", Status: StatusRead, Time: enterpriseTime,
	}},
}

// Form bodies are not JSON, so they live here rather than among the fixtures.
var callbackFormBodies = []struct {
	name string
	body string
	want Event
}{
	{
		name: "classic success",
		body: "externalId=3365253494564375000&deliveredTS=1437638693000&status=SUCCESS&phoneNo=919XXXXXXXXX&cause=SUCCESS&errCode=000&noOfFrags=1&mask=TESTSM",
		want: Event{
			Kind: EventStatus, Format: CallbackEnterprise, MessageID: "3365253494564375000",
			Destination: "919XXXXXXXXX", Status: StatusDelivered, Time: utc(2015, 7, 23, 8, 4, 53, 0),
		},
	},
	{
		name: "classic failure",
		body: "externalId=3365253494564375001&deliveredTS=1437638693&status=FAIL&phoneNo=%2B919800000000&cause=ABSENT_SUBSCRIBER&errCode=003\n",
		want: Event{
			Kind: EventStatus, Format: CallbackEnterprise, MessageID: "3365253494564375001",
			Destination: "919800000000", Status: StatusFailed, Time: utc(2015, 7, 23, 8, 4, 53, 0),
			Code: 3, Reason: "ABSENT_SUBSCRIBER",
		},
	},
	{
		name: "whatsapp key names",
		body: "externalId=4340692475342673000-328395726406189000&eventType=SENT&destAddr=918900000000&eventTs=1533542271000&cause=SUCCESS&errorCode=000",
		want: Event{
			Kind: EventStatus, Format: CallbackEnterprise, MessageID: "4340692475342673000-328395726406189000",
			Destination: "918900000000", Status: StatusSent, Time: enterpriseTime,
		},
	},
}

func readCallbackFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "callbacks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCallbackFixtures(t *testing.T) {
	for name, want := range callbackFixtures {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCallback(readCallbackFixture(t, name))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			checkEvents(t, got, want)
		})
	}
}

// Every fixture on disk must have expectations, so that a new file cannot
// sit there untested.
func TestCallbackFixturesAllChecked(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "callbacks", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(callbackFixtures) {
		t.Errorf("%d fixture files, %d with expectations", len(files), len(callbackFixtures))
	}
	for _, f := range files {
		if _, ok := callbackFixtures[filepath.Base(f)]; !ok {
			t.Errorf("fixture %s has no expected events", filepath.Base(f))
		}
	}
}

func TestParseCallbackForm(t *testing.T) {
	for _, tc := range callbackFormBodies {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCallback([]byte(tc.body))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			checkEvents(t, got, []Event{tc.want})
		})
	}
}

func checkEvents(t *testing.T, got, want []Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		checkEvent(t, i, got[i], want[i])
	}
}

func checkEvent(t *testing.T, i int, got, want Event) {
	t.Helper()
	field := func(name string, g, w any) {
		t.Helper()
		if g != w {
			t.Errorf("event %d: %s = %q, want %q", i, name, g, w)
		}
	}
	field("Kind", got.Kind, want.Kind)
	field("Format", got.Format, want.Format)
	field("App", got.App, want.App)
	field("MessageID", got.MessageID, want.MessageID)
	field("WhatsAppID", got.WhatsAppID, want.WhatsAppID)
	field("Destination", got.Destination, want.Destination)
	field("Status", got.Status, want.Status)
	if got.Code != want.Code {
		t.Errorf("event %d: Code = %d, want %d", i, got.Code, want.Code)
	}
	field("Reason", got.Reason, want.Reason)
	checkTime(t, i, "Time", got.Time, want.Time)
	field("UserEvent", got.UserEvent, want.UserEvent)
	field("ConversationID", got.ConversationID, want.ConversationID)
	checkTime(t, i, "ConversationExpires", got.ConversationExpires, want.ConversationExpires)
	field("PricingCategory", got.PricingCategory, want.PricingCategory)
	switch {
	case got.Inbound == nil && want.Inbound == nil:
	case got.Inbound == nil || want.Inbound == nil:
		t.Errorf("event %d: Inbound = %+v, want %+v", i, got.Inbound, want.Inbound)
	default:
		g, w := got.Inbound, want.Inbound
		field("Inbound.ID", g.ID, w.ID)
		field("Inbound.From", g.From, w.From)
		field("Inbound.Name", g.Name, w.Name)
		field("Inbound.Type", g.Type, w.Type)
		field("Inbound.Text", g.Text, w.Text)
		field("Inbound.MediaURL", g.MediaURL, w.MediaURL)
		field("Inbound.ContextID", g.ContextID, w.ContextID)
		field("Inbound.ContextGsID", g.ContextGsID, w.ContextGsID)
	}
}

func checkTime(t *testing.T, i int, name string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.IsZero() != want.IsZero() {
		t.Errorf("event %d: %s = %v, want %v", i, name, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("event %d: %s in %v, want UTC", i, name, got.Location())
	}
}

func TestParseCallbackErrors(t *testing.T) {
	const v2 = `"app":"DemoAPI","timestamp":1705574869123,"version":2,`
	const v3open = `{"object":"whatsapp_business_account","gs_app_id":"a","entry":[{"changes":[{"field":"messages","value":`
	const v3close = `}]}]}`
	tests := []struct {
		name, body, want string
		unhandled        bool
	}{
		{name: "empty", body: "", want: "callback: empty body"},
		{name: "blank", body: " \r\n\t", want: "callback: empty body"},
		{name: "null", body: "null", want: "JSON null is not a callback"},
		{name: "number", body: "42", want: "JSON number is not a callback"},
		{name: "string", body: `"hello"`, want: "JSON string is not a callback"},
		{name: "boolean", body: "true", want: "JSON boolean is not a callback"},
		{name: "empty array", body: "[]", want: "enterprise DLR array: empty"},
		{name: "empty object", body: "{}", want: "JSON object of unknown shape"},
		{name: "other object", body: `{"hello":"world"}`, want: "JSON object of unknown shape"},
		{name: "random text", body: "the quick brown fox", want: "neither JSON nor a form-encoded DLR"},
		{name: "truncated JSON", body: `{"app":"DemoAPI","type":"message-ev`, want: "malformed JSON"},
		{name: "form without externalId", body: "a=b&c=d", want: "no externalId"},
		{name: "bad form escape", body: "externalId=1&%zz=1", want: "valid form-encoded DLR"},

		{name: "v2 unknown type", body: `{` + v2 + `"type":"weird-event","payload":{}}`, want: `v2: unknown type "weird-event"`},
		{name: "v2 type missing", body: `{` + v2 + `"payload":{"id":"x"}}`, want: "v2: type missing"},
		{name: "v2 payload missing", body: `{` + v2 + `"type":"message-event"}`, want: "v2 message-event: payload missing"},
		{name: "v2 payload not an object", body: `{` + v2 + `"type":"message-event","payload":"x"}`, want: "malformed JSON"},
		{name: "v2 status without ids", body: `{` + v2 + `"type":"message-event","payload":{"type":"delivered","destination":"91","payload":{"ts":1}}}`, want: "callback: v2 message-event: payload.id missing"},
		{name: "v2 enqueued without ids", body: `{` + v2 + `"type":"message-event","payload":{"type":"enqueued"}}`, want: "callback: v2 message-event: payload.id missing"},
		{name: "v2 status type missing", body: `{` + v2 + `"type":"message-event","payload":{"id":"x"}}`, want: "v2 message-event: payload.type missing"},
		{name: "v2 unknown status", body: `{` + v2 + `"type":"message-event","payload":{"id":"x","type":"bounced"}}`, want: `unknown status "bounced" in payload.type`},
		{name: "v2 timestamp boolean", body: `{"app":"A","timestamp":true,"type":"message-event","payload":{"id":"x","type":"sent"}}`, want: "v2 message-event: timestamp: want a number or numeric string, got a boolean"},
		{name: "v2 timestamp word", body: `{"app":"A","timestamp":"yesterday","type":"message-event","payload":{"id":"x","type":"sent"}}`, want: `timestamp: "yesterday" is not a timestamp`},
		{name: "v2 timestamp object", body: `{"app":"A","timestamp":{"s":1},"type":"user-event","payload":{"phone":"91","type":"opted-in"}}`, want: "timestamp: want a number or numeric string, got an object"},
		{name: "v2 ts array", body: `{` + v2 + `"type":"message-event","payload":{"id":"x","gsId":"y","type":"sent","payload":{"ts":[1]}}}`, want: "payload.payload.ts: want a number or numeric string, got an array"},
		{name: "v2 timestamp too large", body: `{"app":"A","timestamp":1e300,"type":"message-event","payload":{"id":"x","type":"sent"}}`, want: "out of range"},
		{name: "v2 code not numeric", body: `{` + v2 + `"type":"message-event","payload":{"id":"x","type":"failed","payload":{"code":"E42","reason":"r"}}}`, want: `payload.payload.code: "E42" is not an integer`},
		{name: "v2 inbound without id", body: `{` + v2 + `"type":"message","payload":{"source":"91","type":"text","payload":{"text":"hi"}}}`, want: "v2 message: payload.id missing"},
		{name: "v2 inbound without sender", body: `{` + v2 + `"type":"message","payload":{"id":"x","type":"text","payload":{"text":"hi"}}}`, want: "payload.source and payload.sender.phone missing"},
		{name: "v2 unknown user event", body: `{` + v2 + `"type":"user-event","payload":{"phone":"91","type":"blocked"}}`, want: `v2 user-event: unknown user event "blocked"`},
		{name: "v2 user event without phone", body: `{` + v2 + `"type":"user-event","payload":{"type":"opted-in"}}`, want: "v2 user-event: payload.phone missing"},
		{name: "v2 billing event", body: `{` + v2 + `"type":"billing-event","payload":{"deductions":{"type":"regular","model":"PMP","billable":true}}}`, want: "v2 billing-event: callback kind not handled", unhandled: true},

		{name: "v3 no entries", body: `{"object":"whatsapp_business_account","gs_app_id":"a","entry":[]}`, want: "v3: no statuses or messages"},
		{name: "v3 empty value", body: v3open + `{"messaging_product":"whatsapp"}` + v3close, want: "v3: no statuses or messages"},
		{name: "v3 other field", body: `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}`, want: "v3: callback kind not handled", unhandled: true},
		{name: "v3 unknown object", body: `{"object":"page","entry":[]}`, want: `v3: unknown object "page"`},
		{name: "v3 status without ids", body: v3open + `{"statuses":[{"recipient_id":"91","status":"sent","timestamp":"1"}]}` + v3close, want: "v3 entry[0].changes[0].value.statuses[0]: gs_id and id missing"},
		{name: "v3 unknown status", body: v3open + `{"statuses":[{"id":"w","status":"pending"}]}` + v3close, want: `statuses[0]: unknown status "pending"`},
		{name: "v3 status missing", body: v3open + `{"statuses":[{"id":"w"}]}` + v3close, want: "statuses[0]: status missing"},
		{name: "v3 timestamp boolean", body: v3open + `{"statuses":[{"id":"w","status":"sent","timestamp":false}]}` + v3close, want: "statuses[0]: timestamp: want a number or numeric string, got a boolean"},
		{name: "v3 timestamp negative", body: v3open + `{"statuses":[{"id":"w","status":"sent","timestamp":"-5"}]}` + v3close, want: `timestamp: negative timestamp "-5"`},
		{name: "v3 error code not numeric", body: v3open + `{"statuses":[{"id":"w","status":"failed","errors":[{"code":"abc"}]}]}` + v3close, want: `errors[0].code: "abc" is not an integer`},
		{name: "v3 message without id", body: v3open + `{"messages":[{"from":"91","type":"text","text":{"body":"hi"}}]}` + v3close, want: "v3 entry[0].changes[0].value.messages[0]: id missing"},
		{name: "v3 message without from", body: v3open + `{"messages":[{"id":"w","type":"text"}]}` + v3close, want: "messages[0]: from missing"},
		{name: "v3 message timestamp object", body: v3open + `{"messages":[{"id":"w","from":"91","timestamp":{}}]}` + v3close, want: "messages[0]: timestamp: want a number"},
		{name: "v3 bare status without ids", body: `{"statuses":[{"status":"sent"}]}`, want: "callback: v3 statuses[0]: gs_id and id missing"},

		{name: "DLR array of numbers", body: `[1,2]`, want: "enterprise DLR array: malformed JSON"},
		{name: "DLR array without externalId", body: `[{"eventType":"SENT"}]`, want: "enterprise DLR array[0]: externalId missing"},
		{name: "DLR second record bad", body: `[{"externalId":"1","eventType":"SENT"},{"externalId":"2","eventType":"LOST"}]`, want: `enterprise DLR array[1]: unknown eventType (status) "LOST"`},
		{name: "DLR without eventType", body: `{"externalId":"1-2","destAddr":"91"}`, want: "enterprise DLR: eventType (status) missing"},
		{name: "DLR bad eventTs", body: `{"externalId":"1-2","eventType":"SENT","eventTs":"soon"}`, want: `eventTs: "soon" is not a timestamp`},
		{name: "DLR bad errorCode", body: `{"externalId":"1-2","eventType":"FAILED","errorCode":true}`, want: "errorCode: want a number or numeric string, got a boolean"},
		{name: "form DLR unknown status", body: "externalId=1&status=UNKNOWN&phoneNo=91", want: `enterprise form DLR: unknown eventType (status) "UNKNOWN"`},
		{name: "form DLR empty externalId", body: "externalId=&status=SUCCESS", want: "enterprise form DLR: externalId missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, err := ParseCallback([]byte(tc.body))
			if err == nil {
				t.Fatalf("no error, events %+v", events)
			}
			if events != nil {
				t.Errorf("events %+v returned with the error", events)
			}
			if !strings.HasPrefix(err.Error(), "callback: ") {
				t.Errorf("error %q does not say it is about a callback", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if got := errors.Is(err, ErrUnhandledCallback); got != tc.unhandled {
				t.Errorf("errors.Is(err, ErrUnhandledCallback) = %v, want %v", got, tc.unhandled)
			}
		})
	}
}

// An error message quotes what it rejects, but only the start of it: a
// hostile body must not make log lines as large as itself.
func TestParseCallbackErrorQuotesAreShort(t *testing.T) {
	long := strings.Repeat("x", 10000)
	_, err := ParseCallback([]byte(`{"type":"` + long + `","payload":{}}`))
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("error = %v", err)
	}
}

func TestCallbackTimestampUnits(t *testing.T) {
	want := utc(2024, 1, 18, 10, 47, 49, 0)
	wantMs := utc(2024, 1, 18, 10, 47, 49, 123)
	tests := []struct {
		json string
		want time.Time
	}{
		{`1705574869`, want},
		{`"1705574869"`, want},
		{`1705574869123`, wantMs},
		{`"1705574869123"`, wantMs},
		{`1705574869123000`, wantMs},
		{`1705574869123000000`, wantMs},
		{`"1705574869.123"`, wantMs},
		{`1.705574869123e12`, wantMs},
		{`" 1705574869 "`, want},
		{`1705574869.5`, utc(2024, 1, 18, 10, 47, 49, 500)},
		{`0`, time.Time{}},
		{`""`, time.Time{}},
		{`null`, time.Time{}},
	}
	for _, tc := range tests {
		var s callbackScalar
		if err := s.UnmarshalJSON([]byte(tc.json)); err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		got, err := s.instant("timestamp")
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if !got.Equal(tc.want) || got.IsZero() != tc.want.IsZero() {
			t.Errorf("%s: got %v, want %v", tc.json, got, tc.want)
		}
	}
}

func BenchmarkParseCallback(b *testing.B) {
	for _, name := range []string{"v2_sent.json", "v2_inbound_text.json", "v3_sent.json", "v3_batch.json", "enterprise_dlr_array.json"} {
		body := readCallbackFixture(b, name)
		b.Run(strings.TrimSuffix(name, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseCallback(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Bodies that bend the documented shapes in ways seen from Gupshup or
// allowed by JSON, and must still parse.
func TestParseCallbackTolerated(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Event
	}{
		{
			name: "byte order mark, escapes, upper-case status, float string time",
			body: "\xef\xbb\xbf {\"app\":\"Demo\\u0041PI\",\"timestamp\":\"1705574869.123\",\"type\":\"message-event\"," +
				"\"payload\":{\"id\":\"a\\\"b\",\"type\":\"FAILED\",\"payload\":{\"code\":\"131047\",\"reason\":\"caf\\u00e9\"}}}",
			want: []Event{{
				Kind: EventStatus, Format: CallbackV2, App: "DemoAPI", MessageID: `a"b`, Status: StatusFailed,
				Code: 131047, Reason: "café", Time: utc(2024, 1, 18, 10, 47, 49, 123),
			}},
		},
		{
			name: "v2 inbound with the content flat in payload",
			body: `{"app":"DemoAPI","timestamp":1705574869123,"version":2,"type":"message","payload":{"id":"w1","source":"+919876543210",` +
				`"type":"image","url":"https://example.com/a.jpg","caption":"look"}}`,
			want: []Event{{
				Kind: EventInbound, Format: CallbackV2, App: "DemoAPI", WhatsAppID: "w1", Destination: userPhone, Time: v2EnvelopeTime,
				Inbound: &InboundMessage{ID: "w1", From: userPhone, Type: "image", Text: "look", MediaURL: "https://example.com/a.jpg"},
			}},
		},
		{
			name: "v2 conversation inside payload.payload, category from conversation type",
			body: `{"app":"DemoAPI","timestamp":1705574869123,"type":"message-event","payload":{"id":"w","gsId":"g","type":"sent",` +
				`"destination":"91","payload":{"ts":"1705574868","conversation":{"id":"c1","expiresAt":"1705661269","type":"marketing"}}}}`,
			want: []Event{{
				Kind: EventStatus, Format: CallbackV2, App: "DemoAPI", MessageID: "g", WhatsAppID: "w", Destination: "91",
				Status: StatusSent, Time: utc(2024, 1, 18, 10, 47, 48, 0),
				ConversationID: "c1", ConversationExpires: utc(2024, 1, 19, 10, 47, 49, 0), PricingCategory: "marketing",
			}},
		},
		{
			name: "v3 number ms time, string error code, button reply, null timestamp",
			body: `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{` +
				`"statuses":[{"gs_id":"g","status":"failed","timestamp":1.705574869123e12,"errors":[{"code":"470","message":"outside window"}]}],` +
				`"messages":[{"from":"+91","id":"w","timestamp":null,"type":"button","button":{"text":"Yes","payload":"y"}}]}}]}]}`,
			want: []Event{
				{
					Kind: EventStatus, Format: CallbackV3, MessageID: "g", Status: StatusFailed,
					Code: 470, Reason: "outside window", Time: utc(2024, 1, 18, 10, 47, 49, 123),
				},
				{
					Kind: EventInbound, Format: CallbackV3, WhatsAppID: "w", Destination: "91",
					Inbound: &InboundMessage{ID: "w", From: "91", Type: "button", Text: "Yes"},
				},
			},
		},
		{
			name: "v3 probe beside a real status",
			body: `{"object":"whatsapp_business_account","gs_app_id":"a","entry":[{"changes":[{"value":{"statuses":[` +
				`{"type":"set-callback"},{"id":"w","status":"delivered","timestamp":"1705574869"}]}}]}]}`,
			want: []Event{
				{Kind: EventProbe, Format: CallbackV3, App: "a"},
				{Kind: EventStatus, Format: CallbackV3, App: "a", WhatsAppID: "w", Status: StatusDelivered, Time: utc(2024, 1, 18, 10, 47, 49, 0)},
			},
		},
		{
			name: "enterprise report with numbers where strings are usual",
			body: `{"externalId":4340692475342673000,"eventType":"failed","errorCode":5,"cause":"EXPIRED","destAddr":919800000000,"eventTs":"1533542271000"}`,
			want: []Event{{
				Kind: EventStatus, Format: CallbackEnterprise, MessageID: "4340692475342673000", Destination: "919800000000",
				Status: StatusFailed, Code: 5, Reason: "EXPIRED", Time: enterpriseTime,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCallback([]byte(tc.body))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			checkEvents(t, got, tc.want)
		})
	}
}

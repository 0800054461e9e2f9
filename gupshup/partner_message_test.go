package gupshup_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
)

const metaTo = "919970012345"

// metaSamples are complete, valid messages of every type, with the
// optional fields filled so that a round trip has something to lose.
func metaSamples() map[string]gupshup.MetaMessage {
	reply := &gupshup.MetaContext{MessageID: "wamid.HBgMOTE5OTcwNzU0NDQ0FQIAEhgU"}
	return map[string]gupshup.MetaMessage{
		"text":             {To: metaTo, Context: reply, Text: &gupshup.MetaText{Body: "See https://example.com", PreviewURL: true}},
		"image by link":    {To: metaTo, Image: &gupshup.MetaMedia{Link: "https://example.com/a.png", Caption: "a picture"}},
		"image by id":      {To: metaTo, Image: &gupshup.MetaMedia{ID: "1116325689362602"}},
		"audio":            {To: metaTo, Audio: &gupshup.MetaMedia{Link: "https://example.com/a.ogg"}},
		"video":            {To: metaTo, Video: &gupshup.MetaMedia{Link: "https://example.com/a.mp4", Caption: "a clip"}},
		"document":         {To: metaTo, Document: &gupshup.MetaMedia{Link: "https://example.com/a.pdf", Caption: "the bill", Filename: "bill.pdf"}},
		"sticker":          {To: metaTo, Sticker: &gupshup.MetaMedia{ID: "7381"}},
		"reaction":         {To: metaTo, Reaction: &gupshup.MetaReaction{MessageID: "wamid.X", Emoji: "\U0001F44D"}},
		"reaction removed": {To: metaTo, Reaction: &gupshup.MetaReaction{MessageID: "wamid.X"}},
		"location":         {To: metaTo, Location: &gupshup.MetaLocation{Latitude: 12.9716, Longitude: 77.5946, Name: "Office", Address: "MG Road"}},
		"contacts": {To: metaTo, Contacts: []gupshup.MetaContact{{
			Name:      gupshup.MetaContactName{FormattedName: "Asha Rao", FirstName: "Asha", LastName: "Rao"},
			Birthday:  "1990-01-31",
			Phones:    []gupshup.MetaContactPhone{{Phone: "+91 99700 12345", Type: "CELL", WaID: "919970012345"}},
			Emails:    []gupshup.MetaContactEmail{{Email: "asha@example.com", Type: "WORK"}},
			Addresses: []gupshup.MetaContactAddress{{Street: "1 MG Road", City: "Bengaluru", Zip: "560001", Country: "India", CountryCode: "IN", Type: "WORK"}},
			Org:       &gupshup.MetaContactOrg{Company: "Acme", Title: "CTO"},
			URLs:      []gupshup.MetaContactURL{{URL: "https://example.com", Type: "WORK"}},
		}}},
		"interactive list": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type:   gupshup.InteractiveList,
			Header: &gupshup.MetaInteractiveHeader{Type: "text", Text: "Menu"},
			Body:   &gupshup.MetaInteractiveText{Text: "Pick one"},
			Footer: &gupshup.MetaInteractiveText{Text: "Thanks"},
			Action: &gupshup.MetaInteractiveAction{Button: "Choose", Sections: []gupshup.MetaSection{
				{Title: "Hot", Rows: []gupshup.MetaRow{{ID: "tea", Title: "Tea", Description: "Masala"}}},
				{Title: "Cold", Rows: []gupshup.MetaRow{{ID: "lassi", Title: "Lassi"}}},
			}},
		}},
		"interactive button": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type:   gupshup.InteractiveButton,
			Header: &gupshup.MetaInteractiveHeader{Type: "image", Image: &gupshup.MetaMedia{Link: "https://example.com/h.png"}},
			Body:   &gupshup.MetaInteractiveText{Text: "Confirm?"},
			Action: &gupshup.MetaInteractiveAction{Buttons: []gupshup.MetaReplyButton{
				{Type: "reply", Reply: gupshup.MetaReply{ID: "yes", Title: "Yes"}},
				{Type: "reply", Reply: gupshup.MetaReply{ID: "no", Title: "No"}},
			}},
		}},
		"interactive flow": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type: gupshup.InteractiveFlow,
			Body: &gupshup.MetaInteractiveText{Text: "Sign up"},
			Action: &gupshup.MetaInteractiveAction{Name: "flow", Parameters: &gupshup.MetaActionParameters{
				FlowMessageVersion: "3", FlowToken: "tok-1", FlowID: "460785803057688", FlowCTA: "Open",
				FlowAction: "navigate", FlowActionPayload: &gupshup.MetaFlowActionPayload{Screen: "WELCOME", Data: map[string]any{"name": "Asha"}},
			}},
		}},
		"interactive address": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type: gupshup.InteractiveAddress,
			Body: &gupshup.MetaInteractiveText{Text: "Where to?"},
			Action: &gupshup.MetaInteractiveAction{Name: "address_message", Parameters: &gupshup.MetaActionParameters{
				Country: "IN", Values: map[string]any{"name": "Asha", "in_pin_code": "560001"},
			}},
		}},
		"interactive cta_url": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type: gupshup.InteractiveCTAURL,
			Body: &gupshup.MetaInteractiveText{Text: "Track"},
			Action: &gupshup.MetaInteractiveAction{Name: "cta_url", Parameters: &gupshup.MetaActionParameters{
				DisplayText: "Track order", URL: "https://example.com/t/1",
			}},
		}},
		"interactive location request": {To: metaTo, Interactive: &gupshup.MetaInteractive{
			Type:   gupshup.InteractiveLocationRequest,
			Body:   &gupshup.MetaInteractiveText{Text: "Share your location"},
			Action: &gupshup.MetaInteractiveAction{Name: "send_location"},
		}},
		"template": {To: metaTo, Template: &gupshup.MetaTemplate{
			Name: "temp_lto_copyoffercode", Namespace: "a0ff8e69_71a0_45bf_b6fe_92be4a3c58cd",
			Language: gupshup.MetaLanguage{Code: "en", Policy: "deterministic"},
			Components: []gupshup.MetaComponent{
				{Type: "header", Parameters: []gupshup.MetaParameter{{Type: "image", Image: &gupshup.MetaMedia{Link: "https://example.com/o.png"}}}},
				{Type: "body", Parameters: []gupshup.MetaParameter{
					{Type: "text", Text: "User"},
					{Type: "currency", Currency: &gupshup.MetaCurrency{FallbackValue: "$10.99", Code: "USD", Amount1000: 10990}},
					{Type: "date_time", DateTime: &gupshup.MetaDateTime{FallbackValue: "February 25, 1977"}},
				}},
				{Type: "limited_time_offer", Parameters: []gupshup.MetaParameter{{Type: "limited_time_offer", LimitedTimeOffer: &gupshup.MetaLimitedTimeOffer{ExpirationTimeMs: 1704881963523}}}},
				{Type: "button", SubType: "copy_code", Index: "0", Parameters: []gupshup.MetaParameter{{Type: "coupon_code", CouponCode: "1234"}}},
				{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []gupshup.MetaParameter{{Type: "payload", Payload: "stop"}}},
				{Type: "button", SubType: "flow", Index: "2", Parameters: []gupshup.MetaParameter{{Type: "action", Action: &gupshup.MetaTemplateAction{FlowToken: "t"}}}},
			},
		}},
		"template carousel": {To: metaTo, Template: &gupshup.MetaTemplate{
			Name: "cards", Language: gupshup.MetaLanguage{Code: "en_US"},
			Components: []gupshup.MetaComponent{
				{Type: "body", Parameters: []gupshup.MetaParameter{{Type: "text", ParameterName: "customer", Text: "Asha"}}},
				{Type: "carousel", Cards: []gupshup.MetaCard{{CardIndex: 0, Components: []gupshup.MetaComponent{
					{Type: "header", Parameters: []gupshup.MetaParameter{{Type: "video", Video: &gupshup.MetaMedia{ID: "55"}}}},
					{Type: "button", SubType: "url", Index: "0", Parameters: []gupshup.MetaParameter{{Type: "text", Text: "sku-1"}}},
				}}}},
			},
		}},
	}
}

func withMetaDefaults(m gupshup.MetaMessage) gupshup.MetaMessage {
	b, _ := json.Marshal(m)
	var out gupshup.MetaMessage
	json.Unmarshal(b, &out)
	return out
}

func TestMetaValidateSamples(t *testing.T) {
	for name, m := range metaSamples() {
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for name, m := range metaSamples() {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gupshup.DecodeMetaMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			want := m
			want.MessagingProduct, want.RecipientType = "whatsapp", "individual"
			want.Type = strings.Fields(name)[0]
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the message:\n got %+v\nwant %+v\njson %s", got, want, b)
			}
		})
	}
}

// TestMetaJSONShape pins the wire format to Meta's reference samples.
func TestMetaJSONShape(t *testing.T) {
	cases := []struct {
		name string
		msg  gupshup.MetaMessage
		want string
	}{
		{"text reply", gupshup.MetaMessage{To: metaTo, Context: &gupshup.MetaContext{MessageID: "wamid.1"}, Text: &gupshup.MetaText{Body: "hi"}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"text","context":{"message_id":"wamid.1"},"text":{"body":"hi"}}`},
		{"document", gupshup.MetaMessage{To: metaTo, Document: &gupshup.MetaMedia{Link: "https://x.io/a.pdf", Filename: "a.pdf"}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"document","document":{"link":"https://x.io/a.pdf","filename":"a.pdf"}}`},
		{"reaction removal keeps the empty emoji", gupshup.MetaMessage{To: metaTo, Reaction: &gupshup.MetaReaction{MessageID: "wamid.1"}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"reaction","reaction":{"message_id":"wamid.1","emoji":""}}`},
		{"location", gupshup.MetaMessage{To: metaTo, Location: &gupshup.MetaLocation{Latitude: 1.5, Longitude: -2.25}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"location","location":{"latitude":1.5,"longitude":-2.25}}`},
		{"list", gupshup.MetaMessage{To: metaTo, Interactive: &gupshup.MetaInteractive{Type: "list", Body: &gupshup.MetaInteractiveText{Text: "b"},
			Action: &gupshup.MetaInteractiveAction{Button: "Go", Sections: []gupshup.MetaSection{{Rows: []gupshup.MetaRow{{ID: "1", Title: "One"}}}}}}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"Go","sections":[{"rows":[{"id":"1","title":"One"}]}]}}}`},
		{"flow", gupshup.MetaMessage{To: metaTo, Interactive: &gupshup.MetaInteractive{Type: "flow", Body: &gupshup.MetaInteractiveText{Text: "b"},
			Action: &gupshup.MetaInteractiveAction{Name: "flow", Parameters: &gupshup.MetaActionParameters{FlowMessageVersion: "3", FlowID: "9", FlowCTA: "Go", FlowAction: "navigate", FlowActionPayload: &gupshup.MetaFlowActionPayload{Screen: "S"}}}}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"9","flow_cta":"Go","flow_action":"navigate","flow_action_payload":{"screen":"S"}}}}}`},
		{"template of the seed", gupshup.MetaMessage{To: metaTo, Template: &gupshup.MetaTemplate{Name: "temp_lto_copyoffercode", Namespace: "ns",
			Language: gupshup.MetaLanguage{Policy: "deterministic", Code: "en"},
			Components: []gupshup.MetaComponent{
				{Type: "body", Parameters: []gupshup.MetaParameter{{Type: "text", Text: "User"}}},
				{Type: "limited_time_offer", Parameters: []gupshup.MetaParameter{{Type: "limited_time_offer", LimitedTimeOffer: &gupshup.MetaLimitedTimeOffer{ExpirationTimeMs: 1704881963523}}}},
				{Type: "button", SubType: "copy_code", Index: "0", Parameters: []gupshup.MetaParameter{{Type: "coupon_code", CouponCode: "1234"}}},
			}}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"template","template":{"language":{"policy":"deterministic","code":"en"},"namespace":"ns","name":"temp_lto_copyoffercode","components":[{"type":"body","parameters":[{"type":"text","text":"User"}]},{"type":"limited_time_offer","parameters":[{"type":"limited_time_offer","limited_time_offer":{"expiration_time_ms":1704881963523}}]},{"type":"button","sub_type":"copy_code","index":"0","parameters":[{"type":"coupon_code","coupon_code":"1234"}]}]}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			json.Unmarshal(b, &got)
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
		})
	}
}

// TestMetaDecodeShapes covers the shapes hand-written payloads use.
func TestMetaDecodeShapes(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(gupshup.MetaMessage) bool
	}{
		{"object as a JSON string, as in the form",
			`{"to":"919970012345","type":"template","template":"{\"name\":\"t\",\"language\":{\"code\":\"en\"}}"}`,
			func(m gupshup.MetaMessage) bool {
				return m.Template != nil && m.Template.Name == "t" && m.Template.Language.Code == "en"
			}},
		{"to as a number",
			`{"to":919970012345,"text":{"body":"hi"}}`,
			func(m gupshup.MetaMessage) bool { return m.To == "919970012345" && m.Text.Body == "hi" }},
		{"coordinates as strings",
			`{"to":"919970012345","type":"location","location":{"latitude":"12.5","longitude":"-77.25"}}`,
			func(m gupshup.MetaMessage) bool { return m.Location.Latitude == 12.5 && m.Location.Longitude == -77.25 }},
		{"button index as a number",
			`{"to":"919970012345","type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"quick_reply","index":2,"parameters":[{"type":"payload","payload":"p"}]}]}}`,
			func(m gupshup.MetaMessage) bool { return m.Template.Components[0].Index == "2" }},
		{"contacts as a JSON string",
			`{"to":"919970012345","type":"contacts","contacts":"[{\"name\":{\"formatted_name\":\"A B\",\"first_name\":\"A\"}}]"}`,
			func(m gupshup.MetaMessage) bool { return len(m.Contacts) == 1 && m.Contacts[0].Name.FirstName == "A" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := gupshup.DecodeMetaMessage([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(m) {
				t.Errorf("decoded %+v", m)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("decoded message does not validate: %v", err)
			}
		})
	}
}

func TestMetaDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in, field string
	}{
		{"not JSON", `{"to":`, "message"},
		{"an array", `[1]`, "message"},
		{"object string that is not JSON", `{"to":"919970012345","text":"hello"}`, "text"},
		{"body a number", `{"to":"919970012345","text":{"body":5}}`, "text.body"},
		{"latitude not a number", `{"to":"919970012345","location":{"latitude":"north","longitude":1}}`, "location"},
		{"index not a number", `{"to":"919970012345","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","index":"x1","sub_type":"url"},{"type":"button","index":true}]}}`, "template"},
		{"to an object", `{"to":{"n":1}}`, "to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := gupshup.DecodeMetaMessage([]byte(c.in))
			var ve *gupshup.ValidationError
			if !errors.As(err, &ve) || ve.Field != c.field {
				t.Fatalf("got %v, want a ValidationError on %q", err, c.field)
			}
		})
	}
}

func TestMetaValidate(t *testing.T) {
	sample := func(name string) gupshup.MetaMessage { return withMetaDefaults(metaSamples()[name]) }
	long := strings.Repeat("x", 4097)
	cases := []struct {
		name  string
		edit  func() gupshup.MetaMessage
		field string
	}{
		{"no to", func() gupshup.MetaMessage { m := sample("text"); m.To = ""; return m }, "to"},
		{"to not a number", func() gupshup.MetaMessage { m := sample("text"); m.To = "call me"; return m }, "to"},
		{"wrong product", func() gupshup.MetaMessage { m := sample("text"); m.MessagingProduct = "sms"; return m }, "messaging_product"},
		{"wrong recipient type", func() gupshup.MetaMessage { m := sample("text"); m.RecipientType = "group"; return m }, "recipient_type"},
		{"no type, no object", func() gupshup.MetaMessage { return gupshup.MetaMessage{To: metaTo} }, "type"},
		{"unknown type", func() gupshup.MetaMessage { m := sample("text"); m.Type = "fax"; return m }, "type"},
		{"type without its object", func() gupshup.MetaMessage { m := sample("text"); m.Type = "image"; return m }, "image"},
		{"a second object", func() gupshup.MetaMessage { m := sample("text"); m.Image = &gupshup.MetaMedia{ID: "1"}; return m }, "image"},
		{"reply without id", func() gupshup.MetaMessage { m := sample("text"); m.Context.MessageID = ""; return m }, "context.message_id"},
		{"text without body", func() gupshup.MetaMessage { m := sample("text"); m.Text.Body = ""; return m }, "text.body"},
		{"text too long", func() gupshup.MetaMessage { m := sample("text"); m.Text.Body = long; return m }, "text.body"},
		{"image without link or id", func() gupshup.MetaMessage { m := sample("image by link"); m.Image.Link = ""; return m }, "image.link"},
		{"image with both", func() gupshup.MetaMessage { m := sample("image by link"); m.Image.ID = "1"; return m }, "image.id"},
		{"image link not http", func() gupshup.MetaMessage {
			m := sample("image by link")
			m.Image.Link = "file:///etc/passwd"
			return m
		}, "image.link"},
		{"video without link", func() gupshup.MetaMessage { m := sample("video"); m.Video.Link = ""; return m }, "video.link"},
		{"document without link", func() gupshup.MetaMessage { m := sample("document"); m.Document.Link = ""; return m }, "document.link"},
		{"audio with caption", func() gupshup.MetaMessage { m := sample("audio"); m.Audio.Caption = "c"; return m }, "audio.caption"},
		{"sticker with caption", func() gupshup.MetaMessage { m := sample("sticker"); m.Sticker.Caption = "c"; return m }, "sticker.caption"},
		{"image with filename", func() gupshup.MetaMessage { m := sample("image by id"); m.Image.Filename = "a.png"; return m }, "image.filename"},
		{"reaction without message id", func() gupshup.MetaMessage { m := sample("reaction"); m.Reaction.MessageID = ""; return m }, "reaction.message_id"},
		{"location without coordinates", func() gupshup.MetaMessage {
			m := sample("location")
			m.Location.Latitude, m.Location.Longitude = 0, 0
			return m
		}, "location.latitude"},
		{"latitude out of range", func() gupshup.MetaMessage { m := sample("location"); m.Location.Latitude = 95; return m }, "location.latitude"},
		{"longitude out of range", func() gupshup.MetaMessage { m := sample("location"); m.Location.Longitude = -181; return m }, "location.longitude"},
		{"no contacts", func() gupshup.MetaMessage { m := sample("contacts"); m.Contacts = []gupshup.MetaContact{}; return m }, "contacts"},
		{"contact without formatted name", func() gupshup.MetaMessage { m := sample("contacts"); m.Contacts[0].Name.FormattedName = ""; return m }, "contacts[0].name.formatted_name"},
		{"contact with formatted name only", func() gupshup.MetaMessage {
			m := sample("contacts")
			m.Contacts[0].Name = gupshup.MetaContactName{FormattedName: "A"}
			return m
		}, "contacts[0].name"},
		{"contact phone empty", func() gupshup.MetaMessage {
			m := sample("contacts")
			m.Contacts[0].Phones[0] = gupshup.MetaContactPhone{Type: "CELL"}
			return m
		}, "contacts[0].phones[0].phone"},
		{"interactive without type", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Type = ""; return m }, "interactive.type"},
		{"interactive product", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Type = "product"; return m }, "interactive.type"},
		{"interactive without body", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Body = nil; return m }, "interactive.body.text"},
		{"interactive empty footer", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Footer.Text = ""; return m }, "interactive.footer.text"},
		{"interactive without action", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Action = nil; return m }, "interactive.action"},
		{"list with image header", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Header = &gupshup.MetaInteractiveHeader{Type: "image", Image: &gupshup.MetaMedia{ID: "1"}}
			return m
		}, "interactive.header.type"},
		{"text header without text", func() gupshup.MetaMessage { m := sample("interactive list"); m.Interactive.Header.Text = ""; return m }, "interactive.header.text"},
		{"list without button", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Button = ""
			return m
		}, "interactive.action.button"},
		{"list without sections", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections = nil
			return m
		}, "interactive.action.sections"},
		{"section without rows", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[0].Rows = nil
			return m
		}, "interactive.action.sections[0].rows"},
		{"second section without title", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[1].Title = ""
			return m
		}, "interactive.action.sections[1].title"},
		{"row without id", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[1].Rows[0].ID = ""
			return m
		}, "interactive.action.sections[1].rows[0].id"},
		{"row id used twice", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[1].Rows[0].ID = "tea"
			return m
		}, "interactive.action.sections[1].rows[0].id"},
		{"row without title", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[0].Rows[0].Title = ""
			return m
		}, "interactive.action.sections[0].rows[0].title"},
		{"row title too long", func() gupshup.MetaMessage {
			m := sample("interactive list")
			m.Interactive.Action.Sections[0].Rows[0].Title = strings.Repeat("t", 25)
			return m
		}, "interactive.action.sections[0].rows[0].title"},
		{"eleven rows", func() gupshup.MetaMessage {
			m := sample("interactive list")
			for i := 0; i < 10; i++ {
				m.Interactive.Action.Sections[1].Rows = append(m.Interactive.Action.Sections[1].Rows, gupshup.MetaRow{ID: "r" + string(rune('a'+i)), Title: "R"})
			}
			return m
		}, "interactive.action.sections"},
		{"no buttons", func() gupshup.MetaMessage {
			m := sample("interactive button")
			m.Interactive.Action.Buttons = nil
			return m
		}, "interactive.action.buttons"},
		{"four buttons", func() gupshup.MetaMessage {
			m := sample("interactive button")
			b := m.Interactive.Action.Buttons
			m.Interactive.Action.Buttons = append(b, gupshup.MetaReplyButton{Type: "reply", Reply: gupshup.MetaReply{ID: "c", Title: "C"}}, gupshup.MetaReplyButton{Type: "reply", Reply: gupshup.MetaReply{ID: "d", Title: "D"}})
			return m
		}, "interactive.action.buttons"},
		{"button type", func() gupshup.MetaMessage {
			m := sample("interactive button")
			m.Interactive.Action.Buttons[1].Type = ""
			return m
		}, "interactive.action.buttons[1].type"},
		{"button without id", func() gupshup.MetaMessage {
			m := sample("interactive button")
			m.Interactive.Action.Buttons[0].Reply.ID = ""
			return m
		}, "interactive.action.buttons[0].reply.id"},
		{"button without title", func() gupshup.MetaMessage {
			m := sample("interactive button")
			m.Interactive.Action.Buttons[0].Reply.Title = ""
			return m
		}, "interactive.action.buttons[0].reply.title"},
		{"button header image without link", func() gupshup.MetaMessage {
			m := sample("interactive button")
			m.Interactive.Header.Image.Link = ""
			return m
		}, "interactive.header.image.link"},
		{"flow action name", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Name = "open"
			return m
		}, "interactive.action.name"},
		{"flow without parameters", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters = nil
			return m
		}, "interactive.action.parameters"},
		{"flow without version", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters.FlowMessageVersion = ""
			return m
		}, "interactive.action.parameters.flow_message_version"},
		{"flow without id or name", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters.FlowID = ""
			return m
		}, "interactive.action.parameters.flow_id"},
		{"flow without cta", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters.FlowCTA = ""
			return m
		}, "interactive.action.parameters.flow_cta"},
		{"flow navigate without screen", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters.FlowActionPayload.Screen = ""
			return m
		}, "interactive.action.parameters.flow_action_payload.screen"},
		{"flow action unknown", func() gupshup.MetaMessage {
			m := sample("interactive flow")
			m.Interactive.Action.Parameters.FlowAction = "jump"
			return m
		}, "interactive.action.parameters.flow_action"},
		{"address without country", func() gupshup.MetaMessage {
			m := sample("interactive address")
			m.Interactive.Action.Parameters.Country = ""
			return m
		}, "interactive.action.parameters.country"},
		{"address with header", func() gupshup.MetaMessage {
			m := sample("interactive address")
			m.Interactive.Header = &gupshup.MetaInteractiveHeader{Type: "text", Text: "h"}
			return m
		}, "interactive.header"},
		{"cta_url without text", func() gupshup.MetaMessage {
			m := sample("interactive cta_url")
			m.Interactive.Action.Parameters.DisplayText = ""
			return m
		}, "interactive.action.parameters.display_text"},
		{"cta_url without url", func() gupshup.MetaMessage {
			m := sample("interactive cta_url")
			m.Interactive.Action.Parameters.URL = ""
			return m
		}, "interactive.action.parameters.url"},
		{"location request name", func() gupshup.MetaMessage {
			m := sample("interactive location request")
			m.Interactive.Action.Name = ""
			return m
		}, "interactive.action.name"},
		{"template without name", func() gupshup.MetaMessage { m := sample("template"); m.Template.Name = ""; return m }, "template.name"},
		{"template without language", func() gupshup.MetaMessage { m := sample("template"); m.Template.Language.Code = ""; return m }, "template.language.code"},
		{"template policy", func() gupshup.MetaMessage { m := sample("template"); m.Template.Language.Policy = "fallback"; return m }, "template.language.policy"},
		{"component without type", func() gupshup.MetaMessage { m := sample("template"); m.Template.Components[1].Type = ""; return m }, "template.components[1].type"},
		{"button without sub_type", func() gupshup.MetaMessage { m := sample("template"); m.Template.Components[3].SubType = ""; return m }, "template.components[3].sub_type"},
		{"button without index", func() gupshup.MetaMessage { m := sample("template"); m.Template.Components[3].Index = ""; return m }, "template.components[3].index"},
		{"button index 10", func() gupshup.MetaMessage { m := sample("template"); m.Template.Components[3].Index = "10"; return m }, "template.components[3].index"},
		{"parameter without type", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[1].Parameters[0].Type = ""
			return m
		}, "template.components[1].parameters[0].type"},
		{"text parameter without text", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[1].Parameters[0].Text = ""
			return m
		}, "template.components[1].parameters[0].text"},
		{"currency without code", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[1].Parameters[1].Currency.Code = ""
			return m
		}, "template.components[1].parameters[1].currency.code"},
		{"date_time without fallback", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[1].Parameters[2].DateTime = nil
			return m
		}, "template.components[1].parameters[2].date_time.fallback_value"},
		{"image parameter without link", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[0].Parameters[0].Image.Link = ""
			return m
		}, "template.components[0].parameters[0].image.link"},
		{"coupon without code", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[3].Parameters[0].CouponCode = ""
			return m
		}, "template.components[3].parameters[0].coupon_code"},
		{"payload missing", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[4].Parameters[0].Payload = ""
			return m
		}, "template.components[4].parameters[0].payload"},
		{"offer missing", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[2].Parameters[0].LimitedTimeOffer = nil
			return m
		}, "template.components[2].parameters[0].limited_time_offer"},
		{"action missing", func() gupshup.MetaMessage {
			m := sample("template")
			m.Template.Components[5].Parameters[0].Action = nil
			return m
		}, "template.components[5].parameters[0].action"},
		{"carousel without cards", func() gupshup.MetaMessage {
			m := sample("template carousel")
			m.Template.Components[1].Cards = nil
			return m
		}, "template.components[1].cards"},
		{"card button without index", func() gupshup.MetaMessage {
			m := sample("template carousel")
			m.Template.Components[1].Cards[0].Components[1].Index = ""
			return m
		}, "template.components[1].cards[0].components[1].index"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.edit().Validate()
			var ve *gupshup.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a ValidationError on %q", err, c.field)
			}
			if ve.Field != c.field {
				t.Errorf("field %q (%v), want %q", ve.Field, ve, c.field)
			}
		})
	}
}

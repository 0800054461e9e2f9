package gupshup_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
)

const (
	ssSource = "917834811114"
	ssDest   = "919876543210"
	ssImage  = "https://www.buildquickbots.com/whatsapp/media/sample/jpg/sample01.jpg"
	ssVideo  = "https://www.buildquickbots.com/whatsapp/media/sample/video/sample01.mp4"
	ssPDF    = "https://www.buildquickbots.com/whatsapp/media/sample/pdf/sample01.pdf"
)

func ssListOptions(n int) []gupshup.ListOption {
	out := make([]gupshup.ListOption, n)
	for i := range out {
		out[i] = gupshup.ListOption{Title: "Option " + string(rune('A'+i))}
	}
	return out
}

func ssList(mod func(*gupshup.List)) gupshup.List {
	l := gupshup.List{
		Title:         "Menu",
		Body:          "Pick one",
		GlobalButtons: []gupshup.ListButton{{Title: "Open"}},
		Items:         []gupshup.ListItem{{Title: "Drinks", Options: ssListOptions(2)}},
	}
	if mod != nil {
		mod(&l)
	}
	return l
}

func ssQuickReply(mod func(*gupshup.QuickReply)) gupshup.QuickReply {
	q := gupshup.QuickReply{
		Content: gupshup.QuickReplyContent{Type: "text", Text: "Coming tomorrow?"},
		Options: []gupshup.QuickReplyOption{{Title: "Yes"}, {Title: "No"}},
	}
	if mod != nil {
		mod(&q)
	}
	return q
}

func ssContact(mod func(*gupshup.Contact)) gupshup.Contact {
	c := gupshup.Contact{
		Name:   gupshup.ContactName{FormattedName: "John Smith"},
		Phones: []gupshup.ContactPhone{{Phone: "+1 (650) 555-1234"}},
	}
	if mod != nil {
		mod(&c)
	}
	return c
}

func TestMessageValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	tests := []struct {
		name  string
		msg   gupshup.Message
		field string // "" means valid
	}{
		{"text", gupshup.Text{Text: "hi"}, ""},
		{"text empty", gupshup.Text{}, "message.text"},
		{"text blank", gupshup.Text{Text: " \n "}, "message.text"},
		{"text too long", gupshup.Text{Text: long(4097)}, "message.text"},
		{"text longest", gupshup.Text{Text: long(4096)}, ""},
		{"context without id", gupshup.Text{Text: "hi", Context: &gupshup.Context{}}, "message.context.msgId"},
		{"image by url", gupshup.Image{OriginalURL: ssImage, PreviewURL: ssImage}, ""},
		{"image by id", gupshup.Image{ID: "1234"}, ""},
		{"image neither", gupshup.Image{Caption: "x"}, "message.originalUrl"},
		{"image relative url", gupshup.Image{OriginalURL: "/a.jpg"}, "message.originalUrl"},
		{"image bad preview", gupshup.Image{OriginalURL: ssImage, PreviewURL: "ftp://x/a.jpg"}, "message.previewUrl"},
		{"image caption too long", gupshup.Image{ID: "1", Caption: long(1025)}, "message.caption"},
		{"video by url", gupshup.Video{URL: ssVideo}, ""},
		{"video by id", gupshup.Video{ID: "1"}, ""},
		{"video neither", gupshup.Video{}, "message.url"},
		{"audio neither", gupshup.Audio{}, "message.url"},
		{"audio by id", gupshup.Audio{ID: "9"}, ""},
		{"file", gupshup.File{URL: ssPDF, Filename: "a.pdf"}, ""},
		{"file no url", gupshup.File{Filename: "a.pdf"}, "message.url"},
		{"file not a url", gupshup.File{URL: "a.pdf"}, "message.url"},
		{"sticker no url", gupshup.Sticker{}, "message.url"},
		{"location", gupshup.Location{Longitude: "72.877", Latitude: "19.076"}, ""},
		{"location no longitude", gupshup.Location{Latitude: "19"}, "message.longitude"},
		{"location no latitude", gupshup.Location{Longitude: "72"}, "message.latitude"},
		{"location not a number", gupshup.Location{Longitude: "east", Latitude: "19"}, "message.longitude"},
		{"location out of range", gupshup.Location{Longitude: "72", Latitude: "91"}, "message.latitude"},
		{"contact", ssContact(nil), ""},
		{"contact no name", ssContact(func(c *gupshup.Contact) { c.Name = gupshup.ContactName{FirstName: "John"} }), "message.contact.name.formattedName"},
		{"contact no phones", ssContact(func(c *gupshup.Contact) { c.Phones = nil }), "message.contact.phones"},
		{"contact empty phone", ssContact(func(c *gupshup.Contact) { c.Phones = append(c.Phones, gupshup.ContactPhone{Type: "HOME"}) }), "message.contact.phones[1].phone"},
		{"contact bad email", ssContact(func(c *gupshup.Contact) { c.Emails = []gupshup.ContactEmail{{Email: "nobody"}} }), "message.contact.emails[0].email"},
		{"list", ssList(nil), ""},
		{"list ten options", ssList(func(l *gupshup.List) {
			l.Items = []gupshup.ListItem{{Title: "A", Options: ssListOptions(6)}, {Title: "B", Options: ssListOptions(4)}}
		}), ""},
		{"list no body", ssList(func(l *gupshup.List) { l.Body = "" }), "message.body"},
		{"list no button", ssList(func(l *gupshup.List) { l.GlobalButtons = nil }), "message.globalButtons"},
		{"list two buttons", ssList(func(l *gupshup.List) { l.GlobalButtons = append(l.GlobalButtons, l.GlobalButtons[0]) }), "message.globalButtons"},
		{"list button title empty", ssList(func(l *gupshup.List) { l.GlobalButtons[0].Title = "" }), "message.globalButtons[0].title"},
		{"list button title 21", ssList(func(l *gupshup.List) { l.GlobalButtons[0].Title = long(21) }), "message.globalButtons[0].title"},
		{"list button title 20", ssList(func(l *gupshup.List) { l.GlobalButtons[0].Title = long(20) }), ""},
		{"list no items", ssList(func(l *gupshup.List) { l.Items = nil }), "message.items"},
		{"list item without options", ssList(func(l *gupshup.List) { l.Items[0].Options = nil }), "message.items[0].options"},
		{"list eleven options", ssList(func(l *gupshup.List) {
			l.Items = []gupshup.ListItem{{Title: "A", Options: ssListOptions(6)}, {Title: "B", Options: ssListOptions(5)}}
		}), "message.items"},
		{"list untitled second section", ssList(func(l *gupshup.List) {
			l.Items = append(l.Items, gupshup.ListItem{Options: ssListOptions(1)})
		}), "message.items[1].title"},
		{"list option title empty", ssList(func(l *gupshup.List) { l.Items[0].Options[1].Title = "" }), "message.items[0].options[1].title"},
		{"list option title 25", ssList(func(l *gupshup.List) { l.Items[0].Options[0].Title = long(25) }), "message.items[0].options[0].title"},
		{"list option description 73", ssList(func(l *gupshup.List) { l.Items[0].Options[0].Description = long(73) }), "message.items[0].options[0].description"},
		{"list option type", ssList(func(l *gupshup.List) { l.Items[0].Options[0].Type = "button" }), "message.items[0].options[0].type"},
		{"quick reply", ssQuickReply(nil), ""},
		{"quick reply image", ssQuickReply(func(q *gupshup.QuickReply) {
			q.Content = gupshup.QuickReplyContent{Type: "image", URL: ssImage, Caption: "Our menu"}
		}), ""},
		{"quick reply no content type", ssQuickReply(func(q *gupshup.QuickReply) { q.Content.Type = "" }), "message.content.type"},
		{"quick reply audio content", ssQuickReply(func(q *gupshup.QuickReply) { q.Content.Type = "audio" }), "message.content.type"},
		{"quick reply no text", ssQuickReply(func(q *gupshup.QuickReply) { q.Content.Text = "" }), "message.content.text"},
		{"quick reply image without url", ssQuickReply(func(q *gupshup.QuickReply) { q.Content = gupshup.QuickReplyContent{Type: "image"} }), "message.content.url"},
		{"quick reply no options", ssQuickReply(func(q *gupshup.QuickReply) { q.Options = nil }), "message.options"},
		{"quick reply four options", ssQuickReply(func(q *gupshup.QuickReply) {
			q.Options = append(q.Options, gupshup.QuickReplyOption{Title: "Maybe"}, gupshup.QuickReplyOption{Title: "Later"})
		}), "message.options"},
		{"quick reply title 21", ssQuickReply(func(q *gupshup.QuickReply) { q.Options[0].Title = long(21) }), "message.options[0].title"},
		{"quick reply same titles", ssQuickReply(func(q *gupshup.QuickReply) { q.Options[1].Title = "Yes" }), "message.options[1].title"},
		{"reaction", gupshup.Reaction{MsgID: "wamid.X", Emoji: "👍"}, ""},
		{"reaction removed", gupshup.Reaction{MsgID: "wamid.X"}, ""},
		{"reaction no id", gupshup.Reaction{Emoji: "👍"}, "message.msgId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ssExpectField(t, tt.msg.Validate(), tt.field)
		})
	}
}

func TestSessionAndTemplateValidate(t *testing.T) {
	tests := []struct {
		name  string
		check func() error
		field string
	}{
		{"session", gupshup.SessionMessage{Source: ssSource, Destination: "+91 98765-43210", Message: gupshup.Text{Text: "hi"}}.Validate, ""},
		{"session bad source", gupshup.SessionMessage{Source: "7834", Destination: ssDest, Message: gupshup.Text{Text: "hi"}}.Validate, "source"},
		{"session bad destination", gupshup.SessionMessage{Source: ssSource, Destination: "09876543210", Message: gupshup.Text{Text: "hi"}}.Validate, "destination"},
		{"session no message", gupshup.SessionMessage{Source: ssSource, Destination: ssDest}.Validate, "message"},
		{"session nil pointer message", gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: (*gupshup.Text)(nil)}.Validate, "message"},
		{"session pointer message", gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: &gupshup.Text{Text: "hi"}}.Validate, ""},
		{"session bad message", gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: gupshup.Image{}}.Validate, "message.originalUrl"},
		{"template", ssTemplate(nil).Validate, ""},
		{"template no params", ssTemplate(func(m *gupshup.TemplateMessage) { m.Params = nil }).Validate, ""},
		{"template bad destination", ssTemplate(func(m *gupshup.TemplateMessage) { m.Destination = "91abc" }).Validate, "destination"},
		{"template no id", ssTemplate(func(m *gupshup.TemplateMessage) { m.ID = " " }).Validate, "template.id"},
		{"template empty param", ssTemplate(func(m *gupshup.TemplateMessage) { m.Params[1] = "" }).Validate, "template.params[1]"},
		{"template param with newline", ssTemplate(func(m *gupshup.TemplateMessage) { m.Params[0] = "a\nb" }).Validate, "template.params[0]"},
		{"template param with five spaces", ssTemplate(func(m *gupshup.TemplateMessage) { m.Params[2] = "a     b" }).Validate, "template.params[2]"},
		{"template postback empty", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.PostbackTexts = []gupshup.PostbackText{{Index: 0}}
		}).Validate, "postbackTexts[0].text"},
		{"template postback twice", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.PostbackTexts = []gupshup.PostbackText{{Index: 1, Text: "a"}, {Index: 1, Text: "b"}}
		}).Validate, "postbackTexts[1].index"},
		{"template postback negative", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.PostbackTexts = []gupshup.PostbackText{{Index: -1, Text: "a"}}
		}).Validate, "postbackTexts[0].index"},
		{"template image", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateImage{Link: ssImage} }).Validate, ""},
		{"template image neither", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateImage{} }).Validate, "message.image.link"},
		{"template video bad link", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateVideo{Link: "video.mp4"} }).Validate, "message.video.link"},
		{"template document by id", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateDocument{ID: "77", Filename: "a.pdf"} }).Validate, ""},
		{"template document neither", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateDocument{Filename: "a.pdf"} }).Validate, "message.document.link"},
		{"template location no latitude", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateLocation{Longitude: "72.8"} }).Validate, "message.location.latitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { ssExpectField(t, tt.check(), tt.field) })
	}
}

func ssTemplate(mod func(*gupshup.TemplateMessage)) gupshup.TemplateMessage {
	m := gupshup.TemplateMessage{
		Source:      ssSource,
		Destination: ssDest,
		ID:          "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b",
		Params:      []string{"Agent", "Local Address", "Tracking code"},
	}
	if mod != nil {
		mod(&m)
	}
	return m
}

func ssExpectField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var ve *gupshup.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want *ValidationError on %s, got %v", field, err)
	}
	if ve.Field != field {
		t.Fatalf("Field = %q, want %q (%v)", ve.Field, field, err)
	}
}

// ssWireCases are the message shapes GUPSHUP.md documents, one per type,
// with the Go value that must produce each.
var ssWireCases = []struct {
	name string
	msg  gupshup.Message
	wire string
}{
	{"text", gupshup.Text{Text: "Hello user, how are you?"},
		`{"type":"text","text":"Hello user, how are you?"}`},
	{"text reply", gupshup.Text{Text: "Sure", Context: &gupshup.Context{MsgID: "wamid.HBgM"}},
		`{"type":"text","text":"Sure","context":{"msgId":"wamid.HBgM"}}`},
	{"image", gupshup.Image{OriginalURL: ssImage, PreviewURL: ssImage, Caption: "Sample image"},
		`{"type":"image","originalUrl":"` + ssImage + `","previewUrl":"` + ssImage + `","caption":"Sample image"}`},
	{"image by id", gupshup.Image{ID: "1234567890"},
		`{"type":"image","id":"1234567890"}`},
	{"video", gupshup.Video{URL: ssVideo, Caption: "Sample video"},
		`{"type":"video","url":"` + ssVideo + `","caption":"Sample video"}`},
	{"audio", gupshup.Audio{URL: "https://example.com/a.mp3"},
		`{"type":"audio","url":"https://example.com/a.mp3"}`},
	{"file", gupshup.File{URL: ssPDF, Filename: "Sample file", Caption: "Read me"},
		`{"type":"file","url":"` + ssPDF + `","filename":"Sample file","caption":"Read me"}`},
	{"sticker", gupshup.Sticker{URL: "https://example.com/s.webp"},
		`{"type":"sticker","url":"https://example.com/s.webp"}`},
	{"location", gupshup.Location{Longitude: "72.877426", Latitude: "19.076090", Name: "Mumbai", Address: "Mumbai, Maharashtra"},
		`{"type":"location","longitude":"72.877426","latitude":"19.076090","name":"Mumbai","address":"Mumbai, Maharashtra"}`},
	{"contact", gupshup.Contact{
		Name:      gupshup.ContactName{FormattedName: "John Smith", FirstName: "John", LastName: "Smith"},
		Phones:    []gupshup.ContactPhone{{Phone: "+1 (940) 555-1234", Type: "HOME"}, {Phone: "+1 (650) 555-1234", Type: "WORK", WaID: "16505551234"}},
		Emails:    []gupshup.ContactEmail{{Email: "john@example.com", Type: "WORK"}},
		Addresses: []gupshup.ContactAddress{{Street: "1 Hacker Way", City: "Menlo Park", State: "CA", Zip: "94025", Country: "United States", CountryCode: "us", Type: "HOME"}},
		Org:       &gupshup.ContactOrg{Company: "WhatsApp", Department: "Design", Title: "Manager"},
		URLs:      []gupshup.ContactURL{{URL: "https://www.example.com", Type: "WORK"}},
		Birthday:  "2012-08-18",
		Context:   &gupshup.Context{MsgID: "wamid.C"},
	}, `{"type":"contact","contact":{
		"name":{"formattedName":"John Smith","firstName":"John","lastName":"Smith"},
		"phones":[{"phone":"+1 (940) 555-1234","type":"HOME"},{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],
		"emails":[{"email":"john@example.com","type":"WORK"}],
		"addresses":[{"street":"1 Hacker Way","city":"Menlo Park","state":"CA","zip":"94025","country":"United States","countryCode":"us","type":"HOME"}],
		"org":{"company":"WhatsApp","department":"Design","title":"Manager"},
		"urls":[{"url":"https://www.example.com","type":"WORK"}],
		"birthday":"2012-08-18"},
		"context":{"msgId":"wamid.C"}}`},
	{"list", gupshup.List{
		Title: "title text", Body: "body text", MsgID: "list1",
		GlobalButtons: []gupshup.ListButton{{Title: "Global button"}},
		Items: []gupshup.ListItem{{Title: "first Section", Subtitle: "first Subtitle", Options: []gupshup.ListOption{
			{Title: "section 1 row 1", Description: "first row", PostbackText: "s1r1"},
			{Title: "section 1 row 2", PostbackText: "s1r2"},
		}}},
	}, `{"type":"list","title":"title text","body":"body text","msgid":"list1",
		"globalButtons":[{"type":"text","title":"Global button"}],
		"items":[{"title":"first Section","subtitle":"first Subtitle","options":[
			{"type":"text","title":"section 1 row 1","description":"first row","postbackText":"s1r1"},
			{"type":"text","title":"section 1 row 2","postbackText":"s1r2"}]}]}`},
	{"quick reply", gupshup.QuickReply{
		MsgID:   "qr1",
		Content: gupshup.QuickReplyContent{Type: "text", Header: "this is the header", Text: "this is the body", Caption: "this is the footer"},
		Options: []gupshup.QuickReplyOption{{Title: "First", PostbackText: "first"}, {Title: "Second"}},
	}, `{"type":"quick_reply","msgid":"qr1",
		"content":{"type":"text","text":"this is the body","caption":"this is the footer","header":"this is the header"},
		"options":[{"type":"text","title":"First","postbackText":"first"},{"type":"text","title":"Second"}]}`},
	{"quick reply file", gupshup.QuickReply{
		Content: gupshup.QuickReplyContent{Type: "file", URL: ssPDF, Filename: "Sample.pdf", Text: "Your invoice"},
		Options: []gupshup.QuickReplyOption{{Title: "Pay"}},
	}, `{"type":"quick_reply","content":{"type":"file","text":"Your invoice","url":"` + ssPDF + `","filename":"Sample.pdf"},
		"options":[{"type":"text","title":"Pay"}]}`},
	{"reaction", gupshup.Reaction{MsgID: "wamid.R", Emoji: "👍"},
		`{"type":"reaction","msgId":"wamid.R","emoji":"👍"}`},
}

func TestMessageWireShape(t *testing.T) {
	for _, tt := range ssWireCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			ssSameJSON(t, string(got), tt.wire)
			if got := tt.msg.MessageType(); !strings.Contains(string(ssMust(json.Marshal(tt.msg))), `"type":"`+got+`"`) {
				t.Fatalf("MessageType %q is not the wire type", got)
			}
		})
	}
}

func TestDecodeMessageRoundTrip(t *testing.T) {
	for _, tt := range ssWireCases {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gupshup.DecodeMessage(b)
			if err != nil {
				t.Fatalf("DecodeMessage(%s): %v", b, err)
			}
			// Marshalling fills in the "text" types of buttons and options,
			// so compare the re-encoded JSON as well as the values.
			ssSameJSON(t, string(ssMust(json.Marshal(got))), tt.wire)
			if reflect.TypeOf(got) != reflect.TypeOf(tt.msg) {
				t.Fatalf("decoded %T, want %T", got, tt.msg)
			}
			// And the hand-written wire text decodes to the same value.
			again, err := gupshup.DecodeMessage([]byte(tt.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, got) {
				t.Fatalf("decoded wire text\n%#v\nwant\n%#v", again, got)
			}
		})
	}
}

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  gupshup.Message
		field string
	}{
		{"location as numbers", `{"type":"location","longitude":72.877426,"latitude":19.07609,"name":"Mumbai"}`,
			gupshup.Location{Longitude: "72.877426", Latitude: "19.07609", Name: "Mumbai"}, ""},
		{"reply", `{"type":"image","id":"5","context":{"msgId":"wamid.1"}}`,
			gupshup.Image{ID: "5", Context: &gupshup.Context{MsgID: "wamid.1"}}, ""},
		{"not json", `type=text`, nil, "message"},
		{"array", `[{"type":"text"}]`, nil, "message"},
		{"no type", `{"text":"hi"}`, nil, "message.type"},
		{"empty type", `{"type":"","text":"hi"}`, nil, "message.type"},
		{"unknown type", `{"type":"foo"}`, nil, "message.type"},
		{"unknown field", `{"type":"text","txt":"hi"}`, nil, "message"},
		{"unknown nested field", `{"type":"list","body":"b","items":[{"title":"t","options":[{"title":"o","payload":"x"}]}]}`, nil, "message"},
		{"wrong field type", `{"type":"text","text":5}`, nil, "message.text"},
		{"wrong nested field type", `{"type":"list","items":[{"options":[{"title":5}]}]}`, nil, "message.items.options.title"},
		{"trailing garbage", `{"type":"text","text":"hi"} x`, nil, "message"},
		{"location as bool", `{"type":"location","longitude":true,"latitude":"1"}`, nil, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gupshup.DecodeMessage([]byte(tt.in))
			ssExpectField(t, err, tt.field)
			if tt.field == "" && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestTemplateMedia(t *testing.T) {
	tests := []struct {
		name  string
		media gupshup.TemplateMedia
		wire  string
	}{
		{"image", gupshup.TemplateImage{Link: ssImage}, `{"type":"image","image":{"link":"` + ssImage + `"}}`},
		{"image by id", gupshup.TemplateImage{ID: "42"}, `{"type":"image","image":{"id":"42"}}`},
		{"video", gupshup.TemplateVideo{Link: ssVideo}, `{"type":"video","video":{"link":"` + ssVideo + `"}}`},
		{"document", gupshup.TemplateDocument{Link: ssPDF, Filename: "Sample funtional resume"},
			`{"type":"document","document":{"link":"` + ssPDF + `","filename":"Sample funtional resume"}}`},
		{"location", gupshup.TemplateLocation{Longitude: "72.87", Latitude: "19.07"},
			`{"type":"location","location":{"longitude":"72.87","latitude":"19.07"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.media)
			if err != nil {
				t.Fatal(err)
			}
			ssSameJSON(t, string(b), tt.wire)
			got, err := gupshup.DecodeTemplateMedia(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.media) {
				t.Fatalf("round trip: got %#v, want %#v", got, tt.media)
			}
		})
	}
	bad := []struct{ in, field string }{
		{`{"type":"audio","audio":{"link":"x"}}`, "message.type"},
		{`{"image":{"link":"x"}}`, "message.type"},
		{`{"type":"image"}`, "message.image"},
		{`{"type":"image","video":{"link":"x"}}`, "message.image"},
		{`{"type":"image","image":{"url":"x"}}`, "message"},
		{`nope`, "message"},
	}
	for _, b := range bad {
		_, err := gupshup.DecodeTemplateMedia([]byte(b.in))
		ssExpectField(t, err, b.field)
	}
	loc, err := gupshup.DecodeTemplateMedia([]byte(`{"type":"location","location":{"longitude":72.5,"latitude":19}}`))
	if err != nil || loc != (gupshup.TemplateLocation{Longitude: "72.5", Latitude: "19"}) {
		t.Fatalf("numeric location: %#v, %v", loc, err)
	}
}

func ssSameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON differs\n got: %s\nwant: %s", got, ssMust(json.Marshal(w)))
	}
}

func ssMust(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

package worker

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/tasks"
)

// Each family turns a payload into the request Gupshup documents; the
// simulator checks the request with code of its own and records it.
func TestDispatchFamilies(t *testing.T) {
	sim := newSim(t)
	c := simClients(t, sim)
	sc := sim.Config()
	session := func(f gupshup.Family, text string) json.RawMessage {
		b, err := tasks.TextSession(f, text)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send := func(f gupshup.Family) tasks.Send {
		return tasks.Send{V: 1, MessageID: "m", Family: f, Source: stSource, Destination: stDest}
	}
	type want struct {
		family, kind, templateID string
		fields                   map[string]string // exact form fields
		json                     map[string]string // JSON-valued fields, compared as JSON
		absent                   []string
	}
	for _, tc := range []struct {
		name     string
		send     func() tasks.Send
		fallback bool
		want     want
	}{
		{"selfserve template with image and postbacks", func() tasks.Send {
			s := send(gupshup.SelfServe)
			s.Template = &tasks.Template{ID: "tpl-img", Params: []string{"Asha", "42"}, Media: &tasks.Media{Type: "image", Link: "https://cdn.example.com/a.png"},
				PostbackTexts: []tasks.PostbackText{{Index: 1, Text: "yes-1"}, {Index: 2, Text: "no-2"}}}
			return s
		}, false, want{family: "selfserve", kind: "template", templateID: "tpl-img",
			fields: map[string]string{"source": stSource, "destination": stDest, "src.name": sc.AppName},
			json: map[string]string{
				"template":      `{"id":"tpl-img","params":["Asha","42"]}`,
				"message":       `{"type":"image","image":{"link":"https://cdn.example.com/a.png"}}`,
				"postbackTexts": `[{"index":1,"text":"yes-1"},{"index":2,"text":"no-2"}]`,
			}}},
		{"selfserve template with document", func() tasks.Send {
			s := send(gupshup.SelfServe)
			s.Template = &tasks.Template{ID: "tpl-doc", Params: []string{"x"}, Media: &tasks.Media{Type: "document", Link: "https://cdn.example.com/i.pdf", Filename: "invoice.pdf"}}
			return s
		}, false, want{family: "selfserve", kind: "template", templateID: "tpl-doc",
			json:   map[string]string{"message": `{"type":"document","document":{"link":"https://cdn.example.com/i.pdf","filename":"invoice.pdf"}}`},
			absent: []string{"postbackTexts"}}},
		{"selfserve template with location", func() tasks.Send {
			s := send(gupshup.SelfServe)
			s.Template = &tasks.Template{ID: "tpl-loc", Location: &tasks.Location{Latitude: "12.97", Longitude: "77.59"}}
			return s
		}, false, want{family: "selfserve", kind: "template", templateID: "tpl-loc",
			json: map[string]string{"message": `{"type":"location","location":{"latitude":"12.97","longitude":"77.59"}}`}}},
		{"selfserve session text", func() tasks.Send {
			s := send(gupshup.SelfServe)
			s.Session = session(gupshup.SelfServe, "your order shipped")
			return s
		}, false, want{family: "selfserve", kind: "text",
			fields: map[string]string{"source": stSource, "destination": stDest, "src.name": sc.AppName, "channel": "whatsapp"},
			json:   map[string]string{"message": `{"type":"text","text":"your order shipped"}`},
			absent: []string{"template"}}},
		{"selfserve session as its fallback template", func() tasks.Send {
			s := send(gupshup.SelfServe)
			s.Session = session(gupshup.SelfServe, "free text")
			s.Fallback = &tasks.Template{ID: "tpl-fb", Params: []string{"p"}}
			return s
		}, true, want{family: "selfserve", kind: "template", templateID: "tpl-fb",
			json: map[string]string{"template": `{"id":"tpl-fb","params":["p"]}`}, absent: []string{"message"}}},
		{"enterprise text", func() tasks.Send {
			s := send(gupshup.Enterprise)
			s.Session = session(gupshup.Enterprise, "hello from the gateway")
			return s
		}, false, want{family: "enterprise", kind: "text",
			fields: map[string]string{"method": "SendMessage", "msg_type": "TEXT", "msg": "hello from the gateway", "send_to": stDest, "userid": sc.EnterpriseUserID},
			absent: []string{"password", "isTemplate", "header"}}},
		{"enterprise HSM", func() tasks.Send {
			s := send(gupshup.Enterprise)
			s.Template = &tasks.Template{Text: "Hi Asha, order 42 shipped", Header: "Order", Footer: "Reply STOP", ButtonURLParam: "track/42"}
			return s
		}, false, want{family: "enterprise", kind: "template",
			fields: map[string]string{"method": "SendMessage", "msg_type": "HSM", "isTemplate": "true", "msg": "Hi Asha, order 42 shipped",
				"header": "Order", "footer": "Reply STOP", "buttonUrlParam": "track/42", "send_to": stDest},
			absent: []string{"password"}}},
		{"enterprise media template", func() tasks.Send {
			s := send(gupshup.Enterprise)
			s.Template = &tasks.Template{Text: "your invoice", Media: &tasks.Media{Type: "document", Link: "https://cdn.example.com/i.pdf", Filename: "invoice.pdf"}}
			return s
		}, false, want{family: "enterprise", kind: "template",
			fields: map[string]string{"method": "SendMediaMessage", "msg_type": "DOCUMENT", "isTemplate": "true", "media_url": "https://cdn.example.com/i.pdf",
				"caption": "your invoice", "filename": "invoice.pdf", "send_to": stDest}}},
		{"enterprise media session", func() tasks.Send {
			s := send(gupshup.Enterprise)
			s.Session = json.RawMessage(`{"type":"image","url":"https://cdn.example.com/p.png","caption":"look"}`)
			return s
		}, false, want{family: "enterprise", kind: "image",
			fields: map[string]string{"method": "SendMediaMessage", "msg_type": "IMAGE", "media_url": "https://cdn.example.com/p.png", "caption": "look"},
			absent: []string{"isTemplate"}}},
		{"partner template with params and media", func() tasks.Send {
			s := send(gupshup.Partner)
			s.Template = &tasks.Template{ID: "order_update", Language: "en_US", Params: []string{"Asha", "42"}, Media: &tasks.Media{Type: "image", Link: "https://cdn.example.com/a.png"}}
			return s
		}, false, want{family: "partner", kind: "template", templateID: "order_update",
			fields: map[string]string{"to": stDest, "type": "template", "messaging_product": "whatsapp"},
			json: map[string]string{"template": `{"name":"order_update","language":{"code":"en_US","policy":"deterministic"},"components":[
				{"type":"header","parameters":[{"type":"image","image":{"link":"https://cdn.example.com/a.png"}}]},
				{"type":"body","parameters":[{"type":"text","text":"Asha"},{"type":"text","text":"42"}]}]}`}}},
		{"partner template with components", func() tasks.Send {
			s := send(gupshup.Partner)
			s.Template = &tasks.Template{ID: "offer", Components: json.RawMessage(`[{"type":"body","parameters":[{"type":"text","text":"C1"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"abc"}]}]`)}
			return s
		}, false, want{family: "partner", kind: "template", templateID: "offer",
			json: map[string]string{"template": `{"name":"offer","language":{"code":"en","policy":"deterministic"},"components":[
				{"type":"body","parameters":[{"type":"text","text":"C1"}]},
				{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"abc"}]}]}`}}},
		{"partner session message", func() tasks.Send {
			s := send(gupshup.Partner)
			s.Session = session(gupshup.Partner, "hello partner")
			return s
		}, false, want{family: "partner", kind: "text",
			fields: map[string]string{"to": stDest, "type": "text"},
			json:   map[string]string{"text": `{"body":"hello partner"}`}, absent: []string{"template"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.send()
			if _, err := tasks.EncodeSend(&s); err != nil {
				t.Fatalf("the test's payload is invalid: %v", err)
			}
			res, err := c.Send(stCtx, &s, tc.fallback)
			if err != nil || res.MessageID == "" {
				t.Fatalf("send: %+v %v (rejections %+v)", res, err, sim.Rejections())
			}
			var got *gupshuptest.Send
			for _, x := range sim.Sends() {
				if x.MessageID == res.MessageID {
					got = &x
				}
			}
			if got == nil {
				t.Fatalf("simulator has no send %s", res.MessageID)
			}
			w := tc.want
			if got.Family != w.family || got.Kind != w.kind || got.TemplateID != w.templateID || got.Destination != stDest {
				t.Errorf("recorded %s/%s template %q to %s; want %s/%s template %q", got.Family, got.Kind, got.TemplateID, got.Destination, w.family, w.kind, w.templateID)
			}
			for k, v := range w.fields {
				if got.Payload[k] != v {
					t.Errorf("%s = %q, want %q", k, got.Payload[k], v)
				}
			}
			for k, v := range w.json {
				var a, b any
				if err := json.Unmarshal([]byte(got.Payload[k]), &a); err != nil {
					t.Errorf("%s = %q: %v", k, got.Payload[k], err)
					continue
				}
				if err := json.Unmarshal([]byte(v), &b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s = %s\nwant %s", k, got.Payload[k], v)
				}
			}
			for _, k := range w.absent {
				if v, ok := got.Payload[k]; ok {
					t.Errorf("%s is present (%q)", k, v)
				}
			}
		})
	}
}

// A family the worker has no credentials for is a dead letter that says so.
func TestDispatchWithoutCredentials(t *testing.T) {
	sim := newSim(t)
	c := simClients(t, sim, func(c *Config) { c.EnterpriseUserID, c.PartnerAppID = "", "" })
	for _, f := range []gupshup.Family{gupshup.Enterprise, gupshup.Partner} {
		s := tasks.Send{V: 1, MessageID: "m", Family: f, Source: stSource, Destination: stDest, Template: &tasks.Template{ID: "t", Text: "x"}}
		_, err := c.Send(stCtx, &s, false)
		var ve *gupshup.ValidationError
		if !errors.As(err, &ve) || retry.Classify(err).Class != retry.Terminal {
			t.Fatalf("%s without credentials: %v", f, err)
		}
	}
	if len(sim.Sends()) != 0 {
		t.Fatalf("something was sent")
	}
}

package tasks

import (
	"encoding/json"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
)

func TestSessionBuilders(t *testing.T) {
	want := map[gupshup.Family][2]string{
		gupshup.SelfServe: {`{"text":"hi","type":"text"}`,
			`{"caption":"new","originalUrl":"https://x.example/a.jpg","previewUrl":"https://x.example/a.jpg","type":"image"}`},
		gupshup.Partner: {`{"text":{"body":"hi"},"type":"text"}`,
			`{"image":{"caption":"new","link":"https://x.example/a.jpg"},"type":"image"}`},
		gupshup.Enterprise: {`{"text":"hi","type":"text"}`,
			`{"caption":"new","type":"image","url":"https://x.example/a.jpg"}`},
	}
	for fam, w := range want {
		text, err := TextSession(fam, "hi")
		if err != nil || string(text) != w[0] {
			t.Errorf("%s text: %s %v, want %s", fam, text, err, w[0])
		}
		img, err := ImageSession(fam, "https://x.example/a.jpg", "new")
		if err != nil || string(img) != w[1] {
			t.Errorf("%s image: %s %v, want %s", fam, img, err, w[1])
		}
		for _, raw := range []json.RawMessage{text, img} {
			s := sessionSend()
			s.Family, s.Session = fam, raw
			if fam == gupshup.Enterprise {
				s.Fallback = &Template{Text: "Your order has shipped"}
			}
			if err := s.Validate(); err != nil {
				t.Errorf("%s: %s does not validate: %v", fam, raw, err)
			}
		}
	}
	if _, err := TextSession("sms", "hi"); err == nil {
		t.Error("unknown family accepted")
	}
	if _, err := ImageSession(gupshup.Partner, "a.jpg", ""); err == nil {
		t.Error("relative image URL accepted")
	}
}

package gupshuptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// partnerRaw is one raw exchange with the simulator.
func partnerRaw(t testing.TB, method, u string, header http.Header, body io.Reader) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func partnerForm(v url.Values) (http.Header, io.Reader) {
	return http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(v.Encode())
}

func partnerLoginRaw(t testing.TB, s *Server) string {
	t.Helper()
	h, body := partnerForm(url.Values{"email": {s.cfg.PartnerEmail}, "password": {s.cfg.PartnerPassword}})
	st, _, b := partnerRaw(t, "POST", s.URL+"/partner/account/login", h, body)
	var out struct{ Token string }
	if st != 200 || json.Unmarshal(b, &out) != nil || out.Token == "" {
		t.Fatalf("login: %d %s", st, b)
	}
	return out.Token
}

// partnerAppTokenRaw logs in and fetches the app token.
func partnerAppTokenRaw(t testing.TB, s *Server) string {
	t.Helper()
	pt := partnerLoginRaw(t, s)
	st, _, b := partnerRaw(t, "GET", s.URL+"/partner/app/"+s.cfg.PartnerAppID+"/token/", http.Header{"token": {pt}}, nil)
	var out struct {
		Status string
		Token  struct{ Token string }
	}
	if st != 200 || json.Unmarshal(b, &out) != nil || out.Token.Token == "" {
		t.Fatalf("token: %d %s", st, b)
	}
	return out.Token.Token
}

type partnerErrBody struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   struct {
		Message   string `json:"message"`
		Code      int    `json:"code"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"error"`
}

func TestPartnerLogin(t *testing.T) {
	s := NewServer()
	defer s.Close()
	cases := []struct {
		name   string
		form   url.Values
		status int
	}{
		{"right password", url.Values{"email": {s.cfg.PartnerEmail}, "password": {s.cfg.PartnerPassword}}, 200},
		{"right secret", url.Values{"email": {s.cfg.PartnerEmail}, "secret": {s.cfg.PartnerPassword}}, 200},
		{"wrong password", url.Values{"email": {s.cfg.PartnerEmail}, "password": {"nope-secret"}}, 401},
		{"wrong email", url.Values{"email": {"other@example.com"}, "password": {s.cfg.PartnerPassword}}, 401},
		{"no password", url.Values{"email": {s.cfg.PartnerEmail}}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, body := partnerForm(c.form)
			st, hdr, b := partnerRaw(t, "POST", s.URL+"/partner/account/login", h, body)
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, b)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", hdr.Get("Content-Type"))
			}
			if st != 200 {
				var e partnerErrBody
				if json.Unmarshal(b, &e) != nil || e.Status != "error" || e.Message == "" {
					t.Errorf("error body %s", b)
				}
				if strings.Contains(string(b), "nope-secret") || strings.Contains(string(b), s.cfg.PartnerPassword) {
					t.Errorf("error body echoes a password: %s", b)
				}
			}
		})
	}
}

func TestPartnerAppToken(t *testing.T) {
	s := NewServer(func(c *Config) { c.TokenTTL = D(300 * time.Millisecond) })
	defer s.Close()
	pt := partnerLoginRaw(t, s)
	path := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/token/"
	cases := []struct {
		name   string
		url    string
		header http.Header
		status int
	}{
		{"token header", path, http.Header{"token": {pt}}, 200},
		{"authorization header", path, http.Header{"Authorization": {pt}}, 200},
		{"no trailing slash", strings.TrimSuffix(path, "/"), http.Header{"token": {pt}}, 200},
		{"no token", path, nil, 401},
		{"unknown token", path, http.Header{"token": {"pt_forged"}}, 401},
		{"other app", s.URL + "/partner/app/other-app/token/", http.Header{"token": {pt}}, 403},
	}
	var first string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, b := partnerRaw(t, "GET", c.url, c.header, nil)
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, b)
			}
			if st != 200 {
				return
			}
			var out struct {
				Status string
				Token  struct {
					Token     string
					ExpiresOn int64
					Active    bool
				}
			}
			json.Unmarshal(b, &out)
			if out.Status != "success" || !strings.HasPrefix(out.Token.Token, "sk_") || !out.Token.Active || out.Token.ExpiresOn == 0 {
				t.Fatalf("answer %s", b)
			}
			// Idempotent while the token lives, as the reference says.
			if first == "" {
				first = out.Token.Token
			} else if out.Token.Token != first {
				t.Errorf("second call gave %q, want the same token %q", out.Token.Token, first)
			}
		})
	}
	time.Sleep(350 * time.Millisecond)
	if st, _, b := partnerRaw(t, "GET", path, http.Header{"token": {pt}}, nil); st != 401 {
		t.Errorf("expired partner token: %d %s", st, b)
	}
	if logins, tokens := s.PartnerAuthCalls(); logins != 1 || tokens != 7 {
		t.Errorf("counted %d logins, %d token calls; want 1, 7", logins, tokens)
	}
}

func TestPartnerAuthRateLimit(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := 0; i < 10; i++ {
		partnerLoginRaw(t, s)
	}
	h, body := partnerForm(url.Values{"email": {s.cfg.PartnerEmail}, "password": {s.cfg.PartnerPassword}})
	st, hdr, b := partnerRaw(t, "POST", s.URL+"/partner/account/login", h, body)
	if st != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("11th login in a minute: %d %s (Retry-After %q)", st, b, hdr.Get("Retry-After"))
	}
}

func TestPartnerSendRejects(t *testing.T) {
	s := NewServer()
	defer s.Close()
	tok := partnerAppTokenRaw(t, s)
	send := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/v3/message"
	base := `"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345"`
	cases := []struct {
		name    string
		auth    string
		url     string
		body    string
		status  int
		code    int
		details string
	}{
		{"no token", "-", "", `{` + base + `,"type":"text","text":{"body":"hi"}}`, 401, 0, ""},
		{"bearer token", "Bearer " + tok, "", `{` + base + `,"type":"text","text":{"body":"hi"}}`, 401, 0, ""},
		{"token of another app", "", s.URL + "/partner/app/other/v3/message", `{` + base + `,"type":"text","text":{"body":"hi"}}`, 401, 0, ""},
		{"not JSON", "", "", `{"messaging_product":`, 400, 100, "JSON"},
		{"no messaging_product", "", "", `{"to":"919970012345","type":"text","text":{"body":"hi"}}`, 400, 100, "messaging_product"},
		{"wrong messaging_product", "", "", `{"messaging_product":"sms","to":"919970012345","type":"text","text":{"body":"hi"}}`, 400, 131009, "messaging_product"},
		{"wrong recipient_type", "", "", `{"messaging_product":"whatsapp","recipient_type":"group","to":"919970012345","type":"text","text":{"body":"hi"}}`, 400, 131009, "recipient_type"},
		{"no to", "", "", `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, 400, 131008, "'to'"},
		{"to not E.164", "", "", `{"messaging_product":"whatsapp","to":"09970012345","type":"text","text":{"body":"hi"}}`, 400, 131009, "'to'"},
		{"to with letters", "", "", `{"messaging_product":"whatsapp","to":"91997001234x","type":"text","text":{"body":"hi"}}`, 400, 131009, "'to'"},
		{"no type", "", "", `{` + base + `,"text":{"body":"hi"}}`, 400, 131008, "'type'"},
		{"unknown type", "", "", `{` + base + `,"type":"fax","fax":{}}`, 400, 131051, "fax"},
		{"object missing", "", "", `{` + base + `,"type":"text"}`, 400, 131008, "'text'"},
		{"text without body", "", "", `{` + base + `,"type":"text","text":{}}`, 400, 131008, "'text.body'"},
		{"text body not a string", "", "", `{` + base + `,"type":"text","text":{"body":5}}`, 400, 131009, "'text'"},
		{"image without link or id", "", "", `{` + base + `,"type":"image","image":{"caption":"c"}}`, 400, 131008, "image.link"},
		{"image link not a URL", "", "", `{` + base + `,"type":"image","image":{"link":"ftp://x/y.png"}}`, 400, 131009, "'image.link'"},
		{"image link and id", "", "", `{` + base + `,"type":"image","image":{"link":"https://x/y.png","id":"1"}}`, 400, 131009, "'image'"},
		{"audio caption", "", "", `{` + base + `,"type":"audio","audio":{"id":"1","caption":"c"}}`, 400, 131009, "'audio.caption'"},
		{"sticker filename", "", "", `{` + base + `,"type":"sticker","sticker":{"id":"1","filename":"a.webp"}}`, 400, 131009, "'sticker.filename'"},
		{"reaction without message_id", "", "", `{` + base + `,"type":"reaction","reaction":{"emoji":"x"}}`, 400, 131008, "'reaction.message_id'"},
		{"reaction without emoji", "", "", `{` + base + `,"type":"reaction","reaction":{"message_id":"wamid.1"}}`, 400, 131008, "'reaction.emoji'"},
		{"location without latitude", "", "", `{` + base + `,"type":"location","location":{"longitude":1}}`, 400, 131008, "'location.latitude'"},
		{"location out of range", "", "", `{` + base + `,"type":"location","location":{"latitude":91,"longitude":1}}`, 400, 131009, "'location.latitude'"},
		{"contacts empty", "", "", `{` + base + `,"type":"contacts","contacts":[]}`, 400, 131008, "'contacts[0]'"},
		{"contact without formatted_name", "", "", `{` + base + `,"type":"contacts","contacts":[{"name":{"first_name":"A"}}]}`, 400, 131008, "'contacts[0].name.formatted_name'"},
		{"interactive unknown type", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"carousel","body":{"text":"b"},"action":{}}}`, 400, 131051, "carousel"},
		{"interactive without body", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"button","action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}`, 400, 131008, "'interactive.body.text'"},
		{"list without rows", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"Go","sections":[{"title":"s","rows":[]}]}}}`, 400, 131008, "'interactive.action.sections[0].rows'"},
		{"list row without title", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"Go","sections":[{"rows":[{"id":"r"}]}]}}}`, 400, 131008, "'interactive.action.sections[0].rows[0].title'"},
		{"list with image header", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"list","header":{"type":"image","image":{"id":"1"}},"body":{"text":"b"},"action":{"button":"Go","sections":[{"rows":[{"id":"r","title":"R"}]}]}}}`, 400, 131009, "'interactive.header.type'"},
		{"four buttons", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"1"}},{"type":"reply","reply":{"id":"2","title":"2"}},{"type":"reply","reply":{"id":"3","title":"3"}},{"type":"reply","reply":{"id":"4","title":"4"}}]}}}`, 400, 131009, "'interactive.action.buttons'"},
		{"flow without cta", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1"}}}}`, 400, 131008, "flow_cta"},
		{"flow of no such flow", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"flow","body":{"text":"b"},"action":{"name":"flow","parameters":{"flow_message_version":"3","flow_id":"1","flow_cta":"Go"}}}}`, 400, 131009, "flow_id"},
		{"address without country", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"address_message","body":{"text":"b"},"action":{"name":"address_message","parameters":{}}}}`, 400, 131008, "country"},
		{"cta_url with wrong name", "", "", `{` + base + `,"type":"interactive","interactive":{"type":"cta_url","body":{"text":"b"},"action":{"name":"link","parameters":{"display_text":"Go","url":"https://x.y"}}}}`, 400, 131009, "'interactive.action.name'"},
		{"template without name", "", "", `{` + base + `,"type":"template","template":{"language":{"code":"en"}}}`, 400, 131008, "'template.name'"},
		{"template without language", "", "", `{` + base + `,"type":"template","template":{"name":"t"}}`, 400, 131008, "'template.language.code'"},
		{"template button without index", "", "", `{` + base + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"button","sub_type":"quick_reply","parameters":[{"type":"payload","payload":"p"}]}]}}`, 400, 131008, "'template.components[0].index'"},
		{"template text parameter without text", "", "", `{` + base + `,"type":"template","template":{"name":"t","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text"}]}]}}`, 400, 131008, "'template.components[0].parameters[0].text'"},
		{"reply without message_id", "", "", `{` + base + `,"type":"text","text":{"body":"hi"},"context":{}}`, 400, 131008, "'context.message_id'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := send
			if c.url != "" {
				u = c.url
			}
			h := http.Header{"Content-Type": {"application/json"}, "Authorization": {tok}}
			switch c.auth {
			case "-":
				h.Del("Authorization")
			case "":
			default:
				h.Set("Authorization", c.auth)
			}
			st, _, b := partnerRaw(t, "POST", u, h, strings.NewReader(c.body))
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, b)
			}
			var e partnerErrBody
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", b)
			}
			if c.code == 0 {
				if e.Status != "error" || e.Message == "" {
					t.Errorf("want Gupshup's error shape, got %s", b)
				}
				return
			}
			if e.Error.Code != c.code || !strings.Contains(e.Error.ErrorData.Details, c.details) || !strings.HasPrefix(e.Error.Message, "(#") {
				t.Errorf("got code %d details %q message %q, want code %d details with %q", e.Error.Code, e.Error.ErrorData.Details, e.Error.Message, c.code, c.details)
			}
		})
	}
	if n := len(s.Sends()); n != 0 {
		t.Errorf("%d sends recorded, want none", n)
	}
	if n := len(s.Rejections()); n != len(cases) {
		t.Errorf("%d rejections recorded, want %d", n, len(cases))
	}
}

func TestPartnerSendAccepts(t *testing.T) {
	s := NewServer(func(c *Config) { c.Source = "918375031069" })
	defer s.Close()
	tok := partnerAppTokenRaw(t, s)
	send := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/v3/message"
	tmpl := `{"language":{"policy":"deterministic","code":"en"},"name":"temp_lto","components":[{"type":"body","parameters":[{"type":"text","text":"User"}]},{"type":"button","sub_type":"copy_code","index":0,"parameters":[{"type":"coupon_code","coupon_code":"1234"}]}]}`
	cases := []struct {
		name   string
		header http.Header
		body   string
		to     string
	}{
		{"JSON", http.Header{"Content-Type": {"application/json"}},
			`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"template","template":` + tmpl + `}`, "919970012345"},
		{"form, as the seed sends it", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			url.Values{"messaging_product": {"whatsapp"}, "recipient_type": {"individual"}, "to": {"+919970012346"}, "type": {"template"}, "template": {tmpl}}.Encode(), "+919970012346"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.header.Clone()
			h.Set("Authorization", tok)
			st, _, b := partnerRaw(t, "POST", send, h, strings.NewReader(c.body))
			if st != 200 {
				t.Fatalf("%d %s", st, b)
			}
			var out struct {
				Messages         []struct{ ID string }
				MessagingProduct string `json:"messaging_product"`
				Contacts         []struct {
					Input string
					WaID  string `json:"wa_id"`
				}
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			wa := strings.TrimPrefix(c.to, "+")
			if len(out.Messages) != 1 || out.Messages[0].ID == "" || out.MessagingProduct != "whatsapp" ||
				len(out.Contacts) != 1 || out.Contacts[0].Input != c.to || out.Contacts[0].WaID != wa {
				t.Fatalf("answer %s", b)
			}
			sends := s.SendsTo(wa)
			if len(sends) != 1 {
				t.Fatalf("%d sends recorded", len(sends))
			}
			x := sends[0]
			if x.Family != "partner" || x.App != s.cfg.PartnerAppID || x.Source != "918375031069" || x.Kind != "template" ||
				x.TemplateID != "temp_lto" || x.MessageID != out.Messages[0].ID {
				t.Errorf("recorded %+v", x)
			}
			if x.Payload["messaging_product"] != "whatsapp" || x.Payload["to"] != c.to || x.Payload["type"] != "template" {
				t.Errorf("payload %v", x.Payload)
			}
			var got, want any
			json.Unmarshal([]byte(x.Payload["template"]), &got)
			json.Unmarshal([]byte(tmpl), &want)
			if !jsonEqual(got, want) {
				t.Errorf("template recorded as %s", x.Payload["template"])
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestPartnerSendRefusals(t *testing.T) {
	text := `{"messaging_product":"whatsapp","to":"919970012345","type":"text","text":{"body":"hi"}}`
	cases := []struct {
		name   string
		opts   []Option
		status int
		code   int
		gs     string // Gupshup's message, when the shape is Gupshup's
	}{
		{"rate limit", []Option{WithRateLimit(0.001)}, 429, 130429, ""},
		{"fault with a code", []Option{WithFaults(Fault{Match: "*", HTTPStatus: 400, Code: 131026, Reason: "Message undeliverable"})}, 400, 131026, ""},
		{"fault without a code", []Option{WithFaults(Fault{Match: "9199*", HTTPStatus: 503})}, 503, 0, "Service Unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewServer(c.opts...)
			defer s.Close()
			tok := partnerAppTokenRaw(t, s)
			h := http.Header{"Content-Type": {"application/json"}, "Authorization": {tok}}
			u := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/v3/message"
			st, hdr, b := partnerRaw(t, "POST", u, h, strings.NewReader(text))
			if c.status == 429 {
				// The first send takes the one token of the bucket.
				st, hdr, b = partnerRaw(t, "POST", u, h, strings.NewReader(text))
				if hdr.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
			if st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, b)
			}
			var e partnerErrBody
			json.Unmarshal(b, &e)
			if e.Error.Code != c.code || (c.gs != "" && e.Message != c.gs) {
				t.Errorf("body %s", b)
			}
		})
	}
}

// partnerReceiver collects the callbacks posted to it.
type partnerReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

func newPartnerReceiver() *partnerReceiver {
	rc := &partnerReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, b)
		rc.mu.Unlock()
	}))
	return rc
}

func (rc *partnerReceiver) got() [][]byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...)
}

func TestPartnerSubscriptions(t *testing.T) {
	s := NewServer(WithCallbackDelays(time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 4*time.Millisecond))
	defer s.Close()
	rc := newPartnerReceiver()
	defer rc.Close()
	tok := partnerAppTokenRaw(t, s)
	base := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/subscription"
	auth := func(h http.Header) http.Header { h.Set("Authorization", tok); return h }

	bad := []struct {
		name string
		form url.Values
	}{
		{"no modes", url.Values{"tag": {"a"}, "url": {rc.URL}, "version": {"3"}}},
		{"unknown mode", url.Values{"modes": {"SENT,TELEPORTED"}, "tag": {"a"}, "url": {rc.URL}, "version": {"3"}}},
		{"v3 with TEMPLATE", url.Values{"modes": {"SENT,TEMPLATE"}, "tag": {"a"}, "url": {rc.URL}, "version": {"3"}}},
		{"no tag", url.Values{"modes": {"SENT"}, "url": {rc.URL}, "version": {"3"}}},
		{"bad url", url.Values{"modes": {"SENT"}, "tag": {"a"}, "url": {"not a url"}, "version": {"3"}}},
		{"version 7", url.Values{"modes": {"SENT"}, "tag": {"a"}, "url": {rc.URL}, "version": {"7"}}},
		{"meta not JSON", url.Values{"modes": {"SENT"}, "tag": {"a"}, "url": {rc.URL}, "version": {"3"}, "meta": {"x"}}},
	}
	for _, c := range bad {
		h, body := partnerForm(c.form)
		if st, _, b := partnerRaw(t, "POST", base, auth(h), body); st != 400 {
			t.Errorf("%s: %d %s", c.name, st, b)
		}
	}
	h, body := partnerForm(url.Values{"modes": {"SENT,DELIVERED,READ"}, "tag": {"v3hook"}, "url": {rc.URL}, "version": {"3"}, "meta": {`{"X-Auth":"k"}`}})
	if st, _, b := partnerRaw(t, "POST", base, h, body); st != 401 {
		t.Errorf("no token: %d %s", st, b)
	}
	h, body = partnerForm(url.Values{"modes": {"SENT,DELIVERED,READ"}, "tag": {"v3hook"}, "url": {rc.URL}, "version": {"3"}, "meta": {`{"X-Auth":"k"}`}})
	st, _, b := partnerRaw(t, "POST", base, auth(h), body)
	var out struct {
		Status       string
		Subscription map[string]any
	}
	if st != 200 || json.Unmarshal(b, &out) != nil || out.Status != "success" || out.Subscription["id"] == "" || out.Subscription["version"] != 3.0 {
		t.Fatalf("create: %d %s", st, b)
	}
	id := out.Subscription["id"].(string)
	h, body = partnerForm(url.Values{"modes": {"SENT"}, "tag": {"v3hook"}, "url": {rc.URL}, "version": {"2"}})
	if st, _, b := partnerRaw(t, "POST", base, auth(h), body); st != 400 {
		t.Errorf("duplicate tag: %d %s", st, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.WaitCallbacks(ctx)
	got := rc.got()
	if len(got) != 1 || !strings.Contains(string(got[0]), `"set-callback"`) || !strings.Contains(string(got[0]), `"whatsapp_business_account"`) {
		t.Fatalf("probe: %q", got)
	}
	if st, _, b := partnerRaw(t, "GET", base+"/"+id, auth(http.Header{}), nil); st != 200 || !strings.Contains(string(b), `"v3hook"`) {
		t.Errorf("get: %d %s", st, b)
	}
	if st, _, b := partnerRaw(t, "GET", base+"/99", auth(http.Header{}), nil); st != 404 {
		t.Errorf("get unknown: %d %s", st, b)
	}
	h, body = partnerForm(url.Values{"active": {"false"}})
	if st, _, b := partnerRaw(t, "PUT", base+"/"+id, auth(h), body); st != 200 || !strings.Contains(string(b), `"active":false`) {
		t.Errorf("update: %d %s", st, b)
	}
	if n := len(s.cb.targets("partner")); n != 0 {
		t.Errorf("%d targets after deactivating", n)
	}
	if st, _, b := partnerRaw(t, "DELETE", base+"/"+id, auth(http.Header{}), nil); st != 200 {
		t.Errorf("delete: %d %s", st, b)
	}
	if st, _, b := partnerRaw(t, "GET", base, auth(http.Header{}), nil); st != 200 || !strings.Contains(string(b), `"subscriptions":[]`) {
		t.Errorf("list: %d %s", st, b)
	}
}

func TestPartnerFlowStates(t *testing.T) {
	s := NewServer()
	defer s.Close()
	tok := partnerAppTokenRaw(t, s)
	app := s.URL + "/partner/app/" + s.cfg.PartnerAppID
	jsonH := func() http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Authorization": {tok}}
	}
	upload := func(id, doc string) (int, []byte) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		fw, _ := w.CreateFormFile("file", "flow.json")
		fw.Write([]byte(doc))
		w.Close()
		st, _, b := partnerRaw(t, "PUT", app+"/flows/"+id+"/assets",
			http.Header{"Content-Type": {w.FormDataContentType()}, "Authorization": {tok}}, &buf)
		return st, b
	}
	st, _, b := partnerRaw(t, "POST", app+"/flows", jsonH(), strings.NewReader(`{"name":"signup","categories":["SIGN_UP"]}`))
	var created struct{ ID string }
	if st != 200 || json.Unmarshal(b, &created) != nil || created.ID == "" {
		t.Fatalf("create: %d %s", st, b)
	}
	id := created.ID
	steps := []struct {
		name   string
		do     func() (int, []byte)
		status int
		state  string
	}{
		{"bad category", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows", jsonH(), strings.NewReader(`{"name":"x","categories":["FUN"]}`))
			return st, b
		}, 400, "DRAFT"},
		{"same name", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows", jsonH(), strings.NewReader(`{"name":"signup","categories":["OTHER"]}`))
			return st, b
		}, 400, "DRAFT"},
		{"publish without JSON", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/publish", jsonH(), nil)
			return st, b
		}, 400, "DRAFT"},
		{"upload JSON with problems", func() (int, []byte) { return upload(id, `{"version":"5.0"}`) }, 200, "DRAFT"},
		{"publish with problems", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/publish", jsonH(), nil)
			return st, b
		}, 400, "DRAFT"},
		{"upload not JSON", func() (int, []byte) { return upload(id, `{"version":`) }, 400, "DRAFT"},
		{"upload good JSON", func() (int, []byte) {
			return upload(id, `{"version":"5.0","screens":[{"id":"WELCOME","layout":{"type":"SingleColumnLayout","children":[]}}]}`)
		}, 200, "DRAFT"},
		{"publish", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/publish", jsonH(), nil)
			return st, b
		}, 200, "PUBLISHED"},
		{"publish again", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/publish", jsonH(), nil)
			return st, b
		}, 400, "PUBLISHED"},
		{"upload to published", func() (int, []byte) { return upload(id, `{"version":"5.0","screens":[]}`) }, 400, "PUBLISHED"},
		{"delete published", func() (int, []byte) {
			st, _, b := partnerRaw(t, "DELETE", app+"/flow/"+id, jsonH(), nil)
			return st, b
		}, 400, "PUBLISHED"},
		{"delete on the plural path does not exist", func() (int, []byte) {
			st, _, b := partnerRaw(t, "DELETE", app+"/flows/"+id, jsonH(), nil)
			return st, b
		}, 405, "PUBLISHED"},
		{"deprecate", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/deprecate", jsonH(), nil)
			return st, b
		}, 200, "DEPRECATED"},
		{"deprecate again", func() (int, []byte) {
			st, _, b := partnerRaw(t, "POST", app+"/flows/"+id+"/deprecate", jsonH(), nil)
			return st, b
		}, 400, "DEPRECATED"},
		{"update deprecated", func() (int, []byte) {
			st, _, b := partnerRaw(t, "PUT", app+"/flows/"+id, jsonH(), strings.NewReader(`{"name":"renamed"}`))
			return st, b
		}, 400, "DEPRECATED"},
		{"unknown id", func() (int, []byte) {
			st, _, b := partnerRaw(t, "GET", app+"/flows/1", jsonH(), nil)
			return st, b
		}, 404, "DEPRECATED"},
	}
	for _, c := range steps {
		st, b := c.do()
		if st != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, st, c.status, b)
		}
		if got := s.PartnerFlowStatus(id); got != c.state {
			t.Fatalf("%s: state %s, want %s", c.name, got, c.state)
		}
	}
	// A draft can be deleted, and is then gone.
	st, _, b = partnerRaw(t, "POST", app+"/flows", jsonH(), strings.NewReader(`{"name":"draft","categories":["OTHER"]}`))
	json.Unmarshal(b, &created)
	if st, _, b := partnerRaw(t, "DELETE", app+"/flow/"+created.ID, jsonH(), nil); st != 200 || !strings.Contains(string(b), `"success":true`) {
		t.Fatalf("delete draft: %d %s", st, b)
	}
	if s.PartnerFlowStatus(created.ID) != "" {
		t.Error("deleted flow still there")
	}
}

// BenchmarkPartnerSend measures the v3 send path over loopback.
func BenchmarkPartnerSend(b *testing.B) {
	s := NewServer()
	defer s.Close()
	tok := partnerAppTokenRaw(b, s)
	u := s.URL + "/partner/app/" + s.cfg.PartnerAppID + "/v3/message"
	body := []byte(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"919970012345","type":"text","text":{"body":"hello"}}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

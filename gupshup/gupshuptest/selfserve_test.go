package gupshuptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	ssTestKey    = "sim-test-key"
	ssTestApp    = "DemoAPI"
	ssTestSource = "917834811114"
	ssTestDest   = "919876543210"
)

const ssForm = "application/x-www-form-urlencoded"

// ssAnswer is a raw answer: status, content type and the JSON body, if any.
type ssAnswer struct {
	status      int
	contentType string
	body        map[string]any
	raw         string
}

func ssDo(t *testing.T, method, u string, header map[string]string, body string) ssAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := ssAnswer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), raw: string(b)}
	json.Unmarshal(b, &a.body)
	return a
}

// ssSession is a well-formed session send; cases change one field of it.
func ssSession() url.Values {
	return url.Values{
		"channel":     {"whatsapp"},
		"source":      {ssTestSource},
		"src.name":    {ssTestApp},
		"destination": {ssTestDest},
		"message":     {`{"type":"text","text":"Hello"}`},
	}
}

// ssTemplateForm is a template send as the seed's samples write it: no
// channel and no src.name.
func ssTemplateForm() url.Values {
	return url.Values{
		"source":      {ssTestSource},
		"destination": {ssTestDest},
		"template":    {`{"id":"c6aecef6-bcb0-4fb1-8100-28c094e3bc6b","params":["Agent","Local Address","Tracking code"]}`},
	}
}

func ssWith(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

func TestSelfServeStrictness(t *testing.T) {
	s := NewServer(WithCredentials(ssTestKey, ssTestApp), func(c *Config) { c.Source = ssTestSource })
	defer s.Close()
	std := map[string]string{"apikey": ssTestKey, "Content-Type": ssForm}
	drop := "\x00"
	tests := []struct {
		name   string
		path   string
		header map[string]string
		form   url.Values
		status int
		// message is a part of the error message; empty for an accepted send.
		message string
	}{
		{"session", "/wa/api/v1/msg", std, ssSession(), 200, ""},
		{"legacy session", "/sm/api/v1/msg", std, ssSession(), 200, ""},
		{"api_key header", "/wa/api/v1/msg", map[string]string{"api_key": ssTestKey, "Content-Type": ssForm}, ssSession(), 200, ""},
		{"content type with charset", "/wa/api/v1/msg", map[string]string{"apikey": ssTestKey, "Content-Type": ssForm + "; charset=UTF-8"}, ssSession(), 200, ""},
		{"missing apikey", "/wa/api/v1/msg", map[string]string{"Content-Type": ssForm}, ssSession(), 401, "Authentication Failed"},
		{"wrong apikey", "/wa/api/v1/msg", map[string]string{"apikey": "nope", "Content-Type": ssForm}, ssSession(), 401, "Authentication Failed"},
		{"JSON body", "/wa/api/v1/msg", map[string]string{"apikey": ssTestKey, "Content-Type": "application/json"}, ssSession(), 400, `"application/json"`},
		{"no content type", "/wa/api/v1/msg", map[string]string{"apikey": ssTestKey}, ssSession(), 400, "Content-Type"},
		{"missing src.name", "/wa/api/v1/msg", std, ssWith(ssSession(), "src.name", drop), 400, "Invalid App Details"},
		{"wrong src.name", "/wa/api/v1/msg", std, ssWith(ssSession(), "src.name", "Other"), 400, "Invalid App Details"},
		{"missing channel", "/wa/api/v1/msg", std, ssWith(ssSession(), "channel", drop), 400, "Invalid channel"},
		{"wrong channel", "/wa/api/v1/msg", std, ssWith(ssSession(), "channel", "sms"), 400, "Invalid channel"},
		{"missing source", "/wa/api/v1/msg", std, ssWith(ssSession(), "source", drop), 400, "Invalid Source"},
		{"source with plus", "/wa/api/v1/msg", std, ssWith(ssSession(), "source", "+"+ssTestSource), 400, "Invalid Source"},
		{"source of another app", "/wa/api/v1/msg", std, ssWith(ssSession(), "source", "917834811115"), 400, "Invalid Source"},
		{"missing destination", "/wa/api/v1/msg", std, ssWith(ssSession(), "destination", drop), 400, "Invalid Destination"},
		{"short destination", "/wa/api/v1/msg", std, ssWith(ssSession(), "destination", "98765"), 400, "Invalid Destination"},
		{"destination with leading zero", "/wa/api/v1/msg", std, ssWith(ssSession(), "destination", "09876543210"), 400, "Invalid Destination"},
		{"missing message", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", drop), 400, "Invalid message: missing"},
		{"malformed message", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"text",`), 400, "Invalid message: not a JSON object"},
		{"message not an object", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `"hello"`), 400, "Invalid message: not a JSON object"},
		{"missing type", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"text":"hi"}`), 400, "Invalid message: missing type"},
		{"unknown type", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"foo"}`), 400, `Invalid message: unknown type "foo"`},
		{"empty text", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"text","text":" "}`), 400, "text needs text"},
		{"text not a string", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"text","text":5}`), 400, "text must be a string"},
		{"image", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"image","originalUrl":"https://x.io/a.jpg","previewUrl":"https://x.io/a.jpg"}`), 200, ""},
		{"image by id", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"image","id":"123"}`), 200, ""},
		{"image without url", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"image","caption":"x"}`), 400, "Invalid message: image needs originalUrl or id"},
		{"image url misspelt", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"image","originalURL":"https://x.io/a.jpg"}`), 400, "image needs originalUrl or id"},
		{"video without url", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"video","caption":"x"}`), 400, "video needs url or id"},
		{"audio without url", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"audio"}`), 400, "audio needs url or id"},
		{"file without url", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"file","filename":"a.pdf"}`), 400, "file needs url"},
		{"sticker without url", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"sticker"}`), 400, "sticker needs url"},
		{"location as strings", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"location","longitude":"72.87","latitude":"19.07"}`), 200, ""},
		{"location as numbers", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"location","longitude":72.87,"latitude":19.07}`), 200, ""},
		{"location without latitude", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"location","longitude":"72.87","latitude":""}`), 400, "location needs latitude"},
		{"contact", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"contact","contact":{"name":{"formattedName":"A B"},"phones":[{"phone":"+1 650"}]}}`), 200, ""},
		{"contact without phones", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"contact","contact":{"name":{"formattedName":"A B"}}}`), 400, "contact needs phones"},
		{"contact without name", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"contact","contact":{"phones":[{"phone":"1"}]}}`), 400, "contact needs name.formattedName"},
		{"list", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssList(2, "Open")), 200, ""},
		{"list of 11 options", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssList(11, "Open")), 400, "list has 11 options"},
		{"list button too long", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssList(1, strings.Repeat("b", 21))), 400, "globalButtons[0].title is longer than 20"},
		{"list item without options", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"list","body":"b","globalButtons":[{"type":"text","title":"Open"}],"items":[{"title":"s"}]}`), 400, "items[0] needs options"},
		{"list without items", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"list","body":"b","globalButtons":[{"type":"text","title":"Open"}]}`), 400, "list needs items"},
		{"quick reply", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssQuickReply("text", 3)), 200, ""},
		{"quick reply of 4", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssQuickReply("text", 4)), 400, "quick_reply has 4 options"},
		{"quick reply audio", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", ssQuickReply("audio", 2)), 400, `content type "audio"`},
		{"reaction", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"reaction","msgId":"wamid.X","emoji":"👍"}`), 200, ""},
		{"reaction without msgId", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"reaction","emoji":"👍"}`), 400, "reaction needs msgId"},
		{"reply", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"text","text":"ok","context":{"msgId":"wamid.X"}}`), 200, ""},
		{"reply without msgId", "/wa/api/v1/msg", std, ssWith(ssSession(), "message", `{"type":"text","text":"ok","context":{}}`), 400, "context needs msgId"},

		{"template as the seed sends it", "/sm/api/v1/template/msg", std, ssTemplateForm(), 202, ""},
		{"template with channel and app", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "channel", "whatsapp", "src.name", ssTestApp), 202, ""},
		{"template of another app", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "src.name", "Other"), 400, "Invalid App Details"},
		{"template missing apikey", "/wa/api/v1/template/msg", map[string]string{"Content-Type": ssForm}, ssTemplateForm(), 401, "Authentication Failed"},
		{"template missing destination", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "destination", drop), 400, "Invalid Destination"},
		{"template missing", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", drop), 400, "Invalid template: missing"},
		{"template not JSON", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", "c6aecef6"), 400, "Invalid template: not a JSON object"},
		{"template without id", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", `{"params":[]}`), 400, "Invalid template: missing id"},
		{"template without params", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", `{"id":"t1"}`), 400, "Invalid template: missing params"},
		{"template with empty params", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", `{"id":"t1","params":[]}`), 202, ""},
		{"template params not strings", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", `{"id":"t1","params":[1,2]}`), 400, "params must be an array of strings"},
		{"template empty param", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "template", `{"id":"t1","params":["a",""]}`), 400, "params[1] is empty"},
		{"postbackTexts", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "postbackTexts", `[{"index":0,"text":"yes"}]`), 202, ""},
		{"postbackTexts malformed", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "postbackTexts", `{"index":0}`), 400, "Invalid postbackTexts"},
		{"postbackTexts without text", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "postbackTexts", `[{"index":0}]`), 400, "[0] needs text"},
		{"image template", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"image","image":{"link":"https://x.io/a.jpg"}}`), 202, ""},
		{"document template", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"document","document":{"link":"https://x.io/a.pdf","filename":"A"}}`), 202, ""},
		{"location template", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"location","location":{"longitude":"72.8","latitude":"19.0"}}`), 202, ""},
		{"image template without link", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"image","image":{}}`), 400, "image needs link or id"},
		{"image template in session shape", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"image","originalUrl":"https://x.io/a.jpg"}`), 400, "image template needs a image object"},
		{"audio template", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"audio","audio":{"link":"x"}}`), 400, `unknown template media type "audio"`},
		{"location template without latitude", "/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "message", `{"type":"location","location":{"longitude":"72.8"}}`), 400, "location needs latitude"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.Sends())
			a := ssDo(t, http.MethodPost, s.URL+tt.path, tt.header, tt.form.Encode())
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.raw)
			}
			sends := s.Sends()
			if tt.message == "" {
				if a.contentType != "text/html" || a.body["status"] != "submitted" || a.body["messageId"] == "" {
					t.Fatalf("accepted answer %q %s", a.contentType, a.raw)
				}
				if len(sends) != before+1 || sends[len(sends)-1].MessageID != a.body["messageId"] {
					t.Fatalf("accepted but not recorded as %v", a.body["messageId"])
				}
				return
			}
			msg, _ := a.body["message"].(string)
			if a.body["status"] != "error" || !strings.Contains(msg, tt.message) {
				t.Fatalf("error body %s, want a message with %q", a.raw, tt.message)
			}
			if len(sends) != before {
				t.Fatal("a refused send was recorded")
			}
		})
	}
	if got := len(s.Rejections()); got == 0 {
		t.Error("refusals are not in the rejection record")
	}
	a := ssDo(t, http.MethodGet, s.URL+"/wa/api/v1/msg", std, "")
	if a.status != http.StatusMethodNotAllowed {
		t.Errorf("GET of the send path: %d", a.status)
	}
}

func ssList(options int, button string) string {
	opts := make([]map[string]string, options)
	for i := range opts {
		opts[i] = map[string]string{"type": "text", "title": "Row " + string(rune('A'+i)), "postbackText": "r"}
	}
	b, _ := json.Marshal(map[string]any{
		"type": "list", "title": "Menu", "body": "Pick", "msgid": "l1",
		"globalButtons": []map[string]string{{"type": "text", "title": button}},
		"items":         []map[string]any{{"title": "Section", "subtitle": "s", "options": opts}},
	})
	return string(b)
}

func ssQuickReply(content string, options int) string {
	opts := make([]map[string]string, options)
	for i := range opts {
		opts[i] = map[string]string{"type": "text", "title": "Button " + string(rune('A'+i))}
	}
	c := map[string]string{"type": content, "text": "Body", "url": "https://x.io/a.jpg"}
	b, _ := json.Marshal(map[string]any{"type": "quick_reply", "msgid": "q1", "content": c, "options": opts})
	return string(b)
}

func TestSelfServeSyncFaults(t *testing.T) {
	s := NewServer(WithCredentials(ssTestKey, ssTestApp), WithRateLimit(1),
		WithFaults(Fault{Match: "91999*", HTTPStatus: 503, Code: 4002, Reason: "Invalid response from WhatsApp"}))
	defer s.Close()
	std := map[string]string{"apikey": ssTestKey, "Content-Type": ssForm}
	a := ssDo(t, http.MethodPost, s.URL+"/wa/api/v1/msg", std, ssWith(ssSession(), "destination", "919990000001").Encode())
	if a.status != 503 || a.body["message"] != "Invalid response from WhatsApp" || a.body["code"] != float64(4002) {
		t.Fatalf("fault answer %d %s", a.status, a.raw)
	}
	// The fault took the one token of the second; the next call is over the rate.
	a = ssDo(t, http.MethodPost, s.URL+"/wa/api/v1/msg", std, ssSession().Encode())
	if a.status != 429 || a.body["status"] != "error" || a.body["message"] != "Too Many Requests" {
		t.Fatalf("rate limit answer %d %s", a.status, a.raw)
	}
}

func TestSelfServeOptIn(t *testing.T) {
	rx := newSSReceiver()
	defer rx.Close()
	s := NewServer(WithCredentials(ssTestKey, ssTestApp), WithCallbackURL(rx.URL))
	defer s.Close()
	std := map[string]string{"apikey": ssTestKey, "Content-Type": ssForm}
	tests := []struct {
		name   string
		path   string
		header map[string]string
		body   string
		status int
	}{
		{"opt in", "/sm/api/v1/app/opt/in/" + ssTestApp, std, "user=" + ssTestDest, 202},
		{"opt in another", "/sm/api/v1/app/opt/in/" + ssTestApp, std, "user=919876500001", 202},
		{"opt out", "/sm/api/v1/app/opt/out/" + ssTestApp, std, "user=919876500001", 202},
		{"wrong app", "/sm/api/v1/app/opt/in/Other", std, "user=" + ssTestDest, 400},
		{"no key", "/sm/api/v1/app/opt/in/" + ssTestApp, map[string]string{"Content-Type": ssForm}, "user=" + ssTestDest, 401},
		{"no user", "/sm/api/v1/app/opt/in/" + ssTestApp, std, "", 400},
		{"JSON body", "/sm/api/v1/app/opt/in/" + ssTestApp, map[string]string{"apikey": ssTestKey, "Content-Type": "application/json"}, `{"user":"919876543210"}`, 400},
	}
	for _, tt := range tests {
		if a := ssDo(t, http.MethodPost, s.URL+tt.path, tt.header, tt.body); a.status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, a.status, tt.status, a.raw)
		}
	}
	a := ssDo(t, http.MethodGet, s.URL+"/sm/api/v1/users/"+ssTestApp, map[string]string{"apikey": ssTestKey}, "")
	if a.status != 200 || a.body["status"] != "success" {
		t.Fatalf("users: %d %s", a.status, a.raw)
	}
	var users struct {
		Users []map[string]any `json:"users"`
	}
	json.Unmarshal([]byte(a.raw), &users)
	if len(users.Users) != 2 || users.Users[0]["phoneCode"] != "919876500001" || users.Users[0]["optinStatus"] != "OPT_OUT" ||
		users.Users[1]["phoneCode"] != ssTestDest || users.Users[1]["optinStatus"] != "OPT_IN" || users.Users[1]["countryCode"] != "91" {
		t.Fatalf("users %s", a.raw)
	}
	for _, k := range []string{"countryCode", "lastMessageTimeStamp", "optinSource", "optinStatus", "optinTimeStamp", "phoneCode"} {
		if _, ok := users.Users[0][k]; !ok {
			t.Errorf("users lack %s", k)
		}
	}
	if len(s.Sends()) != 0 {
		t.Error("opt-ins were recorded as sends")
	}
	if a := ssDo(t, http.MethodGet, s.URL+"/sm/api/v1/users/"+ssTestApp, nil, ""); a.status != 401 {
		t.Errorf("users without key: %d", a.status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range rx.events() {
		if ev.Type == "user-event" {
			kinds = append(kinds, ev.Payload.Phone+" "+ev.Payload.Type)
		}
	}
	// Callbacks are posted by a pool, so their order is not the calls' order.
	sort.Strings(kinds)
	want := []string{"919876500001 opted-in", "919876500001 opted-out", ssTestDest + " opted-in"}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Fatalf("user events %q, want %q", kinds, want)
	}
}

// ssReceiver is a callback URL that keeps every v2 body it is given.
type ssReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
}

type ssV2 struct {
	App     string `json:"app"`
	Version int    `json:"version"`
	Type    string `json:"type"`
	Payload struct {
		ID          string `json:"id"`
		GsID        string `json:"gsId"`
		Type        string `json:"type"`
		Destination string `json:"destination"`
		Phone       string `json:"phone"`
		Payload     struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
			TS     int64  `json:"ts"`
		} `json:"payload"`
	} `json:"payload"`
}

func newSSReceiver() *ssReceiver {
	rx := &ssReceiver{}
	rx.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rx.mu.Lock()
		rx.bodies = append(rx.bodies, b)
		rx.mu.Unlock()
	}))
	return rx
}

func (rx *ssReceiver) events() []ssV2 {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	out := make([]ssV2, 0, len(rx.bodies))
	for _, b := range rx.bodies {
		var ev ssV2
		json.Unmarshal(b, &ev)
		out = append(out, ev)
	}
	return out
}

func TestSelfServeCallbacks(t *testing.T) {
	const failing = "919876500002"
	rx := newSSReceiver()
	defer rx.Close()
	s := NewServer(WithCredentials(ssTestKey, ssTestApp), WithCallbackURL(rx.URL),
		WithFaults(Fault{Match: failing, Code: 1002}))
	defer s.Close()
	std := map[string]string{"apikey": ssTestKey, "Content-Type": ssForm}
	ok := ssDo(t, http.MethodPost, s.URL+"/wa/api/v1/msg", std, ssSession().Encode())
	failed := ssDo(t, http.MethodPost, s.URL+"/wa/api/v1/template/msg", std, ssWith(ssTemplateForm(), "destination", failing).Encode())
	if ok.status != 200 || failed.status != 202 {
		t.Fatalf("sends answered %d and %d: a failing recipient is still accepted", ok.status, failed.status)
	}
	okID, failedID := ok.body["messageId"].(string), failed.body["messageId"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	byDest := map[string]map[string]ssV2{}
	for _, ev := range rx.events() {
		if ev.Type != "message-event" || ev.Version != 2 || ev.App != ssTestApp {
			t.Fatalf("not a v2 message-event of the app: %+v", ev)
		}
		p := ev.Payload
		if byDest[p.Destination] == nil {
			byDest[p.Destination] = map[string]ssV2{}
		}
		byDest[p.Destination][p.Type] = ev
	}

	delivered := byDest[ssTestDest]
	if len(delivered) != 4 {
		t.Fatalf("delivered send: events %v", delivered)
	}
	if delivered["enqueued"].Payload.ID != okID || delivered["enqueued"].Payload.GsID != "" {
		t.Errorf("enqueued carries id %q gsId %q, want the Gupshup id %q", delivered["enqueued"].Payload.ID, delivered["enqueued"].Payload.GsID, okID)
	}
	wamid := delivered["sent"].Payload.ID
	if !strings.HasPrefix(wamid, "wamid.") {
		t.Errorf("sent id %q is not a WhatsApp id", wamid)
	}
	for _, st := range []string{"sent", "delivered", "read"} {
		p := delivered[st].Payload
		if p.GsID != okID || p.ID != wamid || p.Payload.TS == 0 {
			t.Errorf("%s: id %q gsId %q ts %d", st, p.ID, p.GsID, p.Payload.TS)
		}
	}

	fail := byDest[failing]
	if len(fail) != 1 {
		t.Fatalf("failed send: events %v", fail)
	}
	p := fail["failed"].Payload
	if p.ID != failedID || p.Payload.Code != 1002 || p.Payload.Reason == "" {
		t.Errorf("failed event %+v, want id %q code 1002", p, failedID)
	}
}

// BenchmarkSimulatorSelfServeSend measures accepted session sends per
// second over loopback with parallel keep-alive clients.
func BenchmarkSimulatorSelfServeSend(b *testing.B) {
	s := NewServer(WithCredentials(ssTestKey, ssTestApp))
	defer s.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	body := ssSession().Encode()
	u := s.URL + "/wa/api/v1/msg"
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
			req.Header.Set("apikey", ssTestKey)
			req.Header.Set("Content-Type", ssForm)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	if n := len(s.Sends()); n < b.N {
		b.Fatalf("%d sends recorded of %d", n, b.N)
	}
}

// BenchmarkSimulatorSelfServeHandler is the same send without the network:
// the simulator's own cost per request, which bounds what a machine with
// cores to spare for the HTTP stack can serve.
func BenchmarkSimulatorSelfServeHandler(b *testing.B) {
	s := newServer(DefaultConfig())
	defer s.cb.close()
	body := ssSession().Encode()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/wa/api/v1/msg", strings.NewReader(body))
			req.Header.Set("apikey", DefaultConfig().APIKey)
			req.Header.Set("Content-Type", ssForm)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

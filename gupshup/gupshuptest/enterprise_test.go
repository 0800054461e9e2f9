package gupshuptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

const entTestKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// entCall sends params to the Gateway as a POST form or, with get, as a query.
func entCall(t *testing.T, s *Server, get bool, params url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if get {
		resp, err = http.Get(s.URL + EnterprisePath + "?" + params.Encode())
	} else {
		resp, err = http.PostForm(s.URL+EnterprisePath, params)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// entParams is a valid SendMessage for the default account, changed by edits:
// "key=value" sets, "-key" deletes.
func entParams(edits ...string) url.Values {
	p := url.Values{
		"userid": {"2000000001"}, "password": {"sim-password"}, "method": {"SendMessage"},
		"v": {"1.1"}, "auth_scheme": {"plain"}, "format": {"json"}, "channel": {"WHATSAPP"},
		"send_to": {"919800000001"}, "msg": {"hello"}, "msg_type": {"TEXT"},
	}
	for _, e := range edits {
		if k, ok := strings.CutPrefix(e, "-"); ok {
			p.Del(k)
			continue
		}
		k, v, _ := strings.Cut(e, "=")
		p.Set(k, v)
	}
	return p
}

type entAnswer struct {
	Response struct {
		ID      string `json:"id"`
		Phone   string `json:"phone"`
		Details string `json:"details"`
		Status  string `json:"status"`
	} `json:"response"`
}

func entDecode(t *testing.T, body string) entAnswer {
	t.Helper()
	var a entAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("answer %q is not the Gateway's JSON: %v", body, err)
	}
	return a
}

func TestEnterpriseRejects(t *testing.T) {
	media := []string{"method=SendMediaMessage", "msg_type=IMAGE", "media_url=https://cdn.example.com/a.jpg", "-msg"}
	tests := []struct {
		name    string
		params  url.Values
		code    int
		details string // must appear in details
	}{
		{"missing userid", entParams("-userid"), 101, "userid"},
		{"missing password", entParams("-password"), 101, "password"},
		{"wrong password", entParams("password=guess"), 102, "Authentication failed"},
		{"wrong userid", entParams("userid=2000000002"), 102, "Authentication failed"},
		{"missing method", entParams("-method"), 101, "method"},
		{"unknown method", entParams("method=SENDMESSAGE"), 106, `"SENDMESSAGE"`},
		{"missing v", entParams("-v"), 101, "parameter v "},
		{"wrong v", entParams("v=1.0"), 101, "parameter v "},
		{"missing auth_scheme", entParams("-auth_scheme"), 101, "auth_scheme"},
		{"wrong auth_scheme", entParams("auth_scheme=md5"), 101, "auth_scheme"},
		{"wrong channel", entParams("channel=SMS"), 101, "channel"},
		{"opt-in without channel", entParams("method=OPT_IN", "phone_number=919800000001", "-channel"), 101, "channel"},
		{"opt-in without phone", entParams("method=OPT_IN"), 101, "phone_number"},
		{"opt-in bad phone", entParams("method=OPT_IN", "phone_number=+91 98000"), 105, "phone_number"},
		{"missing send_to", entParams("-send_to"), 101, "send_to"},
		{"bad send_to", entParams("send_to=0919800000001"), 105, "send_to"},
		{"missing msg", entParams("-msg"), 101, "msg"},
		{"missing msg_type", entParams("-msg_type"), 101, "msg_type"},
		{"media type on SendMessage", entParams("msg_type=IMAGE"), 101, "msg_type"},
		{"text type on SendMediaMessage", entParams(append(media, "msg_type=TEXT")...), 101, "msg_type"},
		{"missing media_url", entParams(append(media, "-media_url")...), 101, "media_url"},
		{"relative media_url", entParams(append(media, "media_url=/a.jpg")...), 101, "media_url"},
		{"header without isTemplate", entParams("msg_type=HSM", "header=Hi"), 101, "header"},
		{"bad isTemplate", entParams("msg_type=HSM", "isTemplate=yes"), 101, "isTemplate"},
		{"bad data_encoding", entParams("data_encoding=UTF-16"), 101, "data_encoding"},
		{"encrdata without a key", entParams("encrdata=abc"), 101, "encrdata"},
	}
	s := NewServer()
	defer s.Close()
	for _, tt := range tests {
		for _, get := range []bool{false, true} {
			status, body := entCall(t, s, get, tt.params)
			a := entDecode(t, body)
			if status != http.StatusOK || a.Response.Status != "error" || a.Response.ID != strconv.Itoa(tt.code) ||
				!strings.Contains(a.Response.Details, tt.details) || a.Response.Phone != "" {
				t.Errorf("%s (GET %v): %d %s, want 200, error %d naming %q", tt.name, get, status, body, tt.code, tt.details)
			}
		}
	}
	if n := len(s.Sends()); n != 0 {
		t.Fatalf("%d rejected requests were recorded as sends", n)
	}
}

func TestEnterpriseTextFormat(t *testing.T) {
	s := NewServer()
	defer s.Close()
	tests := []struct {
		name   string
		params url.Values
		want   string // the whole answer; "<id>" stands for the message id
	}{
		{"success", entParams("format=text"), "success | 919800000001 | <id>"},
		{"default format is text", entParams("-format"), "success | 919800000001 | <id>"},
		{"auth error", entParams("format=text", "password=x"), "error | 102 | Authentication failed due to invalid userId or password."},
		{"unknown format answers in text", entParams("format=xml"), `error | 101 | The parameter format has an invalid value "xml"; use json or text.`},
	}
	for _, tt := range tests {
		status, body := entCall(t, s, false, tt.params)
		want := tt.want
		if strings.Contains(want, "<id>") {
			sends := s.Sends()
			want = strings.Replace(want, "<id>", sends[len(sends)-1].MessageID, 1)
		}
		if status != http.StatusOK || body != want {
			t.Errorf("%s: %d %q, want 200 %q", tt.name, status, body, want)
		}
	}
}

func TestEnterpriseAccepts(t *testing.T) {
	s := NewServer()
	defer s.Close()
	tests := []struct {
		name   string
		params url.Values
		kind   string
	}{
		{"text", entParams(), "text"},
		{"HSM without isTemplate", entParams("msg_type=HSM"), "template"},
		{"lower-case hsm with isHSM", entParams("msg_type=hsm", "isHSM=true", "isTemplate=true", "header=Hi", "footer=Bye", "buttonUrlParam=x"), "template"},
		{"TEXT with isTemplate", entParams("isTemplate=true"), "template"},
		{"no channel on a send", entParams("-channel"), "text"},
		{"document", entParams("method=SendMediaMessage", "msg_type=DOCUMENT", "media_url=https://cdn.example.com/a.pdf", "filename=a.pdf", "-msg"), "document"},
		{"audio", entParams("method=SendMediaMessage", "msg_type=audio", "media_url=http://cdn.example.com/a.ogg", "-msg"), "audio"},
		{"media template", entParams("method=SendMediaMessage", "msg_type=VIDEO", "media_url=https://cdn.example.com/v.mp4", "isTemplate=true", "caption=Offer"), "template"},
		{"unicode", entParams("msg=नमस्ते", "data_encoding=Unicode_text"), "text"},
	}
	for _, tt := range tests {
		status, body := entCall(t, s, true, tt.params)
		a := entDecode(t, body)
		sends := s.Sends()
		if status != http.StatusOK || a.Response.Status != "success" || len(sends) == 0 {
			t.Errorf("%s: %d %s", tt.name, status, body)
			continue
		}
		got := sends[len(sends)-1]
		if a.Response.ID != got.MessageID || a.Response.Phone != "919800000001" || a.Response.Details != "" {
			t.Errorf("%s: answer %s for send %+v", tt.name, body, got)
		}
		if got.Family != "enterprise" || got.App != "2000000001" || got.Kind != tt.kind || got.Destination != "919800000001" {
			t.Errorf("%s: recorded %+v, want kind %s", tt.name, got, tt.kind)
		}
		if _, leaked := got.Payload["password"]; leaked {
			t.Errorf("%s: the password was recorded", tt.name)
		}
		for k := range tt.params {
			if _, ok := got.Payload[k]; !ok && k != "password" {
				t.Errorf("%s: parameter %s not recorded", tt.name, k)
			}
		}
	}
}

func TestEnterpriseEncrypted(t *testing.T) {
	s := NewServer(WithEnterpriseAESKey(entTestKeyHex))
	defer s.Close()
	key, _ := decodeKey(entTestKeyHex)
	seal := func(p url.Values) string {
		enc, err := gupshup.EncryptParams(key, p)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	inner := entParams("-userid")
	otherKey := strings.Repeat("k", 32)
	foreign, _ := gupshup.EncryptParams([]byte(otherKey), inner)
	tests := []struct {
		name    string
		params  url.Values
		ok      bool
		details string
	}{
		{"encrypted", url.Values{"userid": {"2000000001"}, "encrdata": {seal(inner)}}, true, ""},
		{"plain parameters", entParams(), false, "encrdata is required"},
		{"missing encrdata", url.Values{"userid": {"2000000001"}}, false, "encrdata is required"},
		{"garbage encrdata", url.Values{"userid": {"2000000001"}, "encrdata": {"bm90IGVuY3J5cHRlZA"}}, false, "encrdata could not be decrypted"},
		{"other key", url.Values{"userid": {"2000000001"}, "encrdata": {foreign}}, false, "encrdata could not be decrypted"},
		{"password in the clear", url.Values{"userid": {"2000000001"}, "password": {"sim-password"}, "encrdata": {seal(inner)}}, false, "password must be sent inside encrdata"},
		{"userid only inside", url.Values{"encrdata": {seal(entParams("format=text"))}}, false, "userid is required"},
		{"wrong password inside", url.Values{"userid": {"2000000001"}, "encrdata": {seal(entParams("-userid", "password=x", "format=text"))}}, false, "Authentication failed"},
	}
	for _, tt := range tests {
		status, body := entCall(t, s, false, tt.params)
		if status != http.StatusOK {
			t.Errorf("%s: HTTP %d", tt.name, status)
		}
		if tt.ok {
			a := entDecode(t, body)
			sends := s.Sends()
			if a.Response.Status != "success" || len(sends) != 1 {
				t.Fatalf("%s: %s", tt.name, body)
			}
			p := sends[0].Payload
			if p["msg"] != "hello" || p["userid"] != "2000000001" || p["password"] != "" || p["encrdata"] != "" {
				t.Errorf("%s: recorded payload %v, want the decrypted parameters without password", tt.name, p)
			}
			continue
		}
		// Without readable parameters there is no format to honour but a
		// clear one; otherwise the answer is in the Gateway's default, text.
		isErr := strings.HasPrefix(body, "error | ")
		if strings.HasPrefix(body, "{") {
			isErr = entDecode(t, body).Response.Status == "error"
		}
		if !isErr || !strings.Contains(body, tt.details) {
			t.Errorf("%s: %q, want an error naming %q", tt.name, body, tt.details)
		}
	}
}

func TestEnterpriseHTTPStatuses(t *testing.T) {
	tests := []struct {
		name   string
		opts   []Option
		before func(*Server)
		calls  int // sends before the one checked
		status int
		id     string
		text   string
	}{
		{name: "rate limit", opts: []Option{WithRateLimit(0.001)}, calls: 1, status: 429, text: "error |  | Too Many Requests"},
		{name: "fault with status and code", opts: []Option{WithFaults(Fault{Match: "9198*", HTTPStatus: 500, Code: 100, Reason: "An unknown exception has occurred."})},
			status: 500, text: "error | 100 | An unknown exception has occurred."},
		{name: "fault in a 200", opts: []Option{WithFaults(Fault{Match: "*", HTTPStatus: 200, Code: 123})},
			status: 200, text: "error | 123 | OK"},
		{name: "outage", before: func(s *Server) { s.StartOutage("5xx", time.Minute) }, status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(tt.opts...)
			defer s.Close()
			if tt.before != nil {
				tt.before(s)
			}
			for i := 0; i < tt.calls; i++ {
				if status, body := entCall(t, s, false, entParams()); status != 200 {
					t.Fatalf("call %d: %d %s", i+1, status, body)
				}
			}
			status, body := entCall(t, s, false, entParams("format=text"))
			if status != tt.status || (tt.text != "" && body != tt.text) {
				t.Fatalf("%d %q, want %d %q", status, body, tt.status, tt.text)
			}
		})
	}
}

func TestEnterpriseOnlyGETAndPOST(t *testing.T) {
	s := NewServer()
	defer s.Close()
	req, _ := http.NewRequest(http.MethodPut, s.URL+EnterprisePath, strings.NewReader(entParams().Encode()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
		t.Fatalf("PUT: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestEnterpriseOptIn(t *testing.T) {
	s := NewServer()
	defer s.Close()
	steps := []struct {
		method string
		want   bool
	}{{"OPT_IN", true}, {"OPT_OUT", false}, {"OPT_IN", true}}
	for _, st := range steps {
		status, body := entCall(t, s, true, entParams("method="+st.method, "phone_number=919800000007", "-send_to", "-msg", "-msg_type"))
		a := entDecode(t, body)
		if status != 200 || a.Response.Status != "success" || a.Response.Phone != "919800000007" || a.Response.ID == "" {
			t.Fatalf("%s: %d %s", st.method, status, body)
		}
		if s.EnterpriseOptedIn("919800000007") != st.want {
			t.Fatalf("after %s opted in = %v", st.method, !st.want)
		}
	}
	if len(s.Sends()) != 0 {
		t.Fatal("opt-ins were recorded as sends")
	}
}

// entDLR is one enterprise delivery report as the receiver got it.
type entDLR struct {
	ExternalID string `json:"externalId"`
	DestAddr   string `json:"destAddr"`
	EventType  string `json:"eventType"`
	ErrorCode  string `json:"errorCode"`
	Cause      string `json:"cause"`
	Channel    string `json:"channel"`
	EventTs    int64  `json:"eventTs"`
}

func TestEnterpriseDeliveryReports(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]entDLR{} // by externalId
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []entDLR
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
			t.Errorf("DLR body is not a JSON array: %v", err)
		}
		mu.Lock()
		for _, d := range batch {
			got[d.ExternalID] = append(got[d.ExternalID], d)
		}
		mu.Unlock()
	}))
	defer recv.Close()
	s := NewServer(WithCallbackURL(recv.URL), WithFaults(Fault{Match: "*0002", Code: 1002}))
	defer s.Close()

	tests := []struct {
		dest   string
		events []string
		code   string
	}{
		{"919800000001", []string{"SENT", "DELIVERED", "READ"}, "000"},
		{"919800000002", []string{"FAILED"}, "1002"},
	}
	ids := map[string]string{}
	for _, tt := range tests {
		_, body := entCall(t, s, false, entParams("send_to="+tt.dest))
		a := entDecode(t, body)
		if a.Response.Status != "success" {
			t.Fatalf("%s: %s", tt.dest, body)
		}
		ids[tt.dest] = a.Response.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tt := range tests {
		dlrs := got[ids[tt.dest]]
		var types []string
		for _, d := range dlrs {
			types = append(types, d.EventType)
			if d.DestAddr != tt.dest || d.ErrorCode != tt.code || d.Channel != "WHATSAPP" || d.EventTs == 0 {
				t.Errorf("%s: report %+v", tt.dest, d)
			}
			if tt.code != "000" && !strings.Contains(d.Cause, "WhatsApp") {
				t.Errorf("%s: cause %q, want the failure reason", tt.dest, d.Cause)
			}
		}
		// The pool of callback workers does not keep order, nor does Gupshup.
		slices.Sort(types)
		want := slices.Sorted(slices.Values(tt.events))
		if !slices.Equal(types, want) {
			t.Errorf("%s: events %v, want %v in any order", tt.dest, types, want)
		}
	}
}

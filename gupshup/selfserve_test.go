package gupshup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

// ssKey is distinctive so that a test can tell it never leaks into an error.
const (
	ssKey = "ss-key-5ecret-7f3a9c"
	ssApp = "DemoAPI"
)

// ssExchange is one request as it reached the server, with the answer's status.
type ssExchange struct {
	Method, Path, Query string
	Header              http.Header
	Form                url.Values
	Status              int
}

// ssWire sits in front of a handler and keeps every exchange, so that tests
// can check paths and headers, which the simulator's record does not keep.
type ssWire struct {
	mu   sync.Mutex
	seen []ssExchange
	next http.Handler
}

func (s *ssWire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	form, _ := url.ParseQuery(string(body))
	sw := &ssStatusWriter{ResponseWriter: w, status: http.StatusOK}
	s.next.ServeHTTP(sw, r)
	s.mu.Lock()
	s.seen = append(s.seen, ssExchange{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), form, sw.status})
	s.mu.Unlock()
}

func (s *ssWire) last(t *testing.T) ssExchange {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("no request reached the server")
	}
	return s.seen[len(s.seen)-1]
}

func (s *ssWire) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

type ssStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *ssStatusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ssSim starts a simulator behind an ssWire and returns a client of it.
func ssSim(t *testing.T, simOpts []gupshuptest.Option, opts ...gupshup.Option) (*gupshuptest.Server, *ssWire, *gupshup.SelfServeClient) {
	t.Helper()
	sim := gupshuptest.NewServer(append([]gupshuptest.Option{gupshuptest.WithCredentials(ssKey, ssApp)}, simOpts...)...)
	t.Cleanup(sim.Close)
	wire := &ssWire{next: sim}
	front := httptest.NewServer(wire)
	t.Cleanup(front.Close)
	c := gupshup.NewSelfServe(ssKey, ssApp, append([]gupshup.Option{gupshup.WithBaseURL(front.URL)}, opts...)...)
	return sim, wire, c
}

func ssLastSend(t *testing.T, sim *gupshuptest.Server) gupshuptest.Send {
	t.Helper()
	sends := sim.Sends()
	if len(sends) == 0 {
		t.Fatal("the simulator recorded no send")
	}
	return sends[len(sends)-1]
}

// ssCheckPayload compares the recorded form with want field by field;
// JSON-valued fields are compared as JSON, and no other field may be present.
func ssCheckPayload(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("field %s missing", k)
			continue
		}
		if strings.HasPrefix(w, "{") || strings.HasPrefix(w, "[") {
			ssSameJSON(t, g, w)
		} else if g != w {
			t.Errorf("field %s = %q, want %q", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %s = %q", k, g)
		}
	}
}

func ssCheckHeaders(t *testing.T, x ssExchange, method, path string) {
	t.Helper()
	if x.Method != method || x.Path != path {
		t.Errorf("request %s %s, want %s %s", x.Method, x.Path, method, path)
	}
	if x.Query != "" {
		t.Errorf("query string %q: nothing belongs in the URL", x.Query)
	}
	if got := x.Header.Values("apikey"); len(got) != 1 || got[0] != ssKey {
		t.Errorf("apikey header = %q", got)
	}
	if ct := x.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestSelfServeSendSession(t *testing.T) {
	sim, wire, c := ssSim(t, nil)
	ctx := context.Background()
	for _, tt := range ssWireCases {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Send(ctx, gupshup.SessionMessage{Source: "+91 78348 11114", Destination: "+91-98765-43210", Message: tt.msg})
			if err != nil {
				t.Fatal(err)
			}
			got := ssLastSend(t, sim)
			if res.MessageID == "" || res.MessageID != got.MessageID || res.Status != "submitted" {
				t.Errorf("result %+v, simulator recorded id %q", res, got.MessageID)
			}
			if got.Family != "selfserve" || got.Kind != tt.msg.MessageType() || got.Source != ssSource || got.Destination != ssDest {
				t.Errorf("recorded %s %s %s -> %s", got.Family, got.Kind, got.Source, got.Destination)
			}
			ssCheckPayload(t, got.Payload, map[string]string{
				"channel": "whatsapp", "source": ssSource, "src.name": ssApp, "destination": ssDest, "message": tt.wire,
			})
			x := wire.last(t)
			ssCheckHeaders(t, x, http.MethodPost, "/wa/api/v1/msg")
			if x.Status != http.StatusOK {
				t.Errorf("status %d", x.Status)
			}
		})
	}
}

func TestSelfServeSendFlags(t *testing.T) {
	sim, _, c := ssSim(t, nil)
	_, err := c.Send(context.Background(), gupshup.SessionMessage{
		Source: ssSource, Destination: ssDest, DisablePreview: true, Encode: true,
		Message: gupshup.Text{Text: "See https://example.com 🎉"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ssCheckPayload(t, ssLastSend(t, sim).Payload, map[string]string{
		"channel": "whatsapp", "source": ssSource, "src.name": ssApp, "destination": ssDest,
		"message":        `{"type":"text","text":"See https://example.com 🎉"}`,
		"disablePreview": "true", "encode": "true",
	})
}

func TestSelfServeSendTemplate(t *testing.T) {
	const id = "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b"
	tests := []struct {
		name string
		msg  gupshup.TemplateMessage
		want map[string]string // beyond source, destination, src.name, channel
	}{
		{"text params", ssTemplate(nil), map[string]string{
			"template": `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
		}},
		{"no params", ssTemplate(func(m *gupshup.TemplateMessage) { m.Params = nil }), map[string]string{
			"template": `{"id":"` + id + `","params":[]}`,
		}},
		{"image", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateImage{Link: ssImage} }), map[string]string{
			"template": `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
			"message":  `{"type":"image","image":{"link":"` + ssImage + `"}}`,
		}},
		{"image by id", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateImage{ID: "1093"} }), map[string]string{
			"template": `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
			"message":  `{"type":"image","image":{"id":"1093"}}`,
		}},
		{"video", ssTemplate(func(m *gupshup.TemplateMessage) { m.Media = gupshup.TemplateVideo{Link: ssVideo} }), map[string]string{
			"template": `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
			"message":  `{"type":"video","video":{"link":"` + ssVideo + `"}}`,
		}},
		{"document", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.ID, m.Params = "c49ee21d-4d39-452d-a6c1-25b7615e01e4", []string{"John", "docs/bot-platform/guide/whatsapp-api-documentation"}
			m.Media = gupshup.TemplateDocument{Link: ssPDF, Filename: "Sample funtional resume"}
		}), map[string]string{
			"template": `{"id":"c49ee21d-4d39-452d-a6c1-25b7615e01e4","params":["John","docs/bot-platform/guide/whatsapp-api-documentation"]}`,
			"message":  `{"type":"document","document":{"link":"` + ssPDF + `","filename":"Sample funtional resume"}}`,
		}},
		{"location", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.Media = gupshup.TemplateLocation{Longitude: "72.877426", Latitude: "19.076090"}
		}), map[string]string{
			"template": `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
			"message":  `{"type":"location","location":{"longitude":"72.877426","latitude":"19.076090"}}`,
		}},
		{"postback texts", ssTemplate(func(m *gupshup.TemplateMessage) {
			m.PostbackTexts = []gupshup.PostbackText{{Index: 0, Text: "track-123"}, {Index: 1, Text: "stop"}}
		}), map[string]string{
			"template":      `{"id":"` + id + `","params":["Agent","Local Address","Tracking code"]}`,
			"postbackTexts": `[{"index":0,"text":"track-123"},{"index":1,"text":"stop"}]`,
		}},
	}
	sim, wire, c := ssSim(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.SendTemplate(context.Background(), tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := ssLastSend(t, sim)
			if res.MessageID != got.MessageID || res.Status != "submitted" {
				t.Errorf("result %+v, recorded %q", res, got.MessageID)
			}
			if got.Kind != "template" || got.TemplateID != tt.msg.ID {
				t.Errorf("recorded kind %q template %q", got.Kind, got.TemplateID)
			}
			want := map[string]string{"channel": "whatsapp", "source": ssSource, "src.name": ssApp, "destination": ssDest}
			for k, v := range tt.want {
				want[k] = v
			}
			ssCheckPayload(t, got.Payload, want)
			x := wire.last(t)
			ssCheckHeaders(t, x, http.MethodPost, "/wa/api/v1/template/msg")
			if x.Status != http.StatusAccepted {
				t.Errorf("status %d, want 202", x.Status)
			}
		})
	}
}

func TestSelfServePaths(t *testing.T) {
	tests := []struct {
		name              string
		opts              []gupshup.Option
		session, template string
	}{
		{"current", nil, "/wa/api/v1/msg", "/wa/api/v1/template/msg"},
		{"legacy", []gupshup.Option{gupshup.WithLegacyPaths()}, "/sm/api/v1/msg", "/sm/api/v1/template/msg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, wire, c := ssSim(t, nil, tt.opts...)
			ctx := context.Background()
			if _, err := c.Send(ctx, gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: gupshup.Text{Text: "hi"}}); err != nil {
				t.Fatal(err)
			}
			ssCheckHeaders(t, wire.last(t), http.MethodPost, tt.session)
			if _, err := c.SendTemplate(ctx, ssTemplate(nil)); err != nil {
				t.Fatal(err)
			}
			ssCheckHeaders(t, wire.last(t), http.MethodPost, tt.template)
			if n := len(sim.Sends()); n != 2 {
				t.Fatalf("%d sends recorded", n)
			}
		})
	}
}

func TestSelfServeOptInUsers(t *testing.T) {
	sim, wire, c := ssSim(t, nil)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	for _, p := range []string{"+91 98765 43210", "919876500001"} {
		if err := c.OptIn(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	x := wire.last(t)
	ssCheckHeaders(t, x, http.MethodPost, "/sm/api/v1/app/opt/in/"+ssApp)
	if x.Form.Get("user") != "919876500001" || len(x.Form) != 1 {
		t.Errorf("opt-in form %v", x.Form)
	}
	if err := c.OptOut(ctx, "919876500001"); err != nil {
		t.Fatal(err)
	}
	ssCheckHeaders(t, wire.last(t), http.MethodPost, "/sm/api/v1/app/opt/out/"+ssApp)
	sim.Inbound(ssDest, "Asha", "hello")

	users, err := c.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x = wire.last(t)
	if x.Method != http.MethodGet || x.Path != "/sm/api/v1/users/"+ssApp || x.Header.Get("apikey") != ssKey {
		t.Errorf("users request %s %s", x.Method, x.Path)
	}
	if len(users) != 2 {
		t.Fatalf("users %+v", users)
	}
	byPhone := map[string]gupshup.User{}
	for _, u := range users {
		byPhone[u.PhoneCode] = u
	}
	in, out := byPhone[ssDest], byPhone["919876500001"]
	if !in.OptedIn() || in.OptinStatus != "OPT_IN" || in.CountryCode != "91" || in.OptinSource != "API" {
		t.Errorf("opted-in user %+v", in)
	}
	if in.OptinTime().Before(before) || in.LastMessage().Before(before) {
		t.Errorf("opted-in user times %v %v", in.OptinTime(), in.LastMessage())
	}
	if out.OptedIn() || out.OptinStatus != "OPT_OUT" || !out.LastMessage().IsZero() {
		t.Errorf("opted-out user %+v", out)
	}
	if n := len(sim.Sends()); n != 0 {
		t.Errorf("opt-in recorded %d sends", n)
	}
	if err := c.OptIn(ctx, "12"); !errors.As(err, new(*gupshup.ValidationError)) {
		t.Errorf("short number: %v", err)
	}
}

func TestSelfServeUsersShape(t *testing.T) {
	// The answer exactly as Gupshup documents it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","users":[{"countryCode":"91","lastMessageTimeStamp":0,"optinSource":"API","optinStatus":"OPT_IN","optinTimeStamp":1590000000000,"phoneCode":"919876543210"}]}`)
	}))
	defer srv.Close()
	users, err := gupshup.NewSelfServe(ssKey, ssApp, gupshup.WithBaseURL(srv.URL)).Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := gupshup.User{PhoneCode: ssDest, CountryCode: "91", OptinSource: "API", OptinStatus: "OPT_IN", OptinTimeStamp: 1590000000000}
	if len(users) != 1 || users[0] != want {
		t.Fatalf("users %+v", users)
	}
	if got := users[0].OptinTime(); !got.Equal(time.UnixMilli(1590000000000)) {
		t.Errorf("OptinTime %v", got)
	}
}

// ssReply is a canned answer of a plain test server.
func ssReply(status int, contentType, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestSelfServeSuccessShapes(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    gupshup.SendResult
	}{
		{"submitted as text/html", ssReply(200, "text/html", `{"status":"submitted","messageId":"ee4a68a0-1203-4c85-8dc3-49d0b3226a35"}`),
			gupshup.SendResult{MessageID: "ee4a68a0-1203-4c85-8dc3-49d0b3226a35", Status: "submitted"}},
		{"202 success", ssReply(202, "application/json", `{"status":"success","messageId":"0d3a4b2e-5d5f-4bd8-9a8d-7c1a0b8f2b11"}`),
			gupshup.SendResult{MessageID: "0d3a4b2e-5d5f-4bd8-9a8d-7c1a0b8f2b11", Status: "success"}},
		{"no content type, whitespace", ssReply(201, "", "\n {\"messageId\":\"m-1\",\"status\":\"submitted\"}\n"),
			gupshup.SendResult{MessageID: "m-1", Status: "submitted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := &ssWire{next: tt.handler}
			srv := httptest.NewServer(wire)
			defer srv.Close()
			c := gupshup.NewSelfServe(ssKey, ssApp, gupshup.WithBaseURL(srv.URL))
			got, err := c.SendTemplate(context.Background(), ssTemplate(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			ssCheckHeaders(t, wire.last(t), http.MethodPost, "/wa/api/v1/template/msg")
		})
	}
}

func TestSelfServeErrors(t *testing.T) {
	type want struct {
		status     int
		message    string
		code       int
		timeout    bool
		transport  bool
		retryAfter time.Duration
	}
	text := gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: gupshup.Text{Text: "hi"}}
	// Each case returns the client to use and how many sends to make; the
	// last send's error is checked.
	tests := []struct {
		name  string
		setup func(t *testing.T) (*gupshup.SelfServeClient, int)
		want  want
	}{
		{"wrong apikey", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithCredentials("another-key", ssApp)})
			return c, 1
		}, want{status: 401, message: "Authentication Failed"}},
		{"wrong app", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithCredentials(ssKey, "OtherApp")})
			return c, 1
		}, want{status: 400, message: "Invalid App Details"}},
		{"rate limited", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithRateLimit(1)})
			return c, 2
		}, want{status: 429, message: "Too Many Requests"}},
		{"fault 500", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithFaults(gupshuptest.Fault{Match: ssDest, HTTPStatus: 500})})
			return c, 1
		}, want{status: 500, message: "Internal Server Error"}},
		{"fault 503 with code", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithFaults(gupshuptest.Fault{Match: "9198*", HTTPStatus: 503, Code: 4002, Reason: "Invalid response from WhatsApp"})})
			return c, 1
		}, want{status: 503, message: "Invalid response from WhatsApp", code: 4002}},
		{"outage", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			sim, _, c := ssSim(t, nil)
			sim.StartOutage("5xx", time.Minute)
			return c, 1
		}, want{status: 503, message: "Service Unavailable"}},
		{"timeout", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithLatency(2 * time.Second)}, gupshup.WithTimeout(50*time.Millisecond))
			return c, 1
		}, want{timeout: true}},
		{"connection refused", func(t *testing.T) (*gupshup.SelfServeClient, int) {
			sim := gupshuptest.NewServer(gupshuptest.WithCredentials(ssKey, ssApp))
			sim.Close()
			return gupshup.NewSelfServe(ssKey, ssApp, gupshup.WithBaseURL(sim.URL)), 1
		}, want{transport: true}},
		{"2xx with status error", ssPlain(ssReply(200, "text/html", `{"status":"error","message":"Template Not Found"}`)),
			want{status: 200, message: "Template Not Found"}},
		{"2xx with status error and no text", ssPlain(ssReply(200, "text/html", `{"status":"error"}`)),
			want{status: 200, message: `answer says status "error"`}},
		{"2xx not JSON", ssPlain(ssReply(200, "text/html", `OK`)),
			want{status: 200, message: "answer is not JSON: OK"}},
		{"2xx without messageId", ssPlain(ssReply(200, "text/html", `{"status":"submitted"}`)),
			want{status: 200, message: `answer has no messageId: {"status":"submitted"}`}},
		{"invalid destination", ssPlain(ssReply(400, "application/json", `{"status":"error","message":"Invalid Destination"}`)),
			want{status: 400, message: "Invalid Destination"}},
		{"401 plain text", ssPlain(ssReply(401, "text/plain", "Authentication Failed\n")),
			want{status: 401, message: "Authentication Failed"}},
		{"429 with Retry-After", ssPlain(ssReply(429, "application/json", `{"status":"error","message":"Too Many Requests"}`, "Retry-After", "2")),
			want{status: 429, message: "Too Many Requests", retryAfter: 2 * time.Second}},
		{"code as number", ssPlain(ssReply(400, "application/json", `{"status":"error","message":"Template params mismatch","code":4003}`)),
			want{status: 400, message: "Template params mismatch", code: 4003}},
		{"code as string", ssPlain(ssReply(400, "application/json", `{"status":"error","message":"Paused template","code":"4005"}`)),
			want{status: 400, message: "Paused template", code: 4005}},
		{"message as object", ssPlain(ssReply(400, "application/json", `{"status":"error","message":{"code":1002,"message":"Number Does Not Exists On WhatsApp"}}`)),
			want{status: 400, message: "Number Does Not Exists On WhatsApp", code: 1002}},
		{"502 HTML", ssPlain(ssReply(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>")),
			want{status: 502, message: "Bad Gateway"}},
		{"key echoed back", ssPlain(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"status":"error","message":"bad key %s for app"}`, r.Header.Get("apikey"))
		}), want{status: 400, message: "bad key [redacted] for app"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, n := tt.setup(t)
			var err error
			for range n {
				_, err = c.Send(context.Background(), text)
			}
			var ge *gupshup.Error
			if !errors.As(err, &ge) {
				t.Fatalf("want *gupshup.Error, got %T %v", err, err)
			}
			got := want{ge.HTTPStatus, ge.Message, ge.Code, ge.Timeout, ge.Transport, ge.RetryAfter}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v\n(%v)", got, tt.want, err)
			}
			if ge.Family != gupshup.SelfServe || ge.Op != "send" {
				t.Errorf("family %q op %q", ge.Family, ge.Op)
			}
			if ge.Unknown() != (tt.want.timeout || tt.want.transport) {
				t.Errorf("Unknown() = %v", ge.Unknown())
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(s, ssKey) {
					t.Fatalf("the API key leaks: %s", s)
				}
			}
		})
	}
}

func ssPlain(h http.HandlerFunc) func(t *testing.T) (*gupshup.SelfServeClient, int) {
	return func(t *testing.T) (*gupshup.SelfServeClient, int) {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return gupshup.NewSelfServe(ssKey, ssApp, gupshup.WithBaseURL(srv.URL)), 1
	}
}

func TestSelfServeOtherCallsFail(t *testing.T) {
	_, _, c := ssSim(t, []gupshuptest.Option{gupshuptest.WithCredentials("another-key", ssApp)})
	ctx := context.Background()
	calls := map[string]func() error{
		"optin":    func() error { return c.OptIn(ctx, ssDest) },
		"optout":   func() error { return c.OptOut(ctx, ssDest) },
		"users":    func() error { _, err := c.Users(ctx); return err },
		"template": func() error { _, err := c.SendTemplate(ctx, ssTemplate(nil)); return err },
	}
	for op, call := range calls {
		ge, ok := gupshup.AsError(call())
		if !ok || ge.Op != op || ge.HTTPStatus != 401 || ge.Message != "Authentication Failed" {
			t.Errorf("%s: %v", op, ge)
		}
	}
	_, _, wrongApp := ssSim(t, []gupshuptest.Option{gupshuptest.WithCredentials(ssKey, "OtherApp")})
	if _, err := wrongApp.Users(ctx); err == nil || !strings.Contains(err.Error(), "Invalid App Details") {
		t.Errorf("users of another app: %v", err)
	}
}

func TestSelfServeRefusesBeforeSending(t *testing.T) {
	sim, wire, c := ssSim(t, nil)
	ctx := context.Background()
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"bad destination", func() error {
			_, err := c.Send(ctx, gupshup.SessionMessage{Source: ssSource, Destination: "98765", Message: gupshup.Text{Text: "hi"}})
			return err
		}, "destination"},
		{"bad message", func() error {
			_, err := c.Send(ctx, gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: gupshup.List{Body: "b"}})
			return err
		}, "message.globalButtons"},
		{"empty param", func() error {
			_, err := c.SendTemplate(ctx, ssTemplate(func(m *gupshup.TemplateMessage) { m.Params[1] = "" }))
			return err
		}, "template.params[1]"},
		{"no key", func() error {
			_, err := gupshup.NewSelfServe("", ssApp).Send(ctx, gupshup.SessionMessage{})
			return err
		}, "apikey"},
		{"no app", func() error {
			_, err := gupshup.NewSelfServe(ssKey, "").SendTemplate(ctx, gupshup.TemplateMessage{})
			return err
		}, "src.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { ssExpectField(t, tt.call(), tt.field) })
	}
	if wire.count() != 0 || len(sim.Sends()) != 0 {
		t.Fatalf("%d requests reached the server", wire.count())
	}
}

func TestSelfServeClientHidesKey(t *testing.T) {
	c := gupshup.NewSelfServe(ssKey, ssApp)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, ssKey) {
			t.Fatalf("printing the client shows the key: %s", s)
		}
	}
}

// The JSON the client writes must decode into what the simulator records
// as the message kind, for every type: a cheap cross-check of both sides.
func TestSelfServeKindsAgree(t *testing.T) {
	sim, _, c := ssSim(t, nil)
	for _, tt := range ssWireCases {
		if _, err := c.Send(context.Background(), gupshup.SessionMessage{Source: ssSource, Destination: ssDest, Message: tt.msg}); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		rec := ssLastSend(t, sim)
		m, err := gupshup.DecodeMessage([]byte(rec.Payload["message"]))
		if err != nil || m.MessageType() != rec.Kind {
			t.Fatalf("%s: decoded %v (%v), recorded kind %q", tt.name, m, err, rec.Kind)
		}
		var generic map[string]any
		if err := json.Unmarshal([]byte(rec.Payload["message"]), &generic); err != nil || generic["type"] != rec.Kind {
			t.Fatalf("%s: %v", tt.name, generic)
		}
	}
}

package gupshup_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

func partnerCreds(s *gupshuptest.Server) gupshup.PartnerCredentials {
	c := s.Config()
	return gupshup.PartnerCredentials{Email: c.PartnerEmail, Password: c.PartnerPassword}
}

func newPartnerClient(s *gupshuptest.Server, opts ...gupshup.Option) *gupshup.PartnerClient {
	opts = append([]gupshup.Option{gupshup.WithBaseURL(s.URL), gupshup.WithTimeout(5 * time.Second)}, opts...)
	return gupshup.NewPartner(s.Config().PartnerAppID, partnerCreds(s), opts...)
}

func partnerCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func textTo(to string) gupshup.MetaMessage {
	return gupshup.MetaMessage{To: to, Text: &gupshup.MetaText{Body: "hello"}}
}

func wantAuthCalls(t *testing.T, s *gupshuptest.Server, logins, tokens int64) {
	t.Helper()
	l, k := s.PartnerAuthCalls()
	if l != logins || k != tokens {
		t.Errorf("%d logins and %d token calls, want %d and %d", l, k, logins, tokens)
	}
}

func TestPartnerTokenCached(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	p := newPartnerClient(s)
	ctx := partnerCtx(t)
	for i := 0; i < 5; i++ {
		res, err := p.Send(ctx, textTo("919970012345"))
		if err != nil {
			t.Fatal(err)
		}
		if res.MessageID == "" || res.WaID != "919970012345" || res.Status != "accepted" {
			t.Fatalf("result %+v", res)
		}
	}
	wantAuthCalls(t, s, 1, 1)
}

func TestPartnerConcurrentCallersShareOneRefresh(t *testing.T) {
	// Latency keeps the first fetch in flight while every caller arrives.
	s := gupshuptest.NewServer(gupshuptest.WithLatency(30 * time.Millisecond))
	defer s.Close()
	p := newPartnerClient(s)
	ctx := partnerCtx(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
				failed.Add(1)
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if failed.Load() == 0 && len(s.Sends()) != 64 {
		t.Errorf("%d sends recorded", len(s.Sends()))
	}
	wantAuthCalls(t, s, 1, 1)
}

// A waiter that gives up does not cancel the fetch for the others.
func TestPartnerRefreshOutlivesAWaiter(t *testing.T) {
	s := gupshuptest.NewServer(gupshuptest.WithLatency(100 * time.Millisecond))
	defer s.Close()
	p := newPartnerClient(s)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Send(short, textTo("919970012345"))
	if ge, ok := gupshup.AsError(err); !ok || !ge.Timeout || ge.Op != "token" {
		t.Fatalf("impatient caller: %v", err)
	}
	if _, err := p.Send(partnerCtx(t), textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	wantAuthCalls(t, s, 1, 1)
}

func TestPartnerTokenExpiresWithShortTTL(t *testing.T) {
	s := gupshuptest.NewServer(func(c *gupshuptest.Config) { c.TokenTTL = gupshuptest.D(300 * time.Millisecond) })
	defer s.Close()
	p := newPartnerClient(s)
	ctx := partnerCtx(t)
	if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	// The app token was renewed before use; the partner token, which the
	// client takes to last 24 h, was refused once and renewed by a login.
	wantAuthCalls(t, s, 2, 3)
	if n := len(s.Rejections()); n != 0 {
		t.Errorf("%d sends refused: the expired app token was used", n)
	}
}

func TestPartnerTokenExpiresWithClock(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	p := newPartnerClient(s, gupshup.PartnerTestClock(clock))
	ctx := partnerCtx(t)
	steps := []struct {
		advance        time.Duration
		logins, tokens int64
	}{
		{0, 1, 1},
		{23 * time.Hour, 1, 1},
		{2 * time.Hour, 2, 2}, // both tokens past their day
		{time.Hour, 2, 2},     // and the new app token is good for another day
	}
	for i, st := range steps {
		advance(st.advance)
		if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		l, k := s.PartnerAuthCalls()
		if l != st.logins || k != st.tokens {
			t.Fatalf("step %d: %d logins, %d token calls; want %d, %d", i, l, k, st.logins, st.tokens)
		}
	}
}

func TestPartnerRefreshOn401(t *testing.T) {
	cases := []struct {
		name           string
		revoke         func(*gupshuptest.Server)
		logins, tokens int64
	}{
		{"app token revoked", func(s *gupshuptest.Server) { s.RevokeAppTokens() }, 1, 2},
		{"both tokens revoked", func(s *gupshuptest.Server) { s.RevokeAppTokens(); s.RevokePartnerTokens() }, 2, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := gupshuptest.NewServer()
			defer s.Close()
			p := newPartnerClient(s)
			ctx := partnerCtx(t)
			if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
				t.Fatal(err)
			}
			c.revoke(s)
			if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
				t.Fatal(err)
			}
			wantAuthCalls(t, s, c.logins, c.tokens)
			if n := len(s.Sends()); n != 2 {
				t.Errorf("%d sends", n)
			}
		})
	}
}

func TestPartnerFixedAppToken(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	ctx := partnerCtx(t)
	// Have the simulator issue a token, as an account manager would.
	if _, err := newPartnerClient(s).Send(ctx, textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	tok := issuedAppToken(t, s)
	p := gupshup.NewPartner(s.Config().PartnerAppID, gupshup.PartnerCredentials{AppToken: tok}, gupshup.WithBaseURL(s.URL))
	if _, err := p.Send(ctx, textTo("919970012346")); err != nil {
		t.Fatal(err)
	}
	s.RevokeAppTokens()
	_, err := p.Send(ctx, textTo("919970012346"))
	ge, ok := gupshup.AsError(err)
	if !ok || ge.HTTPStatus != 401 || ge.Op != "send" {
		t.Fatalf("got %v, want a 401 send error", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("error shows the token: %v", err)
	}
	// The first client's calls and issuedAppToken's; none from the fixed one.
	wantAuthCalls(t, s, 2, 2)
}

// issuedAppToken logs in and reads the app token the simulator hands out.
func issuedAppToken(t *testing.T, s *gupshuptest.Server) string {
	t.Helper()
	c := s.Config()
	resp, err := http.PostForm(s.URL+"/partner/account/login", map[string][]string{"email": {c.PartnerEmail}, "password": {c.PartnerPassword}})
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", s.URL+"/partner/app/"+c.PartnerAppID+"/token/", nil)
	req.Header.Set("token", login.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token struct{ Token string } }
	json.NewDecoder(resp.Body).Decode(&out)
	if out.Token.Token == "" {
		t.Fatal("no app token")
	}
	return out.Token.Token
}

func TestPartnerClientKeepsUnderTheTokenLimit(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := newPartnerClient(s, gupshup.PartnerTestClock(clock))
	ctx := partnerCtx(t)
	// One login and nine token calls use up the ten a minute.
	for i := 0; i < 9; i++ {
		if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		s.RevokeAppTokens()
	}
	wantAuthCalls(t, s, 1, 9)
	_, err := p.Send(ctx, textTo("919970012345"))
	ge, ok := gupshup.AsError(err)
	if !ok || ge.HTTPStatus != 429 || ge.RetryAfter <= 0 || ge.RetryAfter > time.Minute {
		t.Fatalf("got %v, want a local 429 with RetryAfter", err)
	}
	wantAuthCalls(t, s, 1, 9)
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
		t.Fatalf("after a minute: %v", err)
	}
}

func TestPartnerLogin(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	good := partnerCreds(s)
	cases := []struct {
		name   string
		creds  gupshup.PartnerCredentials
		status int // 0: the send goes through
	}{
		{"password", good, 0},
		{"client secret", gupshup.PartnerCredentials{Email: good.Email, Secret: good.Password}, 0},
		{"wrong password", gupshup.PartnerCredentials{Email: good.Email, Password: "wrong-password-123"}, 401},
		{"wrong secret", gupshup.PartnerCredentials{Email: good.Email, Secret: "wrong-secret-456"}, 401},
		{"wrong email", gupshup.PartnerCredentials{Email: "nobody@example.com", Password: good.Password}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := gupshup.NewPartner(s.Config().PartnerAppID, c.creds, gupshup.WithBaseURL(s.URL))
			_, err := p.Send(partnerCtx(t), textTo("919970012345"))
			if c.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ge, ok := gupshup.AsError(err)
			if !ok || ge.Op != "login" || ge.HTTPStatus != c.status || ge.Message == "" {
				t.Fatalf("got %v", err)
			}
			for _, secret := range []string{c.creds.Password, c.creds.Secret} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the password: %v", err)
				}
			}
		})
	}
}

// sentObject is the JSON object of the message type as the simulator recorded it.
func sentObject(t *testing.T, s *gupshuptest.Server, id string) (gupshuptest.Send, any) {
	t.Helper()
	for _, x := range s.Sends() {
		if x.MessageID == id {
			var v any
			if err := json.Unmarshal([]byte(x.Payload[x.Kind]), &v); err != nil {
				t.Fatalf("recorded %s is not JSON: %q", x.Kind, x.Payload[x.Kind])
			}
			return x, v
		}
	}
	t.Fatalf("send %s not recorded", id)
	return gupshuptest.Send{}, nil
}

func metaObject(m gupshup.MetaMessage) any {
	b, _ := json.Marshal(m)
	var all map[string]any
	json.Unmarshal(b, &all)
	return all[all["type"].(string)]
}

func TestPartnerSendEveryType(t *testing.T) {
	for _, form := range []bool{false, true} {
		name := "JSON"
		opts := []gupshup.Option{}
		if form {
			name = "form"
			opts = append(opts, gupshup.WithPartnerForm())
		}
		t.Run(name, func(t *testing.T) {
			s := gupshuptest.NewServer(func(c *gupshuptest.Config) { c.Source = "918375031069" })
			defer s.Close()
			p := newPartnerClient(s, opts...)
			ctx := partnerCtx(t)
			flowID := publishedFlow(t, p)
			samples := metaSamples()
			samples["interactive flow"].Interactive.Action.Parameters.FlowID = flowID
			i := 0
			for name, m := range samples {
				i++
				to := "9199700" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "345"
				m.To = "+" + to
				res, err := p.Send(ctx, m)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if res.WaID != to {
					t.Errorf("%s: wa_id %q, want %q", name, res.WaID, to)
				}
				x, got := sentObject(t, s, res.MessageID)
				kind := strings.Fields(name)[0]
				if x.Family != "partner" || x.Kind != kind || x.Destination != to || x.Source != "918375031069" {
					t.Errorf("%s: recorded %+v", name, x)
				}
				if kind == "template" && x.TemplateID != m.Template.Name {
					t.Errorf("%s: template id %q", name, x.TemplateID)
				}
				for k, v := range map[string]string{"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind} {
					if x.Payload[k] != v {
						t.Errorf("%s: payload %s = %q, want %q", name, k, x.Payload[k], v)
					}
				}
				if want := metaObject(m); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: recorded %s\n got %v\nwant %v", name, kind, got, want)
				}
				if m.Context != nil {
					var c map[string]any
					json.Unmarshal([]byte(x.Payload["context"]), &c)
					if c["message_id"] != m.Context.MessageID {
						t.Errorf("%s: context recorded as %q", name, x.Payload["context"])
					}
				} else if _, has := x.Payload["context"]; has {
					t.Errorf("%s: context sent without being asked for", name)
				}
			}
		})
	}
}

func TestPartnerSendValidatesFirst(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	p := newPartnerClient(s)
	_, err := p.Send(partnerCtx(t), gupshup.MetaMessage{To: "919970012345", Text: &gupshup.MetaText{}})
	var ve *gupshup.ValidationError
	if !errors.As(err, &ve) || ve.Field != "text.body" {
		t.Fatalf("got %v", err)
	}
	wantAuthCalls(t, s, 0, 0)
}

// publishedFlow creates a flow, gives it JSON and publishes it.
func publishedFlow(t *testing.T, p *gupshup.PartnerClient) string {
	t.Helper()
	ctx := partnerCtx(t)
	f, err := p.CreateFlow(ctx, gupshup.FlowSpec{Name: "welcome-" + time.Now().Format("150405.000000"), Categories: []string{"SIGN_UP"}})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := p.UpdateFlowJSON(ctx, f.ID, []byte(goodFlowJSON)); err != nil || len(problems) != 0 {
		t.Fatalf("upload: %v %v", problems, err)
	}
	if err := p.PublishFlow(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	return f.ID
}

const goodFlowJSON = `{"version":"5.0","screens":[{"id":"WELCOME","title":"Welcome","terminal":true,"layout":{"type":"SingleColumnLayout","children":[{"type":"TextHeading","text":"Hello"}]}}]}`

// partnerFake is a partner API whose send answer a test sets.
type partnerFake struct {
	*httptest.Server
	tokenCalls atomic.Int32
	sends      atomic.Int32
	answer     func(w http.ResponseWriter)
}

func newPartnerFake(answer func(w http.ResponseWriter)) *partnerFake {
	f := &partnerFake{answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /partner/account/login", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"token":"partner-secret-token"}`)
	})
	mux.HandleFunc("GET /partner/app/{app}/token/", func(w http.ResponseWriter, r *http.Request) {
		f.tokenCalls.Add(1)
		io.WriteString(w, `{"status":"success","token":{"token":"sk_app-secret-token","expiresOn":0,"active":true}}`)
	})
	mux.HandleFunc("POST /partner/app/{app}/v3/message", func(w http.ResponseWriter, r *http.Request) {
		f.sends.Add(1)
		f.answer(w)
	})
	f.Server = httptest.NewServer(mux)
	return f
}

func fixed(status int, header map[string]string, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestPartnerErrorShapes(t *testing.T) {
	cases := []struct {
		name       string
		answer     func(w http.ResponseWriter)
		status     int
		code       int
		message    string // contained in Message
		retryAfter time.Duration
		sends      int32
	}{
		{"Meta error with code", fixed(400, nil, `{"error":{"message":"(#131009) Parameter value is not valid","type":"OAuthException","code":131009,"error_data":{"messaging_product":"whatsapp","details":"Parameter 'to' is not valid"},"fbtrace_id":"Ax"}}`),
			400, 131009, "(#131009) Parameter value is not valid: Parameter 'to' is not valid", 0, 1},
		{"Gupshup error", fixed(400, nil, `{"status":"error","message":"Invalid Destination"}`), 400, 0, "Invalid Destination", 0, 1},
		{"both shapes, Meta wins", fixed(400, nil, `{"status":"error","message":"Bad Request","error":{"code":131026,"message":"Message undeliverable"}}`), 400, 131026, "Message undeliverable", 0, 1},
		{"code as a string, Retry-After", fixed(429, map[string]string{"Retry-After": "7"}, `{"error":{"code":"130429","message":"(#130429) Rate limit hit"}}`), 429, 130429, "Rate limit hit", 7 * time.Second, 1},
		{"HTML from a proxy", fixed(503, map[string]string{"Content-Type": "text/html"}, `<html><body>503</body></html>`), 503, 0, "", 0, 1},
		{"error in a 200", fixed(200, nil, `{"status":"error","message":"Wallet balance low"}`), 200, 0, "Wallet balance low", 0, 1},
		{"200 without id", fixed(200, nil, `{"messages":[],"messaging_product":"whatsapp"}`), 200, 0, "no message id", 0, 1},
		{"401 twice", fixed(401, nil, `{"status":"error","message":"Authentication Failed"}`), 401, 0, "Authentication Failed", 0, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPartnerFake(c.answer)
			defer f.Close()
			p := gupshup.NewPartner("app-1", gupshup.PartnerCredentials{Email: "a@b.c", Password: "pw-secret"}, gupshup.WithBaseURL(f.URL))
			_, err := p.Send(partnerCtx(t), textTo("919970012345"))
			ge, ok := gupshup.AsError(err)
			if !ok {
				t.Fatalf("got %v, want *Error", err)
			}
			if ge.Family != gupshup.Partner || ge.Op != "send" || ge.HTTPStatus != c.status || ge.Code != c.code || !strings.Contains(ge.Message, c.message) || ge.RetryAfter != c.retryAfter {
				t.Errorf("got %+v", ge)
			}
			if c.message == "" && ge.Message != "" {
				t.Errorf("message %q from an HTML page", ge.Message)
			}
			if n := f.sends.Load(); n != c.sends {
				t.Errorf("%d send requests, want %d", n, c.sends)
			}
			for _, secret := range []string{"pw-secret", "partner-secret-token", "sk_app-secret-token"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}

func TestPartnerServiceErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*gupshuptest.Server)
		opts  []gupshuptest.Option
		check func(*gupshup.Error) bool
	}{
		{"429 over the rate", nil, []gupshuptest.Option{gupshuptest.WithRateLimit(0.001)},
			func(e *gupshup.Error) bool {
				return e.HTTPStatus == 429 && e.Code == 130429 && e.RetryAfter == time.Second
			}},
		{"503 outage", func(s *gupshuptest.Server) { s.StartOutage("5xx", time.Minute) }, nil,
			func(e *gupshup.Error) bool { return e.HTTPStatus == 503 && e.Message == "" }},
		{"timeout", func(s *gupshuptest.Server) { s.StartOutage("hang", time.Minute) }, nil,
			func(e *gupshup.Error) bool { return e.Timeout && e.Unknown() && e.HTTPStatus == 0 }},
		{"400 from Meta", nil, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := gupshuptest.NewServer(c.opts...)
			defer s.Close()
			p := newPartnerClient(s, gupshup.WithTimeout(300*time.Millisecond))
			ctx := partnerCtx(t)
			if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
				t.Fatal(err)
			}
			msg := textTo("919970012345")
			if c.setup != nil {
				c.setup(s)
			} else if c.check == nil {
				// A flow that does not exist: valid here, refused by Meta.
				msg = metaSamples()["interactive flow"]
				c.check = func(e *gupshup.Error) bool {
					return e.HTTPStatus == 400 && e.Code == 131009 && strings.Contains(e.Message, "flow_id")
				}
			}
			_, err := p.Send(ctx, msg)
			ge, ok := gupshup.AsError(err)
			if !ok || ge.Op != "send" || !c.check(ge) {
				t.Fatalf("got %#v", err)
			}
		})
	}
}

func TestPartnerTransportError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := gupshup.NewPartner("app-1", gupshup.PartnerCredentials{AppToken: "sk_fixed-secret"}, gupshup.WithBaseURL("http://"+addr))
	_, err = p.Send(partnerCtx(t), textTo("919970012345"))
	ge, ok := gupshup.AsError(err)
	if !ok || !ge.Transport || ge.Op != "send" || !ge.Unknown() {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "sk_fixed-secret") {
		t.Errorf("error shows the token: %v", err)
	}
}

// partnerHook collects callbacks.
type partnerHook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newPartnerHook() *partnerHook {
	h := &partnerHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
	}))
	return h
}

func (h *partnerHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.bodies
	h.bodies = nil
	return out
}

// v3Statuses pulls the statuses out of v3 callback bodies.
func v3Statuses(t *testing.T, bodies []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, b := range bodies {
		var env struct {
			Object string
			Entry  []struct {
				Changes []struct {
					Value struct {
						Statuses []map[string]any
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(b), &env); err != nil || env.Object != "whatsapp_business_account" {
			t.Fatalf("not a v3 callback: %s", b)
		}
		for _, e := range env.Entry {
			for _, c := range e.Changes {
				out = append(out, c.Value.Statuses...)
			}
		}
	}
	return out
}

func TestPartnerSubscriptions(t *testing.T) {
	s := gupshuptest.NewServer(gupshuptest.WithCallbackDelays(time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 4*time.Millisecond))
	defer s.Close()
	p := newPartnerClient(s)
	ctx := partnerCtx(t)
	hook, hook2 := newPartnerHook(), newPartnerHook()
	defer hook.Close()
	defer hook2.Close()
	settle := func() {
		if err := s.WaitCallbacks(ctx); err != nil {
			t.Fatal(err)
		}
	}

	bad := []struct {
		sub   gupshup.Subscription
		field string
	}{
		{gupshup.Subscription{Tag: "t", URL: hook.URL, Version: 3}, "modes"},
		{gupshup.Subscription{Modes: []string{"SENT", "TEMPLATE"}, Tag: "t", URL: hook.URL, Version: 3}, "modes"},
		{gupshup.Subscription{Modes: []string{"SENT"}, URL: hook.URL, Version: 3}, "tag"},
		{gupshup.Subscription{Modes: []string{"SENT"}, Tag: "t", URL: "hook", Version: 3}, "url"},
		{gupshup.Subscription{Modes: []string{"SENT"}, Tag: "t", URL: hook.URL, Version: 4}, "version"},
	}
	for _, c := range bad {
		_, err := p.SetSubscription(ctx, c.sub)
		var ve *gupshup.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%+v: got %v, want a ValidationError on %s", c.sub, err, c.field)
		}
	}

	info, err := p.SetSubscription(ctx, gupshup.Subscription{
		Modes: []string{"SENT", "DELIVERED", "READ", "MESSAGE"}, Tag: "v3-hook", URL: hook.URL, Version: 3,
		Meta: map[string]string{"X-Hook-Key": "k1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID == "" || info.Tag != "v3-hook" || info.URL != hook.URL || info.Version != 3 || !info.Active ||
		!reflect.DeepEqual(info.Modes, []string{"SENT", "DELIVERED", "READ", "MESSAGE"}) || info.Mode == 0 ||
		!strings.Contains(info.Meta, "X-Hook-Key") || info.CreatedOn.IsZero() || info.AppID != p.AppID() {
		t.Fatalf("subscription %+v", info)
	}
	settle()
	probe := v3Statuses(t, hook.take())
	if len(probe) != 1 || probe[0]["type"] != "set-callback" {
		t.Fatalf("probe %v", probe)
	}

	res, err := p.Send(ctx, textTo("919970012345"))
	if err != nil {
		t.Fatal(err)
	}
	settle()
	var seen []string
	for _, st := range v3Statuses(t, hook.take()) {
		if st["gs_id"] != res.MessageID || st["recipient_id"] != "919970012345" {
			t.Errorf("status %v", st)
		}
		seen = append(seen, st["status"].(string))
	}
	// Callbacks are posted concurrently, so their order is not promised.
	slices.Sort(seen)
	if !reflect.DeepEqual(seen, []string{"delivered", "enqueued", "read", "sent"}) {
		t.Errorf("statuses %v", seen)
	}

	moved, err := p.UpdateSubscription(ctx, info.ID, gupshup.Subscription{URL: hook2.URL})
	if err != nil {
		t.Fatal(err)
	}
	if moved.ID != info.ID || moved.URL != hook2.URL || moved.Tag != "v3-hook" || moved.Version != 3 {
		t.Errorf("updated %+v", moved)
	}
	settle()
	if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	settle()
	if got := hook.take(); len(got) != 0 {
		t.Errorf("old URL still gets %d callbacks", len(got))
	}
	if got := v3Statuses(t, hook2.take()); len(got) != 5 || got[0]["type"] != "set-callback" {
		t.Errorf("new URL got %v", got)
	}

	v2, err := p.SetSubscription(ctx, gupshup.Subscription{Modes: []string{"ALL"}, Tag: "v2-hook", URL: hook.URL, Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.ListSubscriptions(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	got, err := p.GetSubscription(ctx, v2.ID)
	if err != nil || got.Version != 2 || got.Tag != "v2-hook" {
		t.Fatalf("get %+v %v", got, err)
	}
	if _, err := p.SetSubscription(ctx, gupshup.Subscription{Modes: []string{"ALL"}, Tag: "v2-hook", URL: hook.URL, Version: 2}); err == nil {
		t.Error("a second subscription with the same tag was accepted")
	}
	if err := p.DeleteSubscription(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	settle()
	hook.take()
	if _, err := p.Send(ctx, textTo("919970012345")); err != nil {
		t.Fatal(err)
	}
	settle()
	if got := hook2.take(); len(got) != 0 {
		t.Errorf("deleted subscription still gets %d callbacks", len(got))
	}
	for _, b := range hook.take() {
		if !strings.Contains(b, `"version":2`) || !strings.Contains(b, `"message-event"`) {
			t.Errorf("v2 subscription got %s", b)
		}
	}
	_, err = p.UpdateSubscription(ctx, "404404", gupshup.Subscription{Tag: "x"})
	if ge, ok := gupshup.AsError(err); !ok || ge.HTTPStatus != 404 || ge.Op != "subscription" {
		t.Errorf("update of an unknown id: %v", err)
	}
}

func TestPartnerFlows(t *testing.T) {
	s := gupshuptest.NewServer()
	defer s.Close()
	p := newPartnerClient(s)
	ctx := partnerCtx(t)
	wantStatus := func(id, status string) {
		t.Helper()
		f, err := p.GetFlow(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != status {
			t.Fatalf("flow is %s, want %s", f.Status, status)
		}
	}
	wantRefused := func(what string, err error, status int) {
		t.Helper()
		ge, ok := gupshup.AsError(err)
		if !ok || ge.HTTPStatus != status || ge.Op != "flow" || ge.Message == "" {
			t.Fatalf("%s: got %v, want HTTP %d", what, err, status)
		}
	}

	for _, spec := range []gupshup.FlowSpec{{Categories: []string{"OTHER"}}, {Name: "x"}} {
		var ve *gupshup.ValidationError
		if _, err := p.CreateFlow(ctx, spec); !errors.As(err, &ve) {
			t.Errorf("%+v: %v", spec, err)
		}
	}
	f, err := p.CreateFlow(ctx, gupshup.FlowSpec{Name: "signup", Categories: []string{"SIGN_UP", "OTHER"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == "" || f.Status != gupshup.FlowDraft || f.Name != "signup" {
		t.Fatalf("created %+v", f)
	}
	got, err := p.GetFlow(ctx, f.ID)
	if err != nil || got.Name != "signup" || !reflect.DeepEqual(got.Categories, []string{"SIGN_UP", "OTHER"}) || len(got.ValidationErrors) != 0 || got.PreviewURL == "" {
		t.Fatalf("get %+v %v", got, err)
	}
	list, err := p.ListFlows(ctx)
	if err != nil || len(list) != 1 || list[0].ID != f.ID {
		t.Fatalf("list %+v %v", list, err)
	}
	wantRefused("publish without JSON", p.PublishFlow(ctx, f.ID), 400)

	problems, err := p.UpdateFlowJSON(ctx, f.ID, []byte(`{"version":"5.0"}`))
	if err != nil || len(problems) == 0 || problems[0].Error != "MISSING_REQUIRED_PROPERTY" || problems[0].ErrorType != "FLOW_JSON_ERROR" {
		t.Fatalf("upload with problems: %+v %v", problems, err)
	}
	wantRefused("publish with problems", p.PublishFlow(ctx, f.ID), 400)
	var ve *gupshup.ValidationError
	if _, err := p.UpdateFlowJSON(ctx, f.ID, []byte(`{"version":`)); !errors.As(err, &ve) || ve.Field != "file" {
		t.Fatalf("upload of broken JSON: %v", err)
	}
	if problems, err := p.UpdateFlowJSON(ctx, f.ID, []byte(goodFlowJSON)); err != nil || len(problems) != 0 {
		t.Fatalf("upload: %+v %v", problems, err)
	}
	if got, _ := p.GetFlow(ctx, f.ID); got.JSONVersion != "5.0" || len(got.ValidationErrors) != 0 {
		t.Errorf("after upload %+v", got)
	}
	assets, err := p.GetFlowJSON(ctx, f.ID)
	if err != nil || len(assets) != 1 || assets[0].AssetType != "FLOW_JSON" || assets[0].Name != "flow.json" {
		t.Fatalf("assets %+v %v", assets, err)
	}
	resp, err := http.Get(assets[0].DownloadURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != goodFlowJSON {
		t.Errorf("downloaded %s", body)
	}
	pv, err := p.PreviewFlow(ctx, f.ID)
	if err != nil || pv.URL == "" || time.Until(pv.ExpiresAt) < 24*time.Hour {
		t.Errorf("preview %+v %v", pv, err)
	}
	if err := p.UpdateFlow(ctx, f.ID, gupshup.FlowSpec{Name: "signup-v2"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.GetFlow(ctx, f.ID); got.Name != "signup-v2" || len(got.Categories) != 2 {
		t.Errorf("after update %+v", got)
	}

	flowMsg := metaSamples()["interactive flow"]
	flowMsg.Interactive.Action.Parameters.FlowID = f.ID
	if _, err := p.Send(ctx, flowMsg); err == nil {
		t.Error("a draft flow was sent without mode draft")
	}
	if err := p.PublishFlow(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(f.ID, gupshup.FlowPublished)
	if _, err := p.Send(ctx, flowMsg); err != nil {
		t.Fatalf("send of the published flow: %v", err)
	}
	wantRefused("delete published", p.DeleteFlow(ctx, f.ID), 400)
	_, err = p.UpdateFlowJSON(ctx, f.ID, []byte(goodFlowJSON))
	wantRefused("new JSON for a published flow", err, 400)
	wantRefused("publish twice", p.PublishFlow(ctx, f.ID), 400)
	if err := p.DeprecateFlow(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	wantStatus(f.ID, gupshup.FlowDeprecated)
	wantRefused("deprecate twice", p.DeprecateFlow(ctx, f.ID), 400)
	if _, err := p.Send(ctx, flowMsg); err == nil {
		t.Error("a deprecated flow was sent")
	}

	d, err := p.CreateFlow(ctx, gupshup.FlowSpec{Name: "scratch", Categories: []string{"OTHER"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteFlow(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = p.GetFlow(ctx, d.ID)
	wantRefused("get deleted", err, 404)
	wantRefused("delete unknown", p.DeleteFlow(ctx, d.ID), 404)
	_, err = p.PreviewFlow(ctx, "1")
	wantRefused("preview unknown", err, 404)
}

package gupshup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

const (
	entUser     = "2000000001"
	entPassword = "sim-p@ss/w0rd?"
	// A printable key, so that a leak would be visible in an error string.
	entHexKey = "3031323334353637383961626364656630313233343536373839616263646566"
)

var entKey = []byte("0123456789abcdef0123456789abcdef")

// entWire is one request as it crossed the wire.
type entWire struct {
	method      string
	contentType string
	rawQuery    string
	body        string
	query       url.Values
	form        url.Values // the POST body
}

// entTap records every request before handing it to next.
type entTap struct {
	next http.Handler
	mu   sync.Mutex
	reqs []entWire
}

func (tp *entTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	tp.mu.Lock()
	tp.reqs = append(tp.reqs, entWire{
		method: r.Method, contentType: r.Header.Get("Content-Type"),
		rawQuery: r.URL.RawQuery, body: string(body), query: r.URL.Query(), form: form,
	})
	tp.mu.Unlock()
	tp.next.ServeHTTP(w, r)
}

func (tp *entTap) last(t *testing.T) entWire {
	t.Helper()
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	return tp.reqs[len(tp.reqs)-1]
}

func (tp *entTap) count() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return len(tp.reqs)
}

// entSim starts the simulator behind a recording tap.
func entSim(t *testing.T, opts ...gupshuptest.Option) (*gupshuptest.Server, *entTap, string) {
	t.Helper()
	opts = append([]gupshuptest.Option{func(c *gupshuptest.Config) {
		c.EnterpriseUserID, c.EnterprisePassword = entUser, entPassword
	}}, opts...)
	sim := gupshuptest.NewServer(opts...)
	tap := &entTap{next: sim}
	front := httptest.NewServer(tap)
	t.Cleanup(func() { front.Close(); sim.Close() })
	return sim, tap, front.URL + gupshuptest.EnterprisePath
}

// entCanned serves one fixed answer and records what it got.
func entCanned(t *testing.T, status int, header http.Header, body string) (*entTap, string) {
	t.Helper()
	tap := &entTap{next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		maps.Copy(w.Header(), header)
		w.WriteHeader(status)
		io.WriteString(w, body)
	})}
	srv := httptest.NewServer(tap)
	t.Cleanup(srv.Close)
	return tap, srv.URL + gupshuptest.EnterprisePath
}

func entFlat(v url.Values) map[string]string {
	m := map[string]string{}
	for k, vs := range v {
		m[k] = vs[0]
	}
	return m
}

func TestEnterpriseCalls(t *testing.T) {
	const to = "+91 99999-00001"
	const dest = "919999900001"
	modes := []struct {
		name      string
		get, text bool
		encrypted bool
	}{
		{name: "POST json"},
		{name: "GET json", get: true},
		{name: "POST text", text: true},
		{name: "GET text", get: true, text: true},
		{name: "POST json encrypted", encrypted: true},
		{name: "GET text encrypted", get: true, text: true, encrypted: true},
	}
	type call struct {
		name string
		run  func(context.Context, *gupshup.EnterpriseClient) (gupshup.SendResult, error)
		kind string // recorded kind; "" for opt-in and opt-out, which are not sends
		want map[string]string
	}
	calls := []call{
		{
			name: "opt in",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return gupshup.SendResult{}, c.OptIn(ctx, to)
			},
			want: map[string]string{"method": "OPT_IN", "phone_number": dest},
		},
		{
			name: "text",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendText(ctx, gupshup.EnterpriseMessage{To: to, Text: "Your order shipped & is on its way"})
			},
			kind: "text",
			want: map[string]string{"method": "SendMessage", "send_to": dest, "msg": "Your order shipped & is on its way", "msg_type": "TEXT"},
		},
		{
			name: "unicode text",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendText(ctx, gupshup.EnterpriseMessage{To: to, Text: "आपका ऑर्डर ✓"})
			},
			kind: "text",
			want: map[string]string{"method": "SendMessage", "send_to": dest, "msg": "आपका ऑर्डर ✓", "msg_type": "TEXT", "data_encoding": "Unicode_text"},
		},
		{
			name: "template",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendTemplate(ctx, gupshup.EnterpriseTemplate{
					To: to, Text: "Hi Asha, your OTP is 4411.", Header: "Login", Footer: "Do not share it", ButtonURLParam: "t/4411?x=1",
				})
			},
			kind: "template",
			want: map[string]string{
				"method": "SendMessage", "send_to": dest, "msg": "Hi Asha, your OTP is 4411.", "msg_type": "HSM", "isTemplate": "true",
				"header": "Login", "footer": "Do not share it", "buttonUrlParam": "t/4411?x=1",
			},
		},
		{
			name: "image",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendMedia(ctx, gupshup.EnterpriseMedia{To: to, Type: gupshup.EnterpriseImage, URL: "https://cdn.example.com/a.jpg?s=1&t=2", Caption: "Your receipt"})
			},
			kind: "image",
			want: map[string]string{"method": "SendMediaMessage", "send_to": dest, "msg_type": "IMAGE", "media_url": "https://cdn.example.com/a.jpg?s=1&t=2", "caption": "Your receipt"},
		},
		{
			name: "document",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendMedia(ctx, gupshup.EnterpriseMedia{To: to, Type: "document", URL: "https://cdn.example.com/inv.pdf", Caption: "Invoice", Filename: "invoice-42.pdf"})
			},
			kind: "document",
			want: map[string]string{"method": "SendMediaMessage", "send_to": dest, "msg_type": "DOCUMENT", "media_url": "https://cdn.example.com/inv.pdf", "caption": "Invoice", "filename": "invoice-42.pdf"},
		},
		{
			name: "video",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendMedia(ctx, gupshup.EnterpriseMedia{To: to, Type: gupshup.EnterpriseVideo, URL: "http://cdn.example.com/v.mp4"})
			},
			kind: "video",
			want: map[string]string{"method": "SendMediaMessage", "send_to": dest, "msg_type": "VIDEO", "media_url": "http://cdn.example.com/v.mp4"},
		},
		{
			name: "audio",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendMedia(ctx, gupshup.EnterpriseMedia{To: to, Type: gupshup.EnterpriseAudio, URL: "https://cdn.example.com/a.ogg"})
			},
			kind: "audio",
			want: map[string]string{"method": "SendMediaMessage", "send_to": dest, "msg_type": "AUDIO", "media_url": "https://cdn.example.com/a.ogg"},
		},
		{
			name: "media template",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return c.SendMedia(ctx, gupshup.EnterpriseMedia{
					To: to, Type: gupshup.EnterpriseImage, URL: "https://cdn.example.com/offer.png", Caption: "Sale ends Sunday – 20% off",
					Template: true, Footer: "Reply STOP to opt out", ButtonURLParam: "offer/77",
				})
			},
			kind: "template",
			want: map[string]string{
				"method": "SendMediaMessage", "send_to": dest, "msg_type": "IMAGE", "media_url": "https://cdn.example.com/offer.png",
				"caption": "Sale ends Sunday – 20% off", "isTemplate": "true", "footer": "Reply STOP to opt out", "buttonUrlParam": "offer/77",
				"data_encoding": "Unicode_text",
			},
		},
		{
			name: "opt out",
			run: func(ctx context.Context, c *gupshup.EnterpriseClient) (gupshup.SendResult, error) {
				return gupshup.SendResult{}, c.OptOut(ctx, to)
			},
			want: map[string]string{"method": "OPT_OUT", "phone_number": dest},
		},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var simOpts []gupshuptest.Option
			opts := []gupshup.Option{}
			if m.encrypted {
				simOpts = append(simOpts, gupshuptest.WithEnterpriseAESKey(entHexKey))
				opts = append(opts, gupshup.WithAESKey(entKey))
			}
			if m.get {
				opts = append(opts, gupshup.WithGET())
			}
			format := "json"
			if m.text {
				opts = append(opts, gupshup.WithTextFormat())
				format = "text"
			}
			sim, tap, base := entSim(t, simOpts...)
			c := gupshup.NewEnterprise(entUser, entPassword, append(opts, gupshup.WithBaseURL(base))...)
			ctx := context.Background()
			for _, cl := range calls {
				res, err := cl.run(ctx, c)
				if err != nil {
					t.Fatalf("%s: %v", cl.name, err)
				}
				wire := tap.last(t)
				entCheckWire(t, cl.name, wire, m.get, m.encrypted)

				want := map[string]string{"userid": entUser, "v": "1.1", "auth_scheme": "plain", "format": format, "channel": "WHATSAPP"}
				maps.Copy(want, cl.want)
				if cl.kind == "" {
					params := entFlat(wire.query)
					if !m.get {
						params = entFlat(wire.form)
					}
					if m.encrypted {
						dec, err := gupshup.DecryptParams(entKey, params["encrdata"])
						if err != nil {
							t.Fatalf("%s: %v", cl.name, err)
						}
						params = entFlat(dec)
						params["userid"] = entUser
					}
					want["password"] = entPassword
					entSameMap(t, cl.name, params, want)
					continue
				}
				sends := sim.Sends()
				got := sends[len(sends)-1]
				if res.MessageID == "" || res.MessageID != got.MessageID || res.Status != "success" {
					t.Errorf("%s: result %+v, recorded id %q", cl.name, res, got.MessageID)
				}
				if got.Family != "enterprise" || got.App != entUser || got.Destination != dest || got.Kind != cl.kind || got.Source != "" {
					t.Errorf("%s: recorded %+v", cl.name, got)
				}
				entSameMap(t, cl.name, got.Payload, want)
			}
			if sim.EnterpriseOptedIn(dest) {
				t.Error("still opted in after OPT_OUT")
			}
		})
	}
}

// entCheckWire asserts where the parameters travelled and that, encrypted,
// only userid and encrdata did.
func entCheckWire(t *testing.T, name string, w entWire, get, encrypted bool) {
	t.Helper()
	params := w.form
	if get {
		params = w.query
		if w.method != http.MethodGet || w.body != "" {
			t.Errorf("%s: %s with body %q, want GET with an empty body", name, w.method, w.body)
		}
	} else if w.method != http.MethodPost || w.rawQuery != "" || w.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("%s: %s %q query %q, want a POST form with no query", name, w.method, w.contentType, w.rawQuery)
	}
	if encrypted {
		keys := slices.Sorted(maps.Keys(params))
		if !slices.Equal(keys, []string{"encrdata", "userid"}) || params.Get("userid") != entUser {
			t.Errorf("%s: encrypted request carries %v, want only userid and encrdata", name, keys)
		}
		raw := w.rawQuery + w.body
		for _, leak := range []string{entPassword, url.QueryEscape(entPassword), "SendMessage", "919999900001"} {
			if strings.Contains(raw, leak) {
				t.Errorf("%s: %q is readable on the wire", name, leak)
			}
		}
	} else if params.Get("password") != entPassword {
		t.Errorf("%s: password not sent in the clear", name)
	}
}

func entSameMap(t *testing.T, name string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", name, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected parameter %s=%q", name, k, v)
		}
	}
}

func TestEnterpriseOptInState(t *testing.T) {
	sim, _, base := entSim(t)
	c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithBaseURL(base))
	ctx := context.Background()
	if err := c.OptIn(ctx, "919999900002"); err != nil {
		t.Fatal(err)
	}
	if !sim.EnterpriseOptedIn("919999900002") || sim.EnterpriseOptedIn("919999900003") {
		t.Fatal("opt-in state wrong after OPT_IN")
	}
	if len(sim.Sends()) != 0 {
		t.Fatal("an opt-in was recorded as a send")
	}
}

func TestEnterpriseValidation(t *testing.T) {
	good := gupshup.EnterpriseMedia{To: "919999900001", Type: gupshup.EnterpriseImage, URL: "https://cdn.example.com/a.jpg"}
	media := func(f func(*gupshup.EnterpriseMedia)) func(context.Context, *gupshup.EnterpriseClient) error {
		m := good
		f(&m)
		return func(ctx context.Context, c *gupshup.EnterpriseClient) error {
			_, err := c.SendMedia(ctx, m)
			return err
		}
	}
	text := func(to, msg string) func(context.Context, *gupshup.EnterpriseClient) error {
		return func(ctx context.Context, c *gupshup.EnterpriseClient) error {
			_, err := c.SendText(ctx, gupshup.EnterpriseMessage{To: to, Text: msg})
			return err
		}
	}
	tests := []struct {
		name   string
		user   string
		pass   string
		opts   []gupshup.Option
		run    func(context.Context, *gupshup.EnterpriseClient) error
		field  string
		noLeak string
	}{
		{name: "opt-in bad phone", run: func(ctx context.Context, c *gupshup.EnterpriseClient) error { return c.OptIn(ctx, "12ab") }, field: "phone_number"},
		{name: "opt-out empty phone", run: func(ctx context.Context, c *gupshup.EnterpriseClient) error { return c.OptOut(ctx, "") }, field: "phone_number"},
		{name: "text leading zero", run: text("09999900001", "hi"), field: "send_to"},
		{name: "text too short", run: text("12345", "hi"), field: "send_to"},
		{name: "text empty msg", run: text("919999900001", " \n"), field: "msg"},
		{name: "template empty msg", run: func(ctx context.Context, c *gupshup.EnterpriseClient) error {
			_, err := c.SendTemplate(ctx, gupshup.EnterpriseTemplate{To: "919999900001", Header: "h"})
			return err
		}, field: "msg"},
		{name: "template bad phone", run: func(ctx context.Context, c *gupshup.EnterpriseClient) error {
			_, err := c.SendTemplate(ctx, gupshup.EnterpriseTemplate{To: "x", Text: "t"})
			return err
		}, field: "send_to"},
		{name: "media bad phone", run: media(func(m *gupshup.EnterpriseMedia) { m.To = "" }), field: "send_to"},
		{name: "media no type", run: media(func(m *gupshup.EnterpriseMedia) { m.Type = "" }), field: "msg_type"},
		{name: "media sticker", run: media(func(m *gupshup.EnterpriseMedia) { m.Type = "STICKER" }), field: "msg_type"},
		{name: "media no url", run: media(func(m *gupshup.EnterpriseMedia) { m.URL = "" }), field: "media_url"},
		{name: "media relative url", run: media(func(m *gupshup.EnterpriseMedia) { m.URL = "/a.jpg" }), field: "media_url"},
		{name: "media ftp url", run: media(func(m *gupshup.EnterpriseMedia) { m.URL = "ftp://cdn.example.com/a.jpg" }), field: "media_url"},
		{name: "media no host", run: media(func(m *gupshup.EnterpriseMedia) { m.URL = "https:///a.jpg" }), field: "media_url"},
		{name: "document no filename", run: media(func(m *gupshup.EnterpriseMedia) { m.Type = gupshup.EnterpriseDocument }), field: "filename"},
		{name: "audio caption", run: media(func(m *gupshup.EnterpriseMedia) { m.Type = gupshup.EnterpriseAudio; m.Caption = "c" }), field: "caption"},
		{name: "media template no caption", run: media(func(m *gupshup.EnterpriseMedia) { m.Template = true }), field: "caption"},
		{name: "footer without template", run: media(func(m *gupshup.EnterpriseMedia) { m.Footer = "f" }), field: "isTemplate"},
		{name: "no userid", user: "-", run: text("919999900001", "hi"), field: "userid"},
		{name: "no password", pass: "-", run: text("919999900001", "hi"), field: "password"},
		{
			name: "short key", opts: []gupshup.Option{gupshup.WithAESKey(entKey[:16])},
			run: text("919999900001", "hi"), field: "encrdata", noLeak: string(entKey[:16]),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tap, base := entCanned(t, 200, nil, `{"response":{"id":"1","phone":"","details":"","status":"success"}}`)
			user, pass := entUser, entPassword
			if tt.user == "-" {
				user = ""
			}
			if tt.pass == "-" {
				pass = ""
			}
			c := gupshup.NewEnterprise(user, pass, append(tt.opts, gupshup.WithBaseURL(base))...)
			err := tt.run(context.Background(), c)
			var ve *gupshup.ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("got %v, want a ValidationError on %s", err, tt.field)
			}
			if tap.count() != 0 {
				t.Fatal("an invalid request was sent")
			}
			if strings.Contains(err.Error(), entPassword) || (tt.noLeak != "" && strings.Contains(err.Error(), tt.noLeak)) {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

// entWantErr is the *gupshup.Error a failing call must return.
type entWantErr struct {
	status     int
	code       int
	msg        string // substring of Message
	timeout    bool
	transport  bool
	retryAfter time.Duration
}

func entCheckErr(t *testing.T, err error, want entWantErr) {
	t.Helper()
	ge, ok := gupshup.AsError(err)
	if !ok {
		t.Fatalf("got %T %v, want *gupshup.Error", err, err)
	}
	if ge.Family != gupshup.Enterprise || ge.HTTPStatus != want.status || ge.Code != want.code ||
		ge.Timeout != want.timeout || ge.Transport != want.transport || ge.RetryAfter != want.retryAfter ||
		!strings.Contains(ge.Message, want.msg) {
		t.Fatalf("got %+v (%v), want %+v", *ge, ge, want)
	}
	for _, secret := range []string{entPassword, url.QueryEscape(entPassword), string(entKey), entHexKey} {
		if strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprintf("%+v", ge), secret) {
			t.Fatalf("error leaks a secret: %v", err)
		}
	}
}

func TestEnterpriseSimulatorErrors(t *testing.T) {
	const dest = "919999900009"
	send := func(ctx context.Context, c *gupshup.EnterpriseClient) error {
		_, err := c.SendText(ctx, gupshup.EnterpriseMessage{To: dest, Text: "hi"})
		return err
	}
	tests := []struct {
		name     string
		sim      []gupshuptest.Option
		opts     []gupshup.Option
		password string
		before   func(*gupshuptest.Server)
		calls    int // sends before the one that must fail
		want     entWantErr
	}{
		{
			name: "auth json", password: "wrong-" + entPassword,
			want: entWantErr{status: 200, code: gupshup.EnterpriseCodeAuthFailed, msg: "Authentication failed"},
		},
		{
			name: "auth text", password: "wrong-" + entPassword, opts: []gupshup.Option{gupshup.WithTextFormat()},
			want: entWantErr{status: 200, code: gupshup.EnterpriseCodeAuthFailed, msg: "Authentication failed"},
		},
		{
			name: "auth encrypted GET", password: "wrong-" + entPassword,
			sim:  []gupshuptest.Option{gupshuptest.WithEnterpriseAESKey(entHexKey)},
			opts: []gupshup.Option{gupshup.WithAESKey(entKey), gupshup.WithGET()},
			want: entWantErr{status: 200, code: gupshup.EnterpriseCodeAuthFailed, msg: "Authentication failed"},
		},
		{
			name: "key mismatch",
			sim:  []gupshuptest.Option{gupshuptest.WithEnterpriseAESKey(strings.Repeat("ab", 32))},
			opts: []gupshup.Option{gupshup.WithAESKey(entKey)},
			want: entWantErr{status: 200, code: gupshup.EnterpriseCodeMissingParameter, msg: "encrdata"},
		},
		{
			name: "status error in 200",
			sim:  []gupshuptest.Option{gupshuptest.WithFaults(gupshuptest.Fault{Match: dest, HTTPStatus: 200, Code: 123, Reason: "Your account does not have sufficient credits | top up"})},
			want: entWantErr{status: 200, code: 123, msg: "sufficient credits | top up"},
		},
		{
			name: "status error in 200, text", opts: []gupshup.Option{gupshup.WithTextFormat()},
			sim:  []gupshuptest.Option{gupshuptest.WithFaults(gupshuptest.Fault{Match: dest, HTTPStatus: 200, Code: 123, Reason: "Your account does not have sufficient credits | top up"})},
			want: entWantErr{status: 200, code: 123, msg: "sufficient credits | top up"},
		},
		{
			name: "rate limit", sim: []gupshuptest.Option{gupshuptest.WithRateLimit(0.001)}, calls: 1,
			want: entWantErr{status: 429, msg: "Too Many Requests"},
		},
		{
			name:   "outage",
			before: func(s *gupshuptest.Server) { s.StartOutage("5xx", time.Minute) },
			want:   entWantErr{status: 503},
		},
		{
			name:   "timeout",
			before: func(s *gupshuptest.Server) { s.StartOutage("hang", time.Minute) },
			opts:   []gupshup.Option{gupshup.WithTimeout(100 * time.Millisecond), gupshup.WithGET()},
			want:   entWantErr{timeout: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, base := entSim(t, tt.sim...)
			if tt.before != nil {
				tt.before(sim)
				t.Cleanup(sim.EndOutages)
			}
			pass := entPassword
			if tt.password != "" {
				pass = tt.password
			}
			c := gupshup.NewEnterprise(entUser, pass, append(tt.opts, gupshup.WithBaseURL(base))...)
			ctx := context.Background()
			for i := 0; i < tt.calls; i++ {
				if err := send(ctx, c); err != nil {
					t.Fatalf("send %d: %v", i+1, err)
				}
			}
			err := send(ctx, c)
			entCheckErr(t, err, tt.want)
			if strings.Contains(err.Error(), pass) {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestEnterpriseTransportErrorKeepsSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + gupshuptest.EnterprisePath
	ln.Close()
	for _, opts := range [][]gupshup.Option{
		{gupshup.WithGET()},
		{gupshup.WithGET(), gupshup.WithAESKey(entKey)},
		{},
	} {
		c := gupshup.NewEnterprise(entUser, entPassword, append(opts, gupshup.WithBaseURL(base))...)
		err := c.OptIn(context.Background(), "919999900001")
		entCheckErr(t, err, entWantErr{transport: true})
	}
}

func TestEnterpriseAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		wantID string
		want   *entWantErr
	}{
		{name: "json success", status: 200, body: `{"response":{"id":"4340692475342673000-32839","phone":"919999900001","details":"","status":"success"}}`, wantID: "4340692475342673000-32839"},
		{name: "json numeric id", status: 200, body: `{"response":{"id":4340692475342673000,"phone":919999900001,"details":null,"status":"SUCCESS"}}`, wantID: "4340692475342673000"},
		{name: "json list", status: 200, body: `{"response":[{"id":"a1","phone":"919999900001","details":"","status":"success"}]}`, wantID: "a1"},
		{name: "text success", status: 200, body: "success | 919999900001 | 4340692475342673000-32839\n", wantID: "4340692475342673000-32839"},
		{name: "text success tight", status: 200, body: "success|919999900001|id-7", wantID: "id-7"},
		{name: "text success loose", status: 200, header: http.Header{"Content-Type": {"text/html"}}, body: "  Success  |   919999900001   |   id-8   \r\n", wantID: "id-8"},
		{
			name: "json error in 200", status: 200, body: `{"response":{"id":"105","phone":"","details":"The phone number \"1\" is not a valid phone number.","status":"error"}}`,
			want: &entWantErr{status: 200, code: 105, msg: "not a valid phone number"},
		},
		{
			name: "text error in 200", status: 200, body: "error | 106 | The method \"SENDMESSAGE\" is not supported.",
			want: &entWantErr{status: 200, code: 106, msg: "is not supported"},
		},
		{
			name: "text error tight", status: 200, body: "error|175|The \"INTERNATIONAL_PHONE\" service is disabled for you.",
			want: &entWantErr{status: 200, code: 175, msg: "INTERNATIONAL_PHONE"},
		},
		{
			name: "auth 401 json", status: 401, body: `{"response":{"id":"102","phone":"","details":"Authentication failed due to invalid userId or password.","status":"error"}}`,
			want: &entWantErr{status: 401, code: 102, msg: "Authentication failed"},
		},
		{
			name: "auth 401 text", status: 401, body: "error | 102 | Authentication failed due to invalid userId or password.",
			want: &entWantErr{status: 401, code: 102, msg: "Authentication failed"},
		},
		{
			name: "429 with Retry-After", status: 429, header: http.Header{"Retry-After": {"7"}}, body: "Too Many Requests",
			want: &entWantErr{status: 429, msg: "Too Many Requests", retryAfter: 7 * time.Second},
		},
		{
			name: "502 html", status: 502, body: "<html><body>Bad Gateway</body></html>",
			want: &entWantErr{status: 502},
		},
		{
			name: "500 json error", status: 500, body: `{"response":{"id":"100","phone":"","details":"An unknown exception has occurred.","status":"error"}}`,
			want: &entWantErr{status: 500, code: 100, msg: "unknown exception"},
		},
		{
			name: "success without id", status: 200, body: `{"response":{"id":"","phone":"919999900001","details":"","status":"success"}}`,
			want: &entWantErr{status: 200, msg: "without a message id"},
		},
		{
			name: "unrecognised 200", status: 200, body: "OK",
			want: &entWantErr{status: 200, msg: "unrecognised answer: OK"},
		},
		{
			name: "echoed password", status: 200, body: "Bad request: password=" + url.QueryEscape(entPassword) + "&userid=" + entUser,
			want: &entWantErr{status: 200, msg: "password=***"},
		},
		{
			name: "success with 503", status: 503, body: `{"response":{"id":"x","phone":"","details":"","status":"success"}}`,
			want: &entWantErr{status: 503},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := entCanned(t, tt.status, tt.header, tt.body)
			c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithBaseURL(base), gupshup.WithGET())
			res, err := c.SendText(context.Background(), gupshup.EnterpriseMessage{To: "919999900001", Text: "hi"})
			if tt.want != nil {
				entCheckErr(t, err, *tt.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.MessageID != tt.wantID || res.Status != "success" {
				t.Fatalf("got %+v, want id %q", res, tt.wantID)
			}
		})
	}
}

func TestEnterpriseOptInAnswerNeedsNoID(t *testing.T) {
	_, base := entCanned(t, 200, nil, "success | 919999900001 |")
	c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithBaseURL(base))
	if err := c.OptIn(context.Background(), "919999900001"); err != nil {
		t.Fatal(err)
	}
}

// entRoundTrip answers every request itself and remembers its URL.
type entRoundTrip struct{ got *url.URL }

func (rt *entRoundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.got = r.URL
	return &http.Response{
		StatusCode: 200, Header: http.Header{}, Request: r,
		Body: io.NopCloser(strings.NewReader("success | 919999900001 | id-1")),
	}, nil
}

func TestEnterpriseBaseURL(t *testing.T) {
	tests := []struct {
		base string
		want string // scheme://host/path the request went to
	}{
		{"", gupshup.DefaultEnterpriseURL},
		{"https://media.msgupshup.com/GatewayAPI/rest", "https://media.msgupshup.com/GatewayAPI/rest"},
		{"https://media.smsgupshup.com/GatewayAPI/rest/", "https://media.smsgupshup.com/GatewayAPI/rest"},
	}
	for _, tt := range tests {
		rt := &entRoundTrip{}
		opts := []gupshup.Option{gupshup.WithHTTPClient(&http.Client{Transport: rt}), gupshup.WithGET()}
		if tt.base != "" {
			opts = append(opts, gupshup.WithBaseURL(tt.base))
		}
		c := gupshup.NewEnterprise(entUser, entPassword, opts...)
		if _, err := c.SendText(context.Background(), gupshup.EnterpriseMessage{To: "919999900001", Text: "hi"}); err != nil {
			t.Fatalf("%s: %v", tt.base, err)
		}
		if got := rt.got.Scheme + "://" + rt.got.Host + rt.got.Path; got != tt.want {
			t.Errorf("base %q: request went to %s, want %s", tt.base, got, tt.want)
		}
		if rt.got.Query().Get("userid") != entUser {
			t.Errorf("base %q: query %q", tt.base, rt.got.RawQuery)
		}
	}
	c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithBaseURL("media.msgupshup.com/GatewayAPI/rest"), gupshup.WithGET())
	_, err := c.SendText(context.Background(), gupshup.EnterpriseMessage{To: "919999900001", Text: "hi"})
	var ve *gupshup.ValidationError
	if !errors.As(err, &ve) || strings.Contains(err.Error(), entPassword) {
		t.Fatalf("relative base URL: got %v, want a ValidationError without the password", err)
	}
}

func TestEnterpriseDataEncoding(t *testing.T) {
	tests := []struct {
		text    string
		unicode bool
	}{
		{"Plain ASCII with [brackets] {braces} ~ and `code`", false},
		{"GSM only: é £ ¥ Ä ß € Δ", false},
		{"Hindi: नमस्ते", true},
		{"Emoji 🎉", true},
		{"Curly quote ’", true},
	}
	for _, tt := range tests {
		tap, base := entCanned(t, 200, nil, "success | 919999900001 | id-1")
		c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithBaseURL(base))
		if _, err := c.SendText(context.Background(), gupshup.EnterpriseMessage{To: "919999900001", Text: tt.text}); err != nil {
			t.Fatal(err)
		}
		got := tap.last(t).form.Get("data_encoding")
		if (got == "Unicode_text") != tt.unicode || (!tt.unicode && got != "") {
			t.Errorf("%q: data_encoding=%q, want unicode %v", tt.text, got, tt.unicode)
		}
	}
}

func TestEnterpriseClientPrintsNoSecrets(t *testing.T) {
	c := gupshup.NewEnterprise(entUser, entPassword, gupshup.WithAESKey(entKey))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, c)
		if strings.Contains(out, entPassword) || strings.Contains(out, string(entKey)) || !strings.Contains(out, entUser) {
			t.Errorf("%s prints %q", verb, out)
		}
	}
}

func TestEnterpriseAccountWide(t *testing.T) {
	for code, want := range map[int]bool{
		gupshup.EnterpriseCodeAuthFailed: true, gupshup.EnterpriseCodeNoCredits: true, gupshup.EnterpriseCodeUserDisabled: true,
		gupshup.EnterpriseCodeInvalidPhone: false, gupshup.EnterpriseCodeMissingParameter: false, 1002: false,
	} {
		if gupshup.EnterpriseAccountWide(code) != want {
			t.Errorf("EnterpriseAccountWide(%d) != %v", code, want)
		}
	}
}

package gupshuptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultMatching(t *testing.T) {
	rules := []Fault{
		{Match: "*0002", Code: 1002},
		{Match: "*0003", Code: 1003, First: 2},
		{Match: "9198*", HTTPStatus: 500, Family: "partner"},
		{Match: "919800000009", Code: 131026},
	}
	tests := []struct {
		family, dest string
		attempts     []int // expected code (or status) per attempt, 0 = no fault
	}{
		{"selfserve", "919800000002", []int{1002, 1002, 1002}},
		{"selfserve", "919800000003", []int{1003, 1003, 0, 0}},
		{"partner", "919811111111", []int{500, 500}},
		{"selfserve", "919811111111", []int{0}},
		{"selfserve", "919800000009", []int{131026}},
		{"selfserve", "447700900123", []int{0}},
	}
	for _, tt := range tests {
		fs := newFaultSet(rules)
		for i, want := range tt.attempts {
			got := 0
			if f := fs.match(tt.family, tt.dest); f != nil {
				got = f.Code
				if f.HTTPStatus != 0 {
					got = f.HTTPStatus
				}
			}
			if got != want {
				t.Errorf("%s %s attempt %d: got %d, want %d", tt.family, tt.dest, i+1, got, want)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.CallbackFormat = "v4" }, "callback_format"},
		{func(c *Config) { c.Faults = []Fault{{Match: "*1"}} }, "faults[0]"},
		{func(c *Config) { c.Faults = []Fault{{Match: "[", Code: 1}} }, "faults[0]: match"},
		{func(c *Config) { c.Outages = []Outage{{Mode: "down"}} }, "outages[0]"},
		{func(c *Config) { c.EnterpriseAESKey = "abcd" }, "enterprise_aes_key"},
	}
	for _, b := range bad {
		c := DefaultConfig()
		b.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("Validate() = %v, want an error naming %q", err, b.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

func TestDurationJSON(t *testing.T) {
	var c struct{ A, B Duration }
	if err := json.Unmarshal([]byte(`{"A":"1.5s","B":250}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.A.Duration != 1500*time.Millisecond || c.B.Duration != 250*time.Millisecond {
		t.Fatalf("got %v %v", c.A, c.B)
	}
	if err := json.Unmarshal([]byte(`{"A":true}`), &c); err == nil {
		t.Fatal("a bool duration was accepted")
	}
}

func TestMaxInWindow(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, base.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tests := []struct {
		ts   []time.Time
		want int
	}{
		{nil, 0},
		{at(0), 1},
		{at(0, 999), 2},
		{at(0, 1000), 1},
		{at(900, 950, 1000, 1100, 1899, 1900), 5},
	}
	for i, tt := range tests {
		if got := maxInWindow(tt.ts, time.Second); got != tt.want {
			t.Errorf("case %d: got %d, want %d", i, got, tt.want)
		}
	}
}

// receiver records callback bodies; it fails the first `fail` deliveries.
type receiver struct {
	mu     sync.Mutex
	bodies []string
	fail   int
	calls  int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	r.bodies = append(r.bodies, string(b))
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// testRoute mounts a minimal family handler on the core, so the core is
// tested apart from the three real families.
func testRoute(s *Server) {
	s.mux.HandleFunc("POST /test/send", func(w http.ResponseWriter, r *http.Request) {
		if !s.gate(w, r, "selfserve") {
			return
		}
		v := s.submit(submission{Family: "selfserve", App: "DemoAPI", Source: "917834811114",
			Destination: r.FormValue("destination"), Kind: r.FormValue("kind"), TemplateID: r.FormValue("template"), TemplateParams: -1})
		if !v.accepted() {
			w.WriteHeader(v.HTTPStatus)
			return
		}
		io.WriteString(w, v.MessageID)
	})
}

func post(t *testing.T, s *Server, dest string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.URL+"/test/send", map[string][]string{"destination": {dest}, "kind": {"text"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitCallbacks(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitCallbacks(ctx); err != nil {
		t.Fatalf("callbacks still pending: %d", s.CallbacksPending())
	}
}

func TestCallbacksRetriedUntil2xx(t *testing.T) {
	rcv := &receiver{fail: 3}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	s := NewServer(WithCallbackURL(hook.URL), WithCallbackDelays(0, 0, 0, 0), func(c *Config) {
		c.CallbackRetry = D(5 * time.Millisecond)
		c.NoRead = true
	})
	defer s.Close()
	testRoute(s)
	code, id := post(t, s, "919800000001")
	if code != 200 || id == "" {
		t.Fatalf("send: %d %q", code, id)
	}
	waitCallbacks(t, s)
	bodies := rcv.got()
	// enqueued, sent, delivered: all three arrive although the first three POSTs failed.
	seen := map[string]bool{}
	for _, b := range bodies {
		var ev struct {
			Payload struct{ Type, ID, GsID string }
		}
		json.Unmarshal([]byte(b), &ev)
		seen[ev.Payload.Type] = true
		if ev.Payload.ID != id && ev.Payload.GsID != id {
			t.Errorf("event %s does not name message %s: %s", ev.Payload.Type, id, b)
		}
	}
	for _, st := range []string{"enqueued", "sent", "delivered"} {
		if !seen[st] {
			t.Errorf("no %s event among %d bodies", st, len(bodies))
		}
	}
	if len(bodies) != 3 {
		t.Errorf("got %d bodies, want 3", len(bodies))
	}
}

func TestCallbackCopies(t *testing.T) {
	rcv := &receiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	s := NewServer(WithCallbackURL(hook.URL), WithCallbackDelays(0, 0, 0, 0), WithCallbackCopies(4, 20*time.Millisecond), WithCallbackFormat("both"))
	defer s.Close()
	testRoute(s)
	post(t, s, "919800000001")
	waitCallbacks(t, s)
	// 4 events (enqueued, sent, delivered, read) x 2 formats x 4 copies.
	if n := len(rcv.got()); n != 32 {
		t.Fatalf("got %d deliveries, want 32", n)
	}
}

func TestFailedCallbackShapes(t *testing.T) {
	rcv := &receiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	s := NewServer(WithCallbackURL(hook.URL), WithCallbackDelays(0, 0, 0, 0),
		WithFaults(Fault{Match: "*0002", Code: 1002}, Fault{Match: "*0047", Code: 131047}))
	defer s.Close()
	testRoute(s)
	_, early := post(t, s, "919800000002")
	_, late := post(t, s, "919800000047")
	waitCallbacks(t, s)
	var sawEarly, sawLate bool
	for _, b := range rcv.got() {
		var ev struct {
			Payload struct {
				Type, ID, GsID string
				Payload        struct{ Code int }
			}
		}
		json.Unmarshal([]byte(b), &ev)
		if ev.Payload.Type != "failed" {
			continue
		}
		switch {
		case ev.Payload.ID == early && ev.Payload.GsID == "" && ev.Payload.Payload.Code == 1002:
			sawEarly = true
		case ev.Payload.GsID == late && ev.Payload.ID != late && ev.Payload.Payload.Code == 131047:
			sawLate = true
		default:
			t.Errorf("unexpected failed event: %s", b)
		}
	}
	if !sawEarly || !sawLate {
		t.Fatalf("early failed seen %v, late failed seen %v", sawEarly, sawLate)
	}
	if got := s.SendsTo("919800000002"); len(got) != 1 || got[0].FailCode != 1002 {
		t.Fatalf("record of the failed send: %+v", got)
	}
}

func TestOutageModes(t *testing.T) {
	s := NewServer()
	defer s.Close()
	testRoute(s)
	s.StartOutage("5xx", time.Hour)
	if code, _ := post(t, s, "919800000001"); code != http.StatusServiceUnavailable {
		t.Fatalf("during a 5xx outage: %d", code)
	}
	s.EndOutages()
	s.StartOutage("hang", time.Hour)
	c := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	_, err := c.PostForm(s.URL+"/test/send", map[string][]string{"destination": {"919800000001"}})
	if err == nil || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("a hanging outage answered: err=%v after %v", err, time.Since(start))
	}
	s.EndOutages()
	if code, _ := post(t, s, "919800000001"); code != 200 {
		t.Fatalf("after the outage: %d", code)
	}
	if n := len(s.Sends()); n != 1 {
		t.Fatalf("%d sends recorded, want 1", n)
	}
}

func TestScheduledOutage(t *testing.T) {
	s := NewServer(WithOutage(Outage{Start: D(50 * time.Millisecond), Duration: D(100 * time.Millisecond), Mode: "5xx"}))
	defer s.Close()
	testRoute(s)
	if code, _ := post(t, s, "919800000001"); code != 200 {
		t.Fatalf("before the outage: %d", code)
	}
	time.Sleep(time.Until(s.started.Add(60 * time.Millisecond)))
	if code, _ := post(t, s, "919800000001"); code != 503 {
		t.Fatalf("inside the outage: %d", code)
	}
	time.Sleep(time.Until(s.started.Add(160 * time.Millisecond)))
	if code, _ := post(t, s, "919800000001"); code != 200 {
		t.Fatalf("after the outage: %d", code)
	}
}

func TestRateLimitPerApp(t *testing.T) {
	s := NewServer(WithRateLimit(5))
	defer s.Close()
	testRoute(s)
	ok, limited := 0, 0
	for i := 0; i < 20; i++ {
		switch code, _ := post(t, s, "919800000001"); code {
		case 200:
			ok++
		case 429:
			limited++
		}
	}
	if ok < 5 || ok > 7 || limited == 0 {
		t.Fatalf("ok=%d limited=%d, want about 5 allowed at once and the rest 429", ok, limited)
	}
	if st := s.Stats(); st.RejectedByStatus[429] != limited || st.Accepted != ok {
		t.Fatalf("stats %+v disagree with ok=%d limited=%d", st, ok, limited)
	}
}

func TestSessionWindowAndTemplates(t *testing.T) {
	s := NewServer(WithSessionWindow(), WithTemplates(map[string]int{"tpl": 2}))
	defer s.Close()
	now := time.Now()
	sub := func(kind, tpl string, params int) int {
		return s.policyFailure(submission{Family: "selfserve", Destination: "919800000001", Kind: kind, TemplateID: tpl, TemplateParams: params}, now)
	}
	if got := sub("text", "", -1); got != 1005 {
		t.Fatalf("session send to a closed window: %d, want 1005", got)
	}
	s.sessions.touch("919800000001", now.Add(-time.Hour))
	if got := sub("text", "", -1); got != 0 {
		t.Fatalf("session send to an open window: %d", got)
	}
	if got := sub("template", "tpl", 2); got != 0 {
		t.Fatalf("matching template: %d", got)
	}
	if got := sub("template", "tpl", 1); got != 4003 {
		t.Fatalf("template with a wrong param count: %d, want 4003", got)
	}
	if got := sub("template", "other", 2); got != 4003 {
		t.Fatalf("unknown template: %d, want 4003", got)
	}
}

func TestAdminEndpoints(t *testing.T) {
	s := NewServer()
	defer s.Close()
	testRoute(s)
	post(t, s, "919800000001")
	post(t, s, "919800000002")
	resp, err := http.Get(s.URL + "/_sim/sends?destination=919800000002")
	if err != nil {
		t.Fatal(err)
	}
	var sends []Send
	json.NewDecoder(resp.Body).Decode(&sends)
	resp.Body.Close()
	if len(sends) != 1 || sends[0].Destination != "919800000002" || sends[0].MessageID == "" {
		t.Fatalf("filtered sends: %+v", sends)
	}
	resp, _ = http.Get(s.URL + "/_sim/stats")
	var st Stats
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Accepted != 2 || st.PerDestination["919800000001"] != 1 || st.MaxPerSecond["917834811114"] < 1 {
		t.Fatalf("stats: %+v", st)
	}
	resp, _ = http.Post(s.URL+"/_sim/outage", "application/json", strings.NewReader(`{"mode":"5xx","duration":"1h"}`))
	resp.Body.Close()
	if code, _ := post(t, s, "919800000001"); code != 503 {
		t.Fatalf("outage through the admin API: %d", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/_sim/outage", nil)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	resp, _ = http.Post(s.URL+"/_sim/reset", "", nil)
	resp.Body.Close()
	if n := len(s.Sends()); n != 0 {
		t.Fatalf("%d sends after reset", n)
	}
	resp, _ = http.Post(s.URL+"/_sim/outage", "application/json", strings.NewReader(`{"mode":"down"}`))
	if resp.StatusCode != 400 {
		t.Fatalf("bad outage body: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

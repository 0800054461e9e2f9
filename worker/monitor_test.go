package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

const (
	monUser     = "ops"
	monPassword = "correct horse battery staple"
)

// monitorServer serves a Monitor on a throwaway Redis holding one pending
// send task and one consent task.
func monitorServer(t *testing.T, readOnly bool) (*httptest.Server, *asynq.Inspector) {
	t.Helper()
	r := redistest.Start(t)
	prod := tasks.NewProducer(r.Client())
	s := templateSend("spring-sale-17", "919876543210")
	s.CampaignID = "spring-sale"
	if _, err := prod.Enqueue(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if _, err := prod.EnqueueConsent(context.Background(), tasks.TypeOptIn, &tasks.Consent{V: 1, Family: gupshup.SelfServe, Phone: "447700900123"}); err != nil {
		t.Fatal(err)
	}
	mon, err := worker.NewMonitor(asynq.RedisClientOpt{Addr: r.Addr}, worker.MonitorOptions{User: monUser, Password: monPassword, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	mux := http.NewServeMux()
	mon.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { insp.Close() })
	return srv, insp
}

type monReq struct {
	method, path string
	user, pass   string
	auth         bool
	header       map[string]string
}

func (m monReq) do(t *testing.T, srv *httptest.Server) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(m.method, srv.URL+m.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.auth {
		req.SetBasicAuth(m.user, m.pass)
	}
	for k, v := range m.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestMonitorNeedsCredentials(t *testing.T) {
	for _, o := range []worker.MonitorOptions{{User: "ops"}, {Password: "pw"}, {}} {
		if _, err := worker.NewMonitor(asynq.RedisClientOpt{Addr: "127.0.0.1:1"}, o); err == nil {
			t.Errorf("%+v: a monitor without credentials", o)
		}
	}
	_, err := worker.NewMonitor(asynq.RedisClientOpt{Addr: "127.0.0.1:1"}, worker.MonitorOptions{User: "ops"})
	if err == nil || !strings.Contains(err.Error(), "MONITOR_PASSWORD") {
		t.Fatalf("error %v does not name MONITOR_PASSWORD", err)
	}
}

func TestMonitorBasicAuth(t *testing.T) {
	srv, _ := monitorServer(t, true)
	for _, path := range []string{"/monitor", "/monitor/", "/monitor/api/queues", "/monitor/api/queues/default/pending_tasks", "/monitor/static/js/main.js"} {
		for _, r := range []monReq{
			{method: "GET", path: path},
			{method: "GET", path: path, auth: true, user: monUser, pass: "wrong"},
			{method: "GET", path: path, auth: true, user: "root", pass: monPassword},
			{method: "GET", path: path, auth: true, user: "", pass: ""},
			{method: "GET", path: path, auth: true, user: monUser, pass: monPassword + "x"},
		} {
			code, h, body := r.do(t, srv)
			if code != http.StatusUnauthorized {
				t.Errorf("%s as %q/%q: %d, want 401", path, r.user, r.pass, code)
			}
			if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s: 401 without a Basic challenge", path)
			}
			if strings.Contains(body, "queue") {
				t.Errorf("%s: a refused request shows data: %q", path, body)
			}
		}
	}
	ok := monReq{method: "GET", auth: true, user: monUser, pass: monPassword}
	ok.path = "/monitor/"
	code, h, body := ok.do(t, srv)
	if code != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("UI with credentials: %d %.200q", code, body)
	}
	if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("UI headers: %v", h)
	}
	ok.path = "/monitor/api/queues"
	code, _, body = ok.do(t, srv)
	if code != 200 || !strings.Contains(body, `"queue":"default"`) {
		t.Fatalf("queues API with credentials: %d %.300q", code, body)
	}
}

// Read-only, as by default: the UI reads, and every call that would change
// a task or a queue is refused.
func TestMonitorReadOnly(t *testing.T) {
	srv, insp := monitorServer(t, true)
	auth := func(method, path string) monReq {
		return monReq{method: method, path: path, auth: true, user: monUser, pass: monPassword}
	}
	for _, r := range []monReq{
		auth("DELETE", "/monitor/api/queues/default"),
		auth("POST", "/monitor/api/queues/default:pause"),
		auth("DELETE", "/monitor/api/queues/default/pending_tasks:delete_all"),
		auth("POST", "/monitor/api/queues/default/pending_tasks:archive_all"),
		auth("POST", "/monitor/api/queues/default/archived_tasks:run_all"),
		auth("POST", "/monitor/api/queues/default/pending_tasks:batch_delete"),
	} {
		code, _, body := r.do(t, srv)
		if code != http.StatusMethodNotAllowed || !strings.Contains(body, "read-only") {
			t.Errorf("%s %s in read-only mode: %d %q", r.method, r.path, code, body)
		}
	}
	info, err := insp.GetQueueInfo("default")
	if err != nil {
		t.Fatal(err)
	}
	if info.Paused || info.Pending != 2 {
		t.Fatalf("read-only UI changed the queue: paused %v, pending %d", info.Paused, info.Pending)
	}
	if code, _, _ := auth("GET", "/monitor/api/queues/default/pending_tasks").do(t, srv); code != 200 {
		t.Fatalf("read-only UI cannot list tasks: %d", code)
	}
}

// Read-write: changes go through for the operator, but not from a page
// of another origin riding on the browser's remembered credentials.
func TestMonitorReadWrite(t *testing.T) {
	srv, insp := monitorServer(t, false)
	r := monReq{method: "POST", path: "/monitor/api/queues/default:pause", auth: true, user: monUser, pass: monPassword,
		header: map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}}
	if code, _, _ := r.do(t, srv); code != http.StatusForbidden {
		t.Fatalf("cross-origin pause: %d, want 403", code)
	}
	if info, _ := insp.GetQueueInfo("default"); info.Paused {
		t.Fatal("a cross-origin request paused the queue")
	}
	r.header = map[string]string{"Sec-Fetch-Site": "same-origin"}
	if code, _, body := r.do(t, srv); code != http.StatusNoContent {
		t.Fatalf("pause: %d %q", code, body)
	}
	if info, _ := insp.GetQueueInfo("default"); !info.Paused {
		t.Fatal("pause did not pause")
	}
	r.auth = false
	r.path = "/monitor/api/queues/default:resume"
	if code, _, _ := r.do(t, srv); code != http.StatusUnauthorized {
		t.Fatalf("resume without credentials: %d", code)
	}
}

// The UI shows payloads with the phone numbers masked, never as stored.
func TestMonitorMasksPayloads(t *testing.T) {
	srv, _ := monitorServer(t, true)
	r := monReq{method: "GET", path: "/monitor/api/queues/default/pending_tasks", auth: true, user: monUser, pass: monPassword}
	code, _, body := r.do(t, srv)
	if code != 200 {
		t.Fatalf("%d %q", code, body)
	}
	var list struct {
		Tasks []struct {
			Type    string `json:"type"`
			Payload string `json:"payload"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Tasks) != 2 {
		t.Fatalf("%d tasks: %s", len(list.Tasks), body)
	}
	for _, task := range list.Tasks {
		for _, raw := range []string{"919876543210", "447700900123", testSource} {
			if strings.Contains(task.Payload, raw) {
				t.Errorf("%s payload shows %s: %s", task.Type, raw, task.Payload)
			}
		}
		switch task.Type {
		case tasks.TypeSend:
			if !strings.Contains(task.Payload, `"destination":"91******3210"`) || !strings.Contains(task.Payload, `"message_id":"spring-sale-17"`) {
				t.Errorf("send payload: %s", task.Payload)
			}
		case tasks.TypeOptIn:
			if !strings.Contains(task.Payload, `"phone":"44******0123"`) {
				t.Errorf("consent payload: %s", task.Payload)
			}
		}
	}
}

func TestMaskPayload(t *testing.T) {
	expires := time.Date(2030, 6, 2, 9, 0, 0, 0, time.UTC)
	s := &tasks.Send{
		V: tasks.PayloadVersion, CampaignID: "spring-sale", MessageID: "spring-sale:919876543210", Family: gupshup.SelfServe,
		Source: "14155550100", App: "DemoAPI", Destination: "919876543210",
		Template:  &tasks.Template{ID: "5f7e0d1c-2b3a-4c5d-8e9f-a0b1c2d3e4f5", Params: []string{"Asha", "SPRING20 <b>&"}, Media: &tasks.Media{Type: "image", Link: "https://cdn.example.com/banner.jpg"}},
		ExpiresAt: &expires,
	}
	task, err := tasks.NewSendTask(s)
	if err != nil {
		t.Fatal(err)
	}
	got := worker.MaskPayload(task.Type(), task.Payload())
	want := `{"v":1,"campaign_id":"spring-sale","message_id":"spring-sale:91******3210","family":"selfserve","source":"14*****0100","app":"DemoAPI","destination":"91******3210",` +
		`"template":{"id":"5f7e0d1c-2b3a-4c5d-8e9f-a0b1c2d3e4f5","params":["Asha","SPRING20 <b>&"],"media":{"type":"image","link":"https://cdn.example.com/banner.jpg"}},"expires_at":"2030-06-02T09:00:00Z"}`
	if got != want {
		t.Fatalf("masked payload\n got %s\nwant %s", got, want)
	}
	if !json.Valid([]byte(got)) {
		t.Fatal("masked payload is not JSON")
	}

	for _, c := range []struct{ in, want string }{
		// A partner session message in Meta's format names the recipient "to".
		{`{"destination":"919876543210","session":{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"hi"}}}`,
			`{"destination":"91******3210","session":{"messaging_product":"whatsapp","to":"91******3210","type":"text","text":{"body":"hi"}}}`},
		{`{"v":1,"family":"selfserve","phone":"919876543210"}`, `{"v":1,"family":"selfserve","phone":"91******3210"}`},
		{`{"phone":919876543210,"n":[1,2.5,true,null,{}],"e":[]}`, `{"phone":"91******3210","n":[1,2.5,true,null,{}],"e":[]}`},
		{`not json 919876543210 and 12345`, `not json 91******3210 and 12345`},
		{`{"destination":"919876543210"} trailing 919876543210`, `{"destination":"91******3210"} trailing 91******3210`},
		{"", ""},
	} {
		if got := worker.MaskPayload(tasks.TypeSend, []byte(c.in)); got != c.want {
			t.Errorf("MaskPayload(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if got := worker.MaskPayload(tasks.TypeSend, []byte{0xff, 0xfe}); got != "non-printable bytes" {
		t.Errorf("binary payload: %q", got)
	}
}

// The worker serves the UI on HTTP_ADDR when enabled, behind its basic
// auth, and refuses to start when enabled without a password.
func TestMonitorInWorker(t *testing.T) {
	p := startPipeline(t, func(c *worker.Config) {
		c.MonitorEnabled, c.MonitorReadOnly, c.MonitorUser, c.MonitorPassword = true, true, monUser, monPassword
	})
	get := func(auth bool) int {
		req, _ := http.NewRequest("GET", "http://"+p.cfg.HTTPAddr+"/monitor/api/queues", nil)
		if auth {
			req.SetBasicAuth(monUser, monPassword)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(false); code != 401 {
		t.Fatalf("without credentials: %d", code)
	}
	if code := get(true); code != 200 {
		t.Fatalf("with credentials: %d", code)
	}

	cfg := p.cfg
	cfg.MonitorPassword = ""
	cfg.HTTPAddr = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := worker.Run(ctx, cfg, logging.New(io.Discard, "json", "error"))
	if err == nil || !strings.Contains(err.Error(), "MONITOR_PASSWORD") {
		t.Fatalf("Run with MONITOR_ENABLED and no password: %v", err)
	}
}

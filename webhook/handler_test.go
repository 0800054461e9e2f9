package webhook_test

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/webhook"
)

const hookToken = "tok-5f3a9c"

// serve runs the callback endpoint with token on e's processor.
func serve(t *testing.T, e *env, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(mux(webhook.NewHandler(e.proc, token, logging.New(e.logs, "json", "debug"))))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, header string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set(webhook.TokenHeader, header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCallbackToken(t *testing.T) {
	e := newEnv(t, slowPolicy)
	srv := serve(t, e, hookToken)
	for i, tc := range []struct {
		name, path, header string
		want               int
	}{
		{"path", webhook.Path + "/" + hookToken, "", 200},
		{"header", webhook.Path, hookToken, 200},
		{"header with spaces", webhook.Path, " " + hookToken + " ", 200},
		{"missing", webhook.Path, "", 401},
		{"wrong path", webhook.Path + "/nope", "", 401},
		{"wrong header", webhook.Path, "nope", 401},
		{"prefix of the token", webhook.Path + "/" + hookToken[:len(hookToken)-1], "", 401},
		{"token plus more", webhook.Path + "/" + hookToken + "x", "", 401},
		{"token in another case", webhook.Path + "/" + strings.ToUpper(hookToken), "", 401},
	} {
		from := fmt.Sprintf("9198000%05d", i)
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, srv.URL+tc.path, tc.header, v2Inbound(from)); got != tc.want {
				t.Fatalf("answered %d, want %d", got, tc.want)
			}
			// Only an authorized callback changes anything.
			w, err := e.store.Window(bg, from)
			if err != nil {
				t.Fatal(err)
			}
			if opened := w == store.WindowOpen; opened != (tc.want == 200) {
				t.Fatalf("window open = %v after a %d", opened, tc.want)
			}
		})
	}
}

func TestCallbackOpenWithoutToken(t *testing.T) {
	e := newEnv(t, slowPolicy)
	srv := serve(t, e, "")
	for _, path := range []string{webhook.Path, webhook.Path + "/anything"} {
		if got := post(t, srv.URL+path, "", v2Inbound(dest)); got != 200 {
			t.Fatalf("%s answered %d without a configured token", path, got)
		}
	}
	if w, _ := e.store.Window(bg, dest); w != store.WindowOpen {
		t.Fatalf("callback not applied")
	}
}

func TestCallbackBodies(t *testing.T) {
	e := newEnv(t, slowPolicy)
	srv := serve(t, e, hookToken)
	url := srv.URL + webhook.Path + "/" + hookToken
	big := append([]byte(`{"app":"x","type":"message-event","payload":{"id":"`), bytes.Repeat([]byte("a"), 1<<20)...)
	big = append(big, `"}}`...)
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"too large", string(big), http.StatusRequestEntityTooLarge},
		{"empty", "", 400},
		{"not JSON nor form", "hello world", 400},
		{"malformed JSON", "{not json", 400},
		{"unknown object", `{"foo":1}`, 400},
		{"JSON string", `"str"`, 400},
		{"v2 billing-event", `{"app":"DemoAPI","timestamp":1700000000000,"version":2,"type":"billing-event","payload":{"deductions":{"type":"marketing"}}}`, 200},
		{"v2 template-event", `{"app":"DemoAPI","timestamp":1700000000000,"version":2,"type":"template-event","payload":{"id":"t1","status":"approved"}}`, 200},
		{"v3 other field", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"x"}}]}]}`, 200},
		{"status of an unknown id", string(v2Body("gs-unknown", "delivered", 0)), 200},
		{"v3 set-callback probe", `{"object":"whatsapp_business_account","gs_app_id":"app","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"type":"set-callback"}]}}]}]}`, 200},
		{"bare probe", `{"statuses":[{"type":"set-callback"}]}`, 200},
		{"v2 user-event", `{"app":"DemoAPI","timestamp":1700000000000,"version":2,"type":"user-event","payload":{"phone":"919800000001","type":"opted-out"}}`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, url, "", []byte(tc.body)); got != tc.want {
				t.Fatalf("answered %d, want %d", got, tc.want)
			}
		})
	}
}

// When Redis fails nothing is recorded, and a 5xx makes Gupshup deliver the
// callback again.
func TestCallbackRedisDown(t *testing.T) {
	e := newEnv(t, slowPolicy)
	srv := serve(t, e, hookToken)
	url := srv.URL + webhook.Path + "/" + hookToken
	e.submitted(templateSend("m1"), 0, "gs-1")
	if got := post(t, url, "", v2Body("gs-1", "sent", 0)); got != 200 {
		t.Fatalf("with Redis up: %d", got)
	}
	e.redis.Stop()
	for name, body := range map[string][]byte{
		"status":  v3Body("gs-1", "delivered", 0),
		"failed":  v2Body("gs-1", "failed", 4002),
		"inbound": v2Inbound(dest),
	} {
		if got := post(t, url, "", body); got != http.StatusServiceUnavailable {
			t.Errorf("%s with Redis down answered %d, want 503", name, got)
		}
	}
}

// The token comparison must not leak, through its timing, how much of a
// guess was right: authorized compares with crypto/subtle, and never with
// == or bytes.Equal.
func TestTokenComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "handler.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "authorized" {
			fn = d
		}
	}
	if fn == nil {
		t.Fatal("no authorized func in handler.go")
	}
	subtle, plain := false, false
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				switch {
				case id.Name == "subtle" && n.Sel.Name == "ConstantTimeCompare":
					subtle = true
				case (id.Name == "bytes" && n.Sel.Name == "Equal") || (id.Name == "strings" && n.Sel.Name == "EqualFold"):
					plain = true
				}
			}
		case *ast.BinaryExpr:
			_, litX := n.X.(*ast.BasicLit)
			_, litY := n.Y.(*ast.BasicLit)
			if (n.Op == token.EQL || n.Op == token.NEQ) && !litX && !litY && (mentions(n.X, "token") || mentions(n.Y, "token")) {
				plain = true
			}
		}
		return true
	})
	if !subtle || plain {
		t.Fatalf("authorized: subtle.ConstantTimeCompare used = %v, plain comparison of the token = %v", subtle, plain)
	}
}

func mentions(e ast.Expr, name string) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok && s.Sel.Name == name {
			found = true
		}
		if id, ok := n.(*ast.Ident); ok && id.Name == name {
			found = true
		}
		return true
	})
	return found
}

package chaos_test

// Security promises that had no test of their own. The others are tested
// where they live (RELIABILITY.md lists them): the callback token in
// webhook/handler_test.go, planted secrets in cmd/worker/secrets_test.go,
// Redis TLS and ACL in redisconn/ and worker/topology_test.go.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/worker"
)

const (
	apiKey      = "ss-PLANTED-key-51c9"
	entPassword = "ent-PLANTED-pw-2b7d"
	aesKeyHex   = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	partnerPW   = "partner-PLANTED-pw-a41e"
	partnerApp  = "partner-PLANTED-apptoken-77f0"
	partnerSec  = "partner-PLANTED-secret-0c3b"
)

var planted = []string{apiKey, entPassword, aesKeyHex, partnerPW, partnerApp, partnerSec}

func leaks(s string) []string {
	var out []string
	for _, p := range planted {
		if strings.Contains(s, p) {
			out = append(out, p)
		}
	}
	return out
}

// Every client, and the worker's set of clients, prints without a
// credential, whatever the verb ("credentials never appear in errors, logs
// or printed clients"). The partner client used to show its password and
// app token with %s, through its token cache.
func TestPrintedClientsHoldNoSecrets(t *testing.T) {
	cfg := worker.Config{
		APIKey: apiKey, AppName: "app", BaseURL: "http://127.0.0.1:1",
		EnterpriseUserID: "2000000001", EnterprisePassword: entPassword, EnterpriseAESKey: aesKeyHex, EnterpriseURL: "http://127.0.0.1:1",
		PartnerAppID: "partner-app", PartnerEmail: "ops@example.com", PartnerPassword: partnerPW, PartnerAppToken: partnerApp, PartnerURL: "http://127.0.0.1:1",
		Timeout: time.Second,
	}
	clients, err := cfg.Clients()
	if err != nil {
		t.Fatal(err)
	}
	creds := gupshup.PartnerCredentials{Email: "ops@example.com", Password: partnerPW, Secret: partnerSec, AppToken: partnerApp}
	printed := map[string]any{
		"self-serve client": clients.SelfServe,
		"enterprise client": clients.Enterprise,
		"partner client":    gupshup.NewPartner("partner-app", creds),
		"worker clients":    clients,
	}
	for name, v := range printed {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if l := leaks(fmt.Sprintf(verb, v)); len(l) > 0 {
				t.Errorf("%s printed with %s shows %q", name, verb, l)
			}
		}
	}
}

// Errors of every family, for a refused request, an unreachable server
// and a timeout, carry no credential.
func TestClientErrorsHoldNoSecrets(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"status":"error","message":"Authentication Failed"}`))
	}))
	defer refuse.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server sees the client go
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	key, err := gupshup.ParseAESKey(aesKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	creds := gupshup.PartnerCredentials{Email: "ops@example.com", Password: partnerPW, Secret: partnerSec}
	fixed := gupshup.PartnerCredentials{AppToken: partnerApp}
	ctx := context.Background()
	for _, base := range []struct{ name, url string }{{"refused (401)", refuse.URL}, {"unreachable", closed}, {"timeout", hang.URL}} {
		opts := []gupshup.Option{gupshup.WithBaseURL(base.url), gupshup.WithTimeout(300 * time.Millisecond)}
		calls := map[string]func() error{
			"self-serve send": func() error {
				_, err := gupshup.NewSelfServe(apiKey, "app", opts...).Send(ctx, gupshup.SessionMessage{Source: "14155550100", Destination: "919876543210", Message: gupshup.Text{Text: "hi"}})
				return err
			},
			"enterprise send": func() error {
				_, err := gupshup.NewEnterprise("2000000001", entPassword, opts...).SendText(ctx, gupshup.EnterpriseMessage{To: "919876543210", Text: "hi"})
				return err
			},
			"enterprise send, encrypted": func() error {
				_, err := gupshup.NewEnterprise("2000000001", entPassword, append(opts, gupshup.WithAESKey(key))...).SendText(ctx, gupshup.EnterpriseMessage{To: "919876543210", Text: "hi"})
				return err
			},
			"partner send, login": func() error {
				_, err := gupshup.NewPartner("partner-app", creds, opts...).Send(ctx, gupshup.MetaMessage{To: "919876543210", Type: "text", Text: &gupshup.MetaText{Body: "hi"}})
				return err
			},
			"partner send, app token": func() error {
				_, err := gupshup.NewPartner("partner-app", fixed, opts...).Send(ctx, gupshup.MetaMessage{To: "919876543210", Type: "text", Text: &gupshup.MetaText{Body: "hi"}})
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if err == nil {
				t.Errorf("%s, %s: no error", name, base.name)
				continue
			}
			if l := leaks(err.Error() + fmt.Sprintf(" %+v %#v", err, err)); len(l) > 0 {
				t.Errorf("%s, %s: error shows %q: %v", name, base.name, l, err)
			}
		}
	}
}

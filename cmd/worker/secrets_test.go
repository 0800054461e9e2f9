package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// Secrets planted in the settings never appear in the worker's logs (at
// debug level, through retries, dead letters, callbacks and a rejected
// callback) nor anywhere in Redis after a short campaign.
func TestSecretsStayOutOfLogsAndRedis(t *testing.T) {
	secrets := map[string]string{
		"api key":             "sk-PLANTED-apikey-4f9d2c",
		"webhook token":       "hook-PLANTED-7e1b55",
		"redis password":      "redis-PLANTED-pw-93ab",
		"enterprise password": "ent-PLANTED-pw-1c2d",
		"partner password":    "partner-PLANTED-pw-88aa",
	}
	// The default user stays open for the test's own look at Redis; the
	// worker logs in as "waq" with the planted password.
	r := redistest.Start(t, "--user", "waq", "on", ">"+secrets["redis password"], "~*", "&*", "+@all")
	port := redistest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	sc := gupshuptest.DefaultConfig()
	sc.APIKey, sc.EnterprisePassword, sc.PartnerPassword = secrets["api key"], secrets["enterprise password"], secrets["partner password"]
	sc.CallbackURL = "http://" + addr + "/webhooks/gupshup/" + secrets["webhook token"]
	sc.EnqueuedAfter, sc.SentAfter, sc.DeliveredAfter, sc.ReadAfter = gupshuptest.D(5*time.Millisecond), gupshuptest.D(15*time.Millisecond), gupshuptest.D(25*time.Millisecond), gupshuptest.D(35*time.Millisecond)
	sc.Faults = []gupshuptest.Fault{
		{Match: "*0002", Code: 1002},                   // a failed callback: dead letter
		{Match: "*0003", HTTPStatus: 500, First: 1},    // a 5xx, then success: a retry
		{Match: "*0004", Code: 4002, First: 1},         // a failed callback, then success: a resend
		{Match: "*0005", HTTPStatus: 400, Reason: "x"}, // refused on the spot: dead letter
	}
	sim := gupshuptest.NewServer(gupshuptest.WithConfig(sc))
	t.Cleanup(sim.Close)

	keyFile := filepath.Join(t.TempDir(), "apikey")
	if err := os.WriteFile(keyFile, []byte(secrets["api key"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := env{
		"REDIS_URL":                   fmt.Sprintf("redis://waq:%s@%s/0", secrets["redis password"], r.Addr),
		"GUPSHUP_API_KEY_FILE":        keyFile,
		"GUPSHUP_APP_NAME":            sc.AppName,
		"GUPSHUP_BASE_URL":            sim.URL,
		"GUPSHUP_ENTERPRISE_URL":      sim.URL + gupshuptest.EnterprisePath,
		"GUPSHUP_ENTERPRISE_USERID":   sc.EnterpriseUserID,
		"GUPSHUP_ENTERPRISE_PASSWORD": secrets["enterprise password"],
		"GUPSHUP_PARTNER_URL":         sim.URL,
		"GUPSHUP_PARTNER_APP_ID":      sc.PartnerAppID,
		"GUPSHUP_PARTNER_EMAIL":       sc.PartnerEmail,
		"GUPSHUP_PARTNER_PASSWORD":    secrets["partner password"],
		"GUPSHUP_TIMEOUT":             "3s",
		"HTTP_ADDR":                   addr,
		"WEBHOOK_TOKEN":               secrets["webhook token"],
		"RECIPIENT_INTERVAL":          "0s",
		"RETRY_BASE":                  "200ms",
		"SHUTDOWN_TIMEOUT":            "3s",
		"WORKER_CONCURRENCY":          "8",
		"LOG_LEVEL":                   "debug",
	}
	logs, stop := startWorker(t, e, addr)
	ctx := context.Background()

	rdb := r.Client()
	producer := tasks.NewProducer(rdb)
	const src = "917834811114"
	var ids []string
	add := func(s *tasks.Send) {
		t.Helper()
		s.V, s.CampaignID, s.Source = tasks.PayloadVersion, "secrets", src
		s.MessageID = string(s.Family) + "-" + s.Destination
		if _, err := producer.Enqueue(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.MessageID)
	}
	for _, d := range []string{"0001", "0002", "0003", "0004", "0005"} {
		add(&tasks.Send{Family: gupshup.SelfServe, Destination: "91980000" + d, Template: &tasks.Template{ID: "tpl-1", Params: []string{"Asha"}}})
	}
	text, _ := tasks.TextSession(gupshup.Enterprise, "hello")
	add(&tasks.Send{Family: gupshup.Enterprise, Destination: "919800000011", Session: text})
	add(&tasks.Send{Family: gupshup.Partner, Destination: "919800000021", Template: &tasks.Template{ID: "order_update", Params: []string{"42"}}})
	if _, err := producer.EnqueueConsent(ctx, tasks.TypeOptIn, &tasks.Consent{Family: gupshup.SelfServe, Phone: "919800000031"}); err != nil {
		t.Fatal(err)
	}
	st := store.New(rdb)
	waitUntil(t, "the campaign settled", 30*time.Second, func() (bool, string) {
		var pending []string
		for _, id := range ids {
			rec, _, _ := st.Get(ctx, id)
			want := store.StateRead
			if strings.HasSuffix(id, "0002") || strings.HasSuffix(id, "0005") {
				want = store.StateDead
			}
			if rec.State != want {
				pending = append(pending, id+"="+string(rec.State))
			}
		}
		return len(pending) == 0, strings.Join(pending, " ")
	})
	// The worker did log in with the planted password.
	if clients := rdb.ClientList(ctx).Val(); !strings.Contains(clients, "user=waq") {
		t.Fatalf("the worker is not connected as waq:\n%s", clients)
	}
	// A callback with a wrong token is refused and logged.
	resp, err := http.Post("http://"+addr+"/webhooks/gupshup/not-the-token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	stop()

	out := logs.String()
	for _, must := range []string{"worker started", "dead-lettered", "retry scheduled", "missing or wrong token", "worker stopped"} {
		if !strings.Contains(out, must) {
			t.Errorf("the logs lack %q: the campaign did not go the way this test needs", must)
		}
	}
	for what, s := range secrets {
		if i := strings.Index(out, s); i >= 0 {
			t.Errorf("the %s appears in the logs: %s", what, out[max(0, i-200):min(len(out), i+100)])
		}
	}

	// Every key and every value in Redis.
	ctx = context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Fatalf("only %d keys in Redis: %v", len(keys), keys)
	}
	for _, k := range keys {
		var vals []string
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "string":
			vals = append(vals, rdb.Get(ctx, k).Val())
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			vals = rdb.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		case "none":
			continue // expired since the scan
		default:
			t.Errorf("key %s of type %s not inspected", k, typ)
		}
		if dump, err := rdb.Dump(ctx, k).Result(); err == nil {
			vals = append(vals, dump)
		} else if err != redis.Nil {
			t.Fatal(err)
		}
		for what, s := range secrets {
			if strings.Contains(k, s) {
				t.Errorf("the %s is in the name of key %s", what, k)
			}
			for _, v := range vals {
				if strings.Contains(v, s) {
					t.Errorf("the %s is stored in %s (%s)", what, k, typ)
				}
			}
		}
	}
}

// startWorker runs the worker in this process with the settings of e,
// its logs in the returned buffer, and waits until it is ready on addr.
// stop shuts it down and checks that it exits cleanly; it runs at the end
// of the test if the test does not call it.
func startWorker(t *testing.T, e env, addr string) (*logging.Buffer, func()) {
	t.Helper()
	logs := &logging.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, e.get, logs) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("worker exit code %d", code)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("worker did not stop")
		}
	}
	t.Cleanup(stop)
	waitUntil(t, "worker ready", 10*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return logs, stop
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, what, timeout, 50*time.Millisecond, cond)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/tasks"
)

// duplicateKeys returns the keys that appear more than once in one object
// of a JSON line, at any depth.
func duplicateKeys(line []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	var dups []string
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					dups = append(dups, key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // }
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ]
			return err
		}
		return nil
	}
	if err := walk(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("more after the object: %v", err)
	}
	return dups, nil
}

func TestDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string
	}{
		{`{"level":"info","service":"worker","component":"send"}`, ""},
		{`{"level":"info","component":"worker","component":"send"}`, "component"},
		{`{"a":{"b":1,"b":2},"c":[{"d":1,"d":2}],"e":{"b":3}}`, "b,d"},
	} {
		dups, err := duplicateKeys([]byte(tc.line))
		if err != nil || strings.Join(dups, ",") != tc.want {
			t.Errorf("%s: %v, %v; want %q", tc.line, dups, err, tc.want)
		}
	}
}

// Every line the worker writes, from the process and from its parts,
// carries each key once: the process's name under "service", the part's
// under "component".
func TestLogLinesHaveEachKeyOnce(t *testing.T) {
	r := redistest.Start(t)
	port := redistest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	sc := gupshuptest.DefaultConfig()
	sc.CallbackURL = "http://" + addr + "/webhooks/gupshup/hook-token"
	sc.EnqueuedAfter, sc.SentAfter, sc.DeliveredAfter, sc.ReadAfter = gupshuptest.D(5*time.Millisecond), gupshuptest.D(10*time.Millisecond), gupshuptest.D(15*time.Millisecond), gupshuptest.D(20*time.Millisecond)
	sc.Faults = []gupshuptest.Fault{{Match: "*0002", Code: 1002}}
	sim := gupshuptest.NewServer(gupshuptest.WithConfig(sc))
	t.Cleanup(sim.Close)
	e := env{
		"REDIS_URL":          r.URL,
		"GUPSHUP_API_KEY":    sc.APIKey,
		"GUPSHUP_APP_NAME":   sc.AppName,
		"GUPSHUP_BASE_URL":   sim.URL,
		"HTTP_ADDR":          addr,
		"WEBHOOK_TOKEN":      "hook-token",
		"RECIPIENT_INTERVAL": "0s",
		"SHUTDOWN_TIMEOUT":   "3s",
		"LOG_LEVEL":          "debug",
	}
	logs, stop := startWorker(t, e, addr)
	ctx := context.Background()
	producer := tasks.NewProducer(r.Client())
	for _, d := range []string{"919800000001", "919800000002"} {
		s := &tasks.Send{V: tasks.PayloadVersion, CampaignID: "logs", MessageID: "m-" + d, Family: gupshup.SelfServe,
			Source: "917834811114", Destination: d, Template: &tasks.Template{ID: "tpl-1", Params: []string{"Asha"}}}
		if _, err := producer.Enqueue(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "a dead letter logged", 20*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), "dead-lettered"), "not yet"
	})
	resp, err := http.Post("http://"+addr+"/webhooks/gupshup/not-the-token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stop()

	components := map[string]int{}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	for _, line := range lines {
		dups, err := duplicateKeys([]byte(line))
		if err != nil {
			t.Fatalf("not a JSON line: %v\n%s", err, line)
		}
		if len(dups) > 0 {
			t.Errorf("keys %v more than once in\n%s", dups, line)
		}
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		if m["service"] != "worker" {
			t.Errorf("service %v, want worker, in\n%s", m["service"], line)
		}
		if c, ok := m["component"].(string); ok {
			components[c]++
		}
	}
	// The parts whose loggers add a component wrote lines of their own.
	for _, c := range []string{"send", "webhook"} {
		if components[c] == 0 {
			t.Errorf("no line of component %s among %d lines (components %v)", c, len(lines), components)
		}
	}
}

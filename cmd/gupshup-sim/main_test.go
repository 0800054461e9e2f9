package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

func effective(t *testing.T, args ...string) gupshuptest.Config {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append(args, "--print-config"), &out, &errb); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, errb.String())
	}
	var c gupshuptest.Config
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFlagsBuildConfig(t *testing.T) {
	c := effective(t,
		"--fault", "*0002=1002",
		"--fault", "*0003=1003,first=2",
		"--fault", "*0500=0,http=500,family=partner,reason=boom",
		"--outage", "10s+30s:5xx", "--outage", "40s+5s:hang",
		"--template", "tpl-1=3",
		"--rate-limit", "20", "--latency", "5ms", "--callback-format", "both",
		"--callback-copies", "3", "--session-window", "--no-read")
	want := []gupshuptest.Fault{
		{Match: "*0002", Code: 1002},
		{Match: "*0003", Code: 1003, First: 2},
		{Match: "*0500", HTTPStatus: 500, Family: "partner", Reason: "boom"},
	}
	if len(c.Faults) != len(want) {
		t.Fatalf("faults: %+v", c.Faults)
	}
	for i := range want {
		if c.Faults[i] != want[i] {
			t.Errorf("fault %d: got %+v, want %+v", i, c.Faults[i], want[i])
		}
	}
	if len(c.Outages) != 2 || c.Outages[0].Start.Duration != 10*time.Second || c.Outages[0].Duration.Duration != 30*time.Second || c.Outages[1].Mode != "hang" {
		t.Errorf("outages: %+v", c.Outages)
	}
	if c.Templates["tpl-1"] != 3 || c.RateLimit != 20 || c.Latency.Duration != 5*time.Millisecond ||
		c.CallbackFormat != "both" || c.CallbackCopies != 3 || !c.EnforceSessionWindow || !c.NoRead {
		t.Errorf("config: %+v", c)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.json")
	os.WriteFile(path, []byte(`{"api_key":"from-file","rate_limit":5,"faults":[{"match":"*1","code":1002}]}`), 0o600)
	c := effective(t, "--config", path, "--rate-limit", "7")
	if c.APIKey != "from-file" || c.RateLimit != 7 || len(c.Faults) != 1 {
		t.Fatalf("config: %+v", c)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--fault", "*0002"},
		{"--fault", "*0002=abc"},
		{"--fault", "*0002=1002,first=x"},
		{"--fault", "*0002=1002,color=red"},
		{"--outage", "10s:5xx"},
		{"--outage", "10s+30s:down"},
		{"--template", "tpl"},
		{"--callback-format", "v9"},
	} {
		var out, errb bytes.Buffer
		if err := run(append(args, "--print-config"), &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestHelpDocumentsEveryKnob(t *testing.T) {
	var out, errb bytes.Buffer
	run([]string{"--help"}, &out, &errb)
	help := errb.String()
	for _, knob := range []string{"--fault", "--outage", "--rate-limit", "--latency", "--callback-url", "--callback-format",
		"--callback-copies", "--session-window", "--template", "/_sim/stats", "/_sim/outage", "first=N", "http=STATUS"} {
		if !strings.Contains(help, strings.TrimPrefix(knob, "-")) {
			t.Errorf("--help does not mention %s", knob)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/retry"
)

// The whole demo on the embedded store, small: the printed account must add
// up and match the faults the simulator was told to inject.
func TestDemoAccountAddsUp(t *testing.T) {
	var out, errOut bytes.Buffer
	o := options{messages: 300, rate: 150, timeout: time.Minute, outage: time.Second, progress: time.Hour}
	err := run(context.Background(), o, &out, &errOut)
	t.Logf("account:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	acc := parseAccount(t, out.String())

	if acc.rows["messages"] != 300 {
		t.Errorf("messages = %d, want 300", acc.rows["messages"])
	}
	if d, x := acc.rows["delivered"], acc.rows["dead-lettered"]; d+x != 300 {
		t.Errorf("delivered %d + dead-lettered %d != 300", d, x)
	}
	// Numbers 00-99 repeat three times in 300 messages: each last-two-digit
	// rule of the fault table hits as many numbers as it has endings, x3.
	want := map[int]int{1002: 9, 1010: 3, 1006: 3, 131026: 3}
	if !maps.Equal(acc.dead, want) {
		t.Errorf("dead letters by code %v, want %v", acc.dead, want)
	}
	if !maps.Equal(acc.injected, want) {
		t.Errorf("injected column %v, want %v", acc.injected, want)
	}
	// 4002 x2 endings, 500 x1, closed window x1: 4 endings x3 resends.
	if n := acc.rows["resent after a failed callback"]; n != 12 {
		t.Errorf("resent after a failed callback = %d, want 12", n)
	}
	// Sync 500 and 429 on one ending each, once per number.
	if n := acc.rows["send call refused, then sent"]; n < 6 {
		t.Errorf("send call refused, then sent = %d, want at least 6", n)
	}
	if acc.rows["submitted to Gupshup"] != 300+12 {
		t.Errorf("submitted to Gupshup = %d, want 312", acc.rows["submitted to Gupshup"])
	}
	if !strings.Contains(out.String(), "no message was submitted twice: ") {
		t.Error("the account does not say that no message was submitted twice")
	}
}

// The expectations are read off the fault table; they only hold if the
// worker classifies the codes the way the table assumes.
func TestFaultTableMatchesClassifier(t *testing.T) {
	for _, f := range faults {
		if f.HTTPStatus != 0 {
			if f.First < 1 {
				t.Errorf("%s: a synchronous fault needs First, or the message never goes out", f.Match)
			}
			continue
		}
		terminal := retry.ClassifyCode(f.Code, "").Class == retry.Terminal
		if f.First == 0 && !terminal {
			t.Errorf("%s: code %d on every attempt is not terminal: it would be retried until the budget runs out", f.Match, f.Code)
		}
		if f.First > 0 && terminal {
			t.Errorf("%s: code %d is terminal: no resend would follow", f.Match, f.Code)
		}
	}
}

type parsed struct {
	rows           map[string]int
	dead, injected map[int]int
}

var (
	rowLine  = regexp.MustCompile(`^(\S.*?|  \S.*?)\s+(\d+)(  .*)?$`)
	deadLine = regexp.MustCompile(`^\s+(\d+)  .*?\s(\d+)\s+(\d+)$`)
)

func parseAccount(t *testing.T, s string) parsed {
	t.Helper()
	p := parsed{rows: map[string]int{}, dead: map[int]int{}, injected: map[int]int{}}
	inDead := false
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "dead letters:"):
			inDead = true
			continue
		case line == "":
			inDead = false
			continue
		}
		if inDead {
			if m := deadLine.FindStringSubmatch(line); m != nil {
				code, _ := strconv.Atoi(m[1])
				p.dead[code], _ = strconv.Atoi(m[2])
				p.injected[code], _ = strconv.Atoi(m[3])
			}
			continue
		}
		if m := rowLine.FindStringSubmatch(line); m != nil {
			p.rows[strings.TrimSpace(m[1])], _ = strconv.Atoi(m[2])
		}
	}
	for _, k := range []string{"messages", "delivered", "dead-lettered", "submitted to Gupshup", "resent after a failed callback"} {
		if _, ok := p.rows[k]; !ok {
			t.Fatalf("no %q row in the account", k)
		}
	}
	if len(p.dead) == 0 {
		t.Fatal("no dead letters table in the account")
	}
	return p
}

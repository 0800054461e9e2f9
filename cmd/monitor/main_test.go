package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
)

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestRefusesWithoutPassword(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), nil, env{}.get, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "MONITOR_PASSWORD") {
		t.Fatalf("exit %d, %q; want 2 and a message naming MONITOR_PASSWORD", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"-h"}, env{}.get, &stderr, nil); code != 0 || !strings.Contains(stderr.String(), "-read-only") {
		t.Fatalf("-h: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), nil, env{"MONITOR_PASSWORD": "pw", "MONITOR_READ_ONLY": "perhaps"}.get, &stderr, nil); code != 2 || !strings.Contains(stderr.String(), "MONITOR_READ_ONLY") {
		t.Fatalf("bad MONITOR_READ_ONLY: exit %d, %q", code, stderr.String())
	}
}

func TestServes(t *testing.T) {
	r := redistest.Start(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, exit := make(chan string, 1), make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		exit <- run(ctx, []string{"--addr", "127.0.0.1:0"}, env{"REDIS_URL": r.URL, "MONITOR_PASSWORD_FILE": pwFile, "MONITOR_USER": "ops"}.get, &stderr, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-exit:
		t.Fatalf("exit %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, user, pass string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/monitor/api/queues", "", ""); code != 401 {
		t.Errorf("without credentials: %d", code)
	}
	if code := get("/monitor/api/queues", "ops", "s3cret-pw"); code != 200 {
		t.Errorf("with credentials: %d", code)
	}
	// Read-only unless told otherwise.
	req, _ := http.NewRequest("POST", "http://"+addr+"/monitor/api/queues/default:pause", nil)
	req.SetBasicAuth("ops", "s3cret-pw")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("pause by default: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code := get("/", "", ""); code != http.StatusFound {
		t.Errorf("/: %d", code)
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d after cancel", code)
	}
	if strings.Contains(stderr.String(), "s3cret-pw") {
		t.Fatal("the password is in the log")
	}
}

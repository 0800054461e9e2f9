package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/worker"
)

// env is a getenv over a map.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func load(t *testing.T, e env, args ...string) *worker.Config {
	t.Helper()
	c, err := loadConfig(args, e.get, io.Discard)
	if err != nil {
		t.Fatalf("loadConfig(%v, %v): %v", args, e, err)
	}
	return c
}

// Each setting fills one field of worker.Config of its own, its default
// included, and every field has a setting.
func TestEverySettingBindsItsOwnField(t *testing.T) {
	defaults := load(t, env{})
	owner := map[string]string{}
	for _, s := range settings {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		var probe worker.Config
		if err := s.bind(fs, &probe, s.flag, s.def, ""); err != nil {
			t.Fatalf("%s: default %q: %v", s.env, s.def, err)
		}
		var value string
		switch d := fs.Lookup(s.flag).Value.(flag.Getter).Get().(type) {
		case string:
			value = "x-" + strings.ToLower(s.env)
			if s.env == "AMBIGUOUS_SENDS" {
				value = "deadletter"
			}
		case bool:
			value = strconv.FormatBool(!d)
		case time.Duration:
			value = (d + 7*time.Minute + 3*time.Second).String()
		case int:
			value = strconv.Itoa(d + 3)
		case float64:
			value = strconv.FormatFloat(d+3.5, 'f', -1, 64)
			if s.env == "SEND_RATE_MARGIN" { // a share, at most 0.2
				value = strconv.FormatFloat(d+0.05, 'f', -1, 64)
			}
		default:
			t.Fatalf("%s: a %T setting", s.env, d)
		}
		c := load(t, env{s.env: value})
		changed := changedFields(defaults, c)
		if len(changed) != 1 {
			t.Errorf("%s=%s changed %v; want exactly one field", s.env, value, changed)
			continue
		}
		if other, dup := owner[changed[0]]; dup {
			t.Errorf("%s and %s both set %s", other, s.env, changed[0])
		}
		owner[changed[0]] = s.env
		// The default lands in the same field.
		if d := changedFields(&worker.Config{}, &probe); len(d) > 1 || (len(d) == 1 && d[0] != changed[0]) {
			t.Errorf("%s: the default goes to %v, the value to %s", s.env, d, changed[0])
		}
	}
	rt := reflect.TypeOf(worker.Config{})
	for i := range rt.NumField() {
		if _, ok := owner[rt.Field(i).Name]; !ok {
			t.Errorf("worker.Config.%s has no setting", rt.Field(i).Name)
		}
	}
}

func changedFields(a, b *worker.Config) []string {
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

func TestEnvAndFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  env
		args []string
		got  func(*worker.Config) any
		want any
	}{
		{"string env", env{"GUPSHUP_APP_NAME": "ShopApp"}, nil, func(c *worker.Config) any { return c.AppName }, "ShopApp"},
		{"string flag wins", env{"GUPSHUP_APP_NAME": "ShopApp"}, []string{"--gupshup-app-name", "OtherApp"}, func(c *worker.Config) any { return c.AppName }, "OtherApp"},
		{"secret env", env{"GUPSHUP_API_KEY": "k-env"}, nil, func(c *worker.Config) any { return c.APIKey }, "k-env"},
		{"secret flag wins", env{"GUPSHUP_API_KEY": "k-env"}, []string{"-gupshup-api-key=k-flag"}, func(c *worker.Config) any { return c.APIKey }, "k-flag"},
		{"bool env", env{"GUPSHUP_LEGACY_PATHS": "true"}, nil, func(c *worker.Config) any { return c.LegacyPath }, true},
		{"bool flag wins", env{"GUPSHUP_LEGACY_PATHS": "true"}, []string{"--gupshup-legacy-paths=false"}, func(c *worker.Config) any { return c.LegacyPath }, false},
		{"duration env", env{"GUPSHUP_TIMEOUT": "3s"}, nil, func(c *worker.Config) any { return c.Timeout }, 3 * time.Second},
		{"duration flag wins", env{"GUPSHUP_TIMEOUT": "3s"}, []string{"--gupshup-timeout", "750ms"}, func(c *worker.Config) any { return c.Timeout }, 750 * time.Millisecond},
		{"int env", env{"WORKER_CONCURRENCY": "7"}, nil, func(c *worker.Config) any { return c.Concurrency }, 7},
		{"int flag wins", env{"WORKER_CONCURRENCY": "7"}, []string{"--worker-concurrency=9"}, func(c *worker.Config) any { return c.Concurrency }, 9},
		{"float env", env{"SEND_RATE": "12.5"}, nil, func(c *worker.Config) any { return c.SendRate }, 12.5},
		{"float flag wins", env{"SEND_RATE": "12.5"}, []string{"--send-rate=1000"}, func(c *worker.Config) any { return c.SendRate }, 1000.0},
		{"choice env", env{"AMBIGUOUS_SENDS": "deadletter"}, nil, func(c *worker.Config) any { return c.Ambiguous }, "deadletter"},
		{"flag without env", nil, []string{"--http-addr", "127.0.0.1:9"}, func(c *worker.Config) any { return c.HTTPAddr }, "127.0.0.1:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(load(t, tc.env, tc.args...)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Every secret can come from <VAR>_FILE, as Kubernetes mounts Secrets: the
// file is read and trimmed. The variable itself and the flag still win.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	n := 0
	for _, s := range settings {
		if !s.secret {
			continue
		}
		n++
		t.Run(s.env, func(t *testing.T) {
			value := "from-file-" + strings.ToLower(s.env)
			c := load(t, env{s.env + "_FILE": write(s.env, "  \t"+value+"\n\n")})
			if fields := stringFields(c, value); len(fields) != 1 {
				t.Fatalf("%s_FILE: fields holding the file's trimmed content: %v", s.env, fields)
			}
			c = load(t, env{s.env + "_FILE": write(s.env, value), s.env: "from-env"})
			if len(stringFields(c, "from-env")) != 1 || len(stringFields(c, value)) != 0 {
				t.Fatalf("%s set and %s_FILE set: the variable must win", s.env, s.env)
			}
			c = load(t, env{s.env + "_FILE": write(s.env, value)}, "--"+s.flag+"=from-flag")
			if len(stringFields(c, "from-flag")) != 1 {
				t.Fatalf("the flag must win over %s_FILE", s.env)
			}
		})
	}
	if n < 7 {
		t.Fatalf("only %d secret settings", n)
	}
	c := load(t, env{"GUPSHUP_API_KEY_FILE": write("k", "key\n"), "WEBHOOK_TOKEN_FILE": write("w", "tok\r\n"), "REDIS_URL_FILE": write("r", "redis://:pw@10.0.0.1:6380/2\n")})
	if c.APIKey != "key" || c.WebhookToken != "tok" || c.RedisURL != "redis://:pw@10.0.0.1:6380/2" {
		t.Fatalf("secret files: %q %q %q", c.APIKey, c.WebhookToken, c.RedisURL)
	}
	_, err := loadConfig(nil, env{"GUPSHUP_API_KEY_FILE": filepath.Join(dir, "missing")}.get, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "GUPSHUP_API_KEY_FILE") {
		t.Fatalf("unreadable secret file: %v", err)
	}
}

// stringFields names the string fields of c that hold v.
func stringFields(c *worker.Config, v string) []string {
	var out []string
	rv := reflect.ValueOf(*c)
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Kind() == reflect.String && f.String() == v {
			out = append(out, rv.Type().Field(i).Name)
		}
	}
	return out
}

// A setting that cannot work stops the worker with exit code 2 and a
// message that names it.
func TestInvalidSettingsNamed(t *testing.T) {
	for _, tc := range []struct {
		env  env
		args []string
		name string
	}{
		{env{"SEND_RATE": "0"}, nil, "SEND_RATE"},
		{env{"SEND_RATE": "fast"}, nil, "SEND_RATE"},
		{env{"SEND_BURST": "0"}, nil, "SEND_BURST"},
		{env{"SEND_RATE_MARGIN": "0.5"}, nil, "SEND_RATE_MARGIN"},
		{env{"SEND_RATE_MARGIN": "-0.01"}, nil, "SEND_RATE_MARGIN"},
		{env{"WORKER_CONCURRENCY": "0"}, nil, "WORKER_CONCURRENCY"},
		{env{"WORKER_CONCURRENCY": "lots"}, nil, "WORKER_CONCURRENCY"},
		{env{"AMBIGUOUS_SENDS": "maybe"}, nil, "AMBIGUOUS_SENDS"},
		{env{"BREAKER_FAILURES": "0"}, nil, "BREAKER_FAILURES"},
		{env{"GUPSHUP_TIMEOUT": "15"}, nil, "GUPSHUP_TIMEOUT"},
		{env{"RECORD_TTL": "0s"}, nil, "RECORD_TTL"},
		{env{"GUPSHUP_LEGACY_PATHS": "sometimes"}, nil, "GUPSHUP_LEGACY_PATHS"},
		{nil, []string{"--send-rate=0"}, "SEND_RATE"},
		{nil, []string{"--send-rate=x"}, "send-rate"},
		{nil, []string{"--no-such-flag"}, "no-such-flag"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, tc.env.get, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.name) {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and a message naming %s", tc.env, tc.args, code, firstLine(stderr.String()), tc.name)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestHelpListsEverySetting(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var out bytes.Buffer
		// A secret in the environment must not end up in the help text.
		code := run(context.Background(), []string{arg}, env{"GUPSHUP_API_KEY": "sk-live-do-not-print", "WEBHOOK_TOKEN": "hook-secret"}.get, &out)
		if code != 0 {
			t.Fatalf("%s: exit %d", arg, code)
		}
		help := out.String()
		for _, s := range settings {
			line := ""
			for l := range strings.Lines(help) {
				if strings.Contains(l, "--"+s.flag+",") && strings.Contains(l, s.env) {
					line = l
				}
			}
			if line == "" {
				t.Errorf("%s: no line with --%s and %s", arg, s.flag, s.env)
				continue
			}
			if marked := strings.HasPrefix(strings.TrimSpace(line), "*"); marked != s.secret {
				t.Errorf("%s: %s marked secret = %v, want %v", arg, s.env, marked, s.secret)
			}
		}
		if strings.Contains(help, "sk-live-do-not-print") || strings.Contains(help, "hook-secret") {
			t.Errorf("%s prints a secret from the environment", arg)
		}
	}
	_, err := loadConfig([]string{"-h"}, env{}.get, io.Discard)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

// The README's configuration table is the operators' reference: it must
// list exactly the settings, with the same flags, defaults and secret marks.
func TestREADMEConfigurationTable(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type row struct {
		flag, def string
		secret    bool
	}
	rows := map[string]row{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "| variable | flag | default |") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue // the |---| line
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("README row with %d cells: %s", len(cells), line)
		}
		v := strings.TrimSpace(cells[1])
		secret := strings.HasSuffix(v, "*")
		name := strings.Trim(strings.TrimSpace(strings.TrimSuffix(v, "*")), "`")
		if _, dup := rows[name]; dup {
			t.Errorf("README lists %s twice", name)
		}
		rows[name] = row{
			flag:   strings.TrimPrefix(strings.Trim(strings.TrimSpace(cells[2]), "`"), "--"),
			def:    strings.Trim(strings.TrimSpace(cells[3]), "`"),
			secret: secret,
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no configuration table (| variable | flag | default | meaning |) in README.md")
	}
	for _, s := range settings {
		r, ok := rows[s.env]
		if !ok {
			t.Errorf("README does not list %s", s.env)
			continue
		}
		if r.flag != s.flag || r.def != s.def || r.secret != s.secret {
			t.Errorf("README: %s is --%s, default %q, secret %v; the worker has --%s, default %q, secret %v",
				s.env, r.flag, r.def, r.secret, s.flag, s.def, s.secret)
		}
		delete(rows, s.env)
	}
	for name := range rows {
		t.Errorf("README lists %s, which the worker does not have", name)
	}
}

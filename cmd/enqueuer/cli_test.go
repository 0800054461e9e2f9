package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/tasks"
)

func TestMain(m *testing.M) {
	// Failed dials are logged by go-redis itself; the tests that cause them
	// check our own messages.
	redis.SetLogger(redisLog{zerolog.Nop()})
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

// enqueuer runs the command in-process with env as its whole environment.
func enqueuer(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

func testEnv(srv *redistest.Server) map[string]string {
	return map[string]string{envRedisURL: srv.URL, envSource: "14155550100", envApp: "DemoAPI"}
}

func inspector(t testing.TB, srv *redistest.Server) *asynq.Inspector {
	t.Helper()
	opt, err := redisconn.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ins := asynq.NewInspector(opt)
	t.Cleanup(func() { ins.Close() })
	return ins
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func parseSummary(t testing.TB, stdout string) counts {
	t.Helper()
	var s counts
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	return s
}

func destination(i int) string { return fmt.Sprintf("91%010d", 7000000000+i) }

// campaignCSV is a file of n rows where some rows are bad or repeat the
// number of the row before; it returns the expected counts and the lines
// of the bad rows.
func campaignCSV(n int) (file string, rejected, repeated int, badLines map[int]string) {
	var b strings.Builder
	b.WriteString("destination,param1,param2\r\n")
	badLines = map[int]string{}
	for i := range n {
		line := i + 2
		switch {
		case i%100 == 13:
			fmt.Fprintf(&b, "91x%d,Name %d,CODE%d\r\n", i, i, i)
			badLines[line] = "destination: not an E.164 number"
		case i == 500:
			fmt.Fprintf(&b, "%s,,CODE%d\r\n", destination(i), i)
			badLines[line] = "param1: empty"
		case i == 700:
			fmt.Fprintf(&b, "%s,Name %d\r\n", destination(i), i)
			badLines[line] = "has 2 fields, the header has 3"
		case i%250 == 42:
			fmt.Fprintf(&b, "%s,\"Again, %d\",CODE%d\r\n", destination(i-1), i, i)
			repeated++
		default:
			fmt.Fprintf(&b, "%s,\"Name, %d\",CODE%d\r\n", destination(i), i, i)
		}
	}
	return b.String(), len(badLines), repeated, badLines
}

func TestCampaignCSVEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	const n = 1000
	content, rejected, repeated, badLines := campaignCSV(n)
	file := writeFile(t, "spring.csv", content)
	args := []string{"campaign", "--file", file, "--campaign", "spring", "--template-id", "tpl-1", "--json", "--workers", "8"}
	good := n - rejected

	first := enqueuer(t, env, args...)
	if first.code != exitRejected {
		t.Fatalf("exit %d, want 1\n%s", first.code, first.stderr)
	}
	s := parseSummary(t, first.stdout)
	if s.Read != n || s.Enqueued != int64(good-repeated) || s.Duplicates != int64(repeated) || s.Rejected != int64(rejected) || s.Failed != 0 {
		t.Fatalf("first run summary %+v, want read %d enqueued %d duplicates %d rejected %d",
			s, n, good-repeated, repeated, rejected)
	}
	for line, reason := range badLines {
		if want := fmt.Sprintf("%s:%d: %s", file, line, reason); !strings.Contains(first.stderr, want+"") {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if got := strings.Count(first.stderr, file+":"); got != rejected {
		t.Errorf("%d bad-row lines on stderr, want %d", got, rejected)
	}

	second := enqueuer(t, env, args...)
	s = parseSummary(t, second.stdout)
	if second.code != exitRejected || s.Read != n || s.Enqueued != 0 || s.Duplicates != int64(good) || s.Rejected != int64(rejected) {
		t.Fatalf("second run: exit %d summary %+v, want 0 enqueued and %d duplicates", second.code, s, good)
	}

	ins := inspector(t, srv)
	q, err := ins.GetQueueInfo(tasks.QueueBulk)
	if err != nil || q.Size != good-repeated {
		t.Fatalf("bulk queue: %+v %v, want %d tasks", q, err, good-repeated)
	}
	for _, other := range []string{tasks.QueueCritical, tasks.QueueDefault} {
		if q, err := ins.GetQueueInfo(other); err == nil && q.Size != 0 {
			t.Fatalf("%s holds %d tasks", other, q.Size)
		}
	}
	info, err := ins.GetTaskInfo(tasks.QueueBulk, tasks.TaskID("spring:"+destination(41)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := tasks.DecodeSend(info.Payload)
	if err != nil {
		t.Fatal(err)
	}
	// Row 42 repeats row 41's number: the first row listed wins.
	if p.CampaignID != "spring" || p.Destination != destination(41) || p.Source != "14155550100" || p.App != "DemoAPI" ||
		p.Template.ID != "tpl-1" || strings.Join(p.Template.Params, "|") != "Name, 41|CODE41" {
		t.Fatalf("payload %+v %+v", p, p.Template)
	}
	if d := time.Until(*p.ExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("expires in %v, want the 24h default", d)
	}
	if info.MaxRetry != retry.AsynqMaxRetry || info.Timeout != tasks.DefaultTimeout || info.State != asynq.TaskStatePending {
		t.Fatalf("task %+v", info)
	}
}

func TestCampaignJSONLEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	file := writeFile(t, "otp.jsonl", strings.Join([]string{
		`{"destination":"919876543210","template":{"id":"t","params":["A"]}}`,
		`{"message_id":"m-2","destination":"919876543211","session":{"type":"text","text":"hi"},"fallback_template":{"id":"t"}}`,
		`{"destination":"919876543212","template":{"id":"t"},"colour":"red"}`,
		``,
		`{"destination":"919876543213","template":{"id":"t"}}`,
	}, "\n"))
	r := enqueuer(t, env, "campaign", "--file", file, "--campaign", "c7", "--queue", "default",
		"--at", at.Format(time.RFC3339), "--expires-in", "1h")
	if r.code != exitRejected || !strings.Contains(r.stdout, "read 4, enqueued 3, duplicates skipped 0, rejected 1") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, file+":3: colour: unknown field") {
		t.Fatalf("stderr %s", r.stderr)
	}
	ins := inspector(t, srv)
	list, err := ins.ListScheduledTasks(tasks.QueueDefault)
	if err != nil || len(list) != 3 {
		t.Fatalf("scheduled %d %v", len(list), err)
	}
	for _, info := range list {
		if !info.NextProcessAt.Equal(at) {
			t.Fatalf("%s due %v, want %v", info.ID, info.NextProcessAt, at)
		}
		p, err := tasks.DecodeSend(info.Payload)
		if err != nil {
			t.Fatal(err)
		}
		// --expires-in counts from --at, not from now.
		if !p.ExpiresAt.Equal(at.Add(time.Hour)) {
			t.Fatalf("%s expires %v, want %v", info.ID, p.ExpiresAt, at.Add(time.Hour))
		}
	}
}

func TestCampaignDryRun(t *testing.T) {
	content, rejected, _, _ := campaignCSV(300)
	file := writeFile(t, "c.csv", content)
	// No REDIS_URL: a dry run never connects.
	r := enqueuer(t, map[string]string{envSource: "14155550100"}, "campaign", "--file", file, "--campaign", "c", "--template-id", "t", "--dry-run")
	want := fmt.Sprintf("dry run: read 300, valid %d, rejected %d", 300-rejected, rejected)
	if r.code != exitRejected || !strings.Contains(r.stdout, want) {
		t.Fatalf("exit %d stdout %q, want %q", r.code, r.stdout, want)
	}
}

func TestCampaignStopsWhenRedisFails(t *testing.T) {
	srv := redistest.Start(t)
	opt, _ := redisconn.Parse(srv.URL)
	p, err := tasks.OpenProducer(context.Background(), opt, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &cli{stdout: &bytes.Buffer{}, stderr: &lockedWriter{w: &bytes.Buffer{}}, getenv: func(string) string { return "" }}
	rows := &stoppingRows{srv: srv, at: 50, total: 5000}
	sum := feed(context.Background(), c, newLogger(c, "test"), "f.csv", rows, p,
		[]tasks.Option{tasks.Queue(tasks.QueueBulk)}, campaignFlags{workers: 4, campaign: "c"}, nil)
	if sum.fatal == nil || sum.Failed == 0 || sum.Read >= 5000 {
		t.Fatalf("summary %+v (fatal %v): want an early stop with failed rows", sum.counts, sum.fatal)
	}
}

// stoppingRows yields good rows and stops the Redis server at row at.
type stoppingRows struct {
	srv       *redistest.Server
	n, at     int
	total     int
	defaults  defaults
	expiresAt time.Time
}

func (s *stoppingRows) Next() (row, error) {
	s.n++
	if s.n == s.at {
		s.srv.Stop()
	}
	if s.n > s.total {
		return row{}, fmt.Errorf("read past the stop")
	}
	exp := time.Now().Add(time.Hour)
	return row{line: s.n + 1, send: &tasks.Send{V: 1, MessageID: fmt.Sprintf("m-%d", s.n), Family: "selfserve",
		Source: "14155550100", Destination: destination(s.n), Template: &tasks.Template{ID: "t"}, ExpiresAt: &exp}}, nil
}

func TestSendEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	ins := inspector(t, srv)

	r := enqueuer(t, env, "send", "--to", "+91 98765 43210", "--text", "Your code is 1234", "--message-id", "otp-1")
	if r.code != exitOK || r.stdout != "send:otp-1\n" {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	if r = enqueuer(t, env, "send", "--to", "919876543210", "--text", "again", "--message-id", "otp-1", "--queue", "default"); r.code != exitOK || r.stdout != "duplicate\n" {
		t.Fatalf("repeat: exit %d stdout %q", r.code, r.stdout)
	}
	info, err := ins.GetTaskInfo(tasks.QueueCritical, "send:otp-1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tasks.DecodeSend(info.Payload)
	if err != nil || string(p.Session) != `{"text":"Your code is 1234","type":"text"}` || p.Destination != "919876543210" {
		t.Fatalf("payload %+v %v", p, err)
	}

	r = enqueuer(t, env, "send", "--to", "919876543211", "--template-id", "order_update", "--family", "partner",
		"--param", "Asha", "--param", "A-17", "--language", "en_US", "--at", time.Now().Add(time.Hour).Format(time.RFC3339))
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "send:") {
		t.Fatalf("template: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	info, err = ins.GetTaskInfo(tasks.QueueCritical, strings.TrimSpace(r.stdout))
	if err != nil || info.State != asynq.TaskStateScheduled {
		t.Fatalf("%+v %v", info, err)
	}
	p, _ = tasks.DecodeSend(info.Payload)
	if p.Family != "partner" || strings.Join(p.Template.Params, ",") != "Asha,A-17" || p.Template.Language != "en_US" {
		t.Fatalf("payload %+v", p.Template)
	}

	r = enqueuer(t, env, "send", "--to", "919876543212", "--image", "https://x.example/a.jpg", "--caption", "new", "--family", "enterprise")
	if r.code != exitOK {
		t.Fatalf("image: exit %d %s", r.code, r.stderr)
	}

	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--to", "98", "--text", "x"}, exitRejected, "rejected: destination: not an E.164 number"},
		{[]string{"--to", "919876543210", "--template-id", "t", "--param", ""}, exitRejected, "template.params[0]: empty"},
		{[]string{"--text", "x"}, exitUsage, "--to is required"},
		{[]string{"--to", "919876543210"}, exitUsage, "exactly one of --text, --image and --template-id"},
		{[]string{"--to", "919876543210", "--text", "x", "--image", "https://x.example/a.jpg"}, exitUsage, "exactly one"},
		{[]string{"--to", "919876543210", "--text", "x", "--caption", "c"}, exitUsage, "--caption goes with --image"},
		{[]string{"--to", "919876543210", "--text", "x", "--param", "p"}, exitUsage, "go with --template-id"},
		{[]string{"--to", "919876543210", "--text", "x", "--queue", "urgent"}, exitUsage, `--queue: unknown "urgent"`},
		{[]string{"--to", "919876543210", "--text", "x", "--source", "12"}, exitUsage, "--source: not an E.164 number"},
		{[]string{"--to", "919876543210", "--text", "x", "--at", "tomorrow"}, exitUsage, "--at"},
		{[]string{"--to", "919876543210", "--text", "x", "--expires-in", "0s"}, exitUsage, "--expires-in"},
		{[]string{"--to", "919876543210", "--image", "a.jpg"}, exitUsage, "not an absolute http(s) URL"},
	} {
		r := enqueuer(t, env, append([]string{"send"}, tt.args...)...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.err) {
			t.Errorf("send %q: exit %d stderr %q, want %d with %q", tt.args, r.code, r.stderr, tt.code, tt.err)
		}
	}
}

func TestConsentEndToEnd(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	day := time.Now().UTC().Format("20060102")
	want := "optin:selfserve:DemoAPI:919876543210:" + day + "\n"
	if r := enqueuer(t, env, "optin", "--phone", "+91 98765 43210"); r.code != exitOK || r.stdout != want {
		t.Fatalf("optin: exit %d %q %s, want %q", r.code, r.stdout, r.stderr, want)
	}
	if r := enqueuer(t, env, "optin", "--phone", "919876543210"); r.code != exitOK || r.stdout != "duplicate\n" {
		t.Fatalf("repeated optin: %d %q", r.code, r.stdout)
	}
	if r := enqueuer(t, env, "optout", "--phone", "919876543210", "--family", "enterprise"); r.code != exitOK || !strings.HasPrefix(r.stdout, "optout:enterprise:DemoAPI:") {
		t.Fatalf("optout: %d %q %s", r.code, r.stdout, r.stderr)
	}
	info, err := inspector(t, srv).GetTaskInfo(tasks.QueueDefault, strings.TrimSpace(want))
	if err != nil || info.Type != tasks.TypeOptIn {
		t.Fatalf("%+v %v", info, err)
	}
	if r := enqueuer(t, env, "optout"); r.code != exitUsage || !strings.Contains(r.stderr, "--phone is required") {
		t.Fatalf("no phone: %d %s", r.code, r.stderr)
	}
	if r := enqueuer(t, env, "optout", "--phone", "12"); r.code != exitRejected || !strings.Contains(r.stderr, "phone: not an E.164 number") {
		t.Fatalf("bad phone: %d %s", r.code, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	csvFile := writeFile(t, "c.csv", "destination,param1\n919876543210,A\n")
	badHeader := writeFile(t, "h.csv", "destination,param1,nmae\n919876543210,A,x\n")
	jsonl := writeFile(t, "c.jsonl", `{"destination":"919876543210","template":{"id":"t"}}`+"\n")
	txt := writeFile(t, "c.txt", "destination\n")
	down := redistest.Start(t)
	down.Stop()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		err  string
	}{
		{"no command", env, nil, "usage: enqueuer <command>"},
		{"unknown command", env, []string{"blast"}, `unknown command "blast"`},
		{"unknown flag", env, []string{"campaign", "--fiel", csvFile}, "flag provided but not defined: -fiel"},
		{"stray argument", env, []string{"optin", "--phone", "919876543210", "extra"}, `unexpected argument "extra"`},
		{"no file", env, []string{"campaign", "--campaign", "c", "--template-id", "t"}, "--file is required"},
		{"no campaign", env, []string{"campaign", "--file", csvFile, "--template-id", "t"}, "--campaign is required"},
		{"bad campaign", env, []string{"campaign", "--file", csvFile, "--campaign", "a b", "--template-id", "t"}, "--campaign: contains whitespace"},
		{"csv without template", env, []string{"campaign", "--file", csvFile, "--campaign", "c"}, "needs --template-id"},
		{"csv enterprise", env, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t", "--family", "enterprise"}, "use a JSONL file"},
		{"jsonl with template flags", env, []string{"campaign", "--file", jsonl, "--campaign", "c", "--template-id", "t"}, "apply to CSV files"},
		{"unknown extension", env, []string{"campaign", "--file", txt, "--campaign", "c"}, "give --format csv"},
		{"missing file", env, []string{"campaign", "--file", filepath.Join(t.TempDir(), "nope.csv"), "--campaign", "c", "--template-id", "t"}, "no such file"},
		{"unknown column", env, []string{"campaign", "--file", badHeader, "--campaign", "c", "--template-id", "t"}, badHeader + `:1: header: unknown column(s) "nmae"`},
		{"bad family", env, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t", "--family", "sms"}, `--family "sms"`},
		{"bad queue", env, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t", "--queue", "urgent"}, `--queue: unknown "urgent"`},
		{"bad media type", env, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t", "--media-type", "gif"}, `--media-type "gif"`},
		{"no source", map[string]string{envRedisURL: srv.URL}, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t"}, "--source (or $GUPSHUP_SOURCE) is required"},
		{"no redis url", map[string]string{envSource: "14155550100"}, []string{"campaign", "--file", csvFile, "--campaign", "c", "--template-id", "t"}, "--redis-url (or $REDIS_URL) is required"},
		{"bad redis url", map[string]string{envRedisURL: "http://u:secret@x", envSource: "14155550100"}, []string{"optin", "--phone", "919876543210"}, `enqueuer optin: REDIS_URL with scheme "http"`},
		{"redis down", map[string]string{envRedisURL: down.URL}, []string{"optin", "--phone", "919876543210"}, "cannot reach Redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := enqueuer(t, tt.env, tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.err) {
				t.Fatalf("exit %d stderr %q, want 2 with %q", r.code, r.stderr, tt.err)
			}
			if strings.Contains(r.stderr, "secret") {
				t.Fatalf("stderr shows the Redis password: %s", r.stderr)
			}
		})
	}
}

// TestHelp checks that -h documents every flag of each command, and that
// the environment defaults are named without printing their values.
func TestHelp(t *testing.T) {
	common := []string{"redis-url", "app", "family"}
	flags := map[string][]string{
		"campaign": {"source", "file", "format", "campaign", "template-id", "media-type", "language", "queue", "at", "expires-in", "workers", "dry-run", "json", "progress"},
		"send":     {"source", "to", "text", "image", "caption", "template-id", "param", "language", "media-type", "media-url", "queue", "message-id", "campaign", "at", "expires-in"},
		"optin":    {"phone", "queue"},
		"optout":   {"phone", "queue"},
	}
	env := map[string]string{envRedisURL: "redis://:hunter2@localhost:1"}
	for cmd, names := range flags {
		r := enqueuer(t, env, cmd, "-h")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "usage: enqueuer "+cmd) {
			t.Fatalf("%s -h: exit %d %q", cmd, r.code, r.stdout)
		}
		for _, f := range append(names, common...) {
			if !strings.Contains(r.stdout, "  -"+f+" ") && !strings.Contains(r.stdout, "  -"+f+"\n") {
				t.Errorf("%s -h does not document -%s", cmd, f)
			}
		}
		if strings.Contains(r.stdout, "hunter2") {
			t.Errorf("%s -h prints REDIS_URL's password", cmd)
		}
	}
	r := enqueuer(t, env, "campaign", "-h")
	for _, e := range []string{"$REDIS_URL", "$GUPSHUP_SOURCE", "$GUPSHUP_APP_NAME"} {
		if !strings.Contains(r.stdout, e) {
			t.Errorf("campaign -h does not name %s", e)
		}
	}
	if r := enqueuer(t, env, "--help"); r.code != exitOK || !strings.Contains(r.stdout, "campaign") {
		t.Fatalf("--help: %d %q", r.code, r.stdout)
	}
}

func TestLogFormats(t *testing.T) {
	srv := redistest.Start(t)
	file := writeFile(t, "c.csv", "destination,param1\n919876543210,A\nbad,B\n")
	args := []string{"campaign", "--file", file, "--campaign", "c", "--template-id", "t"}

	env := testEnv(srv)
	r := enqueuer(t, env, args...)
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(line, file+":") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["level"] == nil || m["message"] == nil {
			t.Fatalf("log line is not zerolog JSON: %q", line)
		}
	}
	if !strings.Contains(r.stderr, file+":3: destination: not an E.164 number") {
		t.Fatalf("stderr %s", r.stderr)
	}

	env["LOG_FORMAT"] = "console"
	r = enqueuer(t, env, args...)
	if !strings.Contains(r.stderr, "INF done") || strings.Contains(r.stderr, `"level"`) {
		t.Fatalf("console log: %s", r.stderr)
	}
}

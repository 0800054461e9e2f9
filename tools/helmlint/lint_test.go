package main

import (
	"bytes"
	"go/version"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	repoRoot = "../.."
	chartDir = repoRoot + "/deploy/helm/waqueue"
)

func testOptions(dir string) Options {
	return Options{ChartDir: dir, KubeVersion: "v1.30.0", Namespace: "waqueue", Release: "waqueue"}
}

func TestMain(m *testing.M) {
	quietHelmLog()
	os.Exit(m.Run())
}

// The chart as shipped: its defaults and every example are clean.
func TestChartAndExamplesPass(t *testing.T) {
	cases, err := loadCases(filepath.Join(chartDir, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"minimal.yaml", "production.yaml", "asynqmon.yaml", "enqueuer-job.yaml"} {
		found := false
		for _, c := range cases {
			found = found || c.Name == "examples/"+want
		}
		if !found {
			t.Errorf("examples/%s is missing", want)
		}
	}
	for _, c := range cases {
		r := CheckCase(testOptions(chartDir), c)
		for _, p := range r.Problems {
			t.Errorf("%s: %s", c.Name, p)
		}
		if len(r.Objects) == 0 {
			t.Errorf("%s: rendered nothing", c.Name)
		}
	}
	for _, p := range checkSettings(chartDir, filepath.Join(repoRoot, "cmd", "worker", "config.go")) {
		t.Error(p)
	}
	// Names stay within Kubernetes' limits under a long release name and
	// a long campaign id.
	long := testOptions(chartDir)
	long.Release = "a-release-name-long-enough-to-need-truncating-everywhere"
	for _, c := range cases {
		if e, ok := c.Values["enqueuer"].(map[string]any); ok {
			e["campaign"] = strings.Repeat("Campaign id with spaces/slashes ", 4)
		}
		r := CheckCase(long, c)
		for _, p := range r.Problems {
			t.Errorf("%s, release %s: %s", c.Name, long.Release, p)
		}
	}
}

// NOTES.txt tells how to set the callback URL, with the token.
func TestNotesGiveTheCallbackURL(t *testing.T) {
	cases, err := loadCases(filepath.Join(chartDir, "examples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		files, err := renderCase(testOptions(chartDir), c)
		if err != nil {
			t.Fatal(err)
		}
		notes := files["waqueue/templates/NOTES.txt"]
		want := "/webhooks/gupshup/<WEBHOOK_TOKEN>"
		if c.Name == "examples/production.yaml" {
			want = "https://wa-callbacks.example.com/webhooks/gupshup/<WEBHOOK_TOKEN>"
		}
		if !strings.Contains(notes, want) {
			t.Errorf("%s: NOTES.txt lacks %q:\n%s", c.Name, want, notes)
		}
		if c.Name != "defaults" && !strings.Contains(notes, "{.data.WEBHOOK_TOKEN}") {
			t.Errorf("%s: NOTES.txt does not say how to read the token", c.Name)
		}
	}
}

// Values that must be refused, each with a piece of the reason. Every one
// is the defaults plus one mistake.
func TestBrokenValuesFail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		want   string
	}{
		{"misspelt setting", `config: {SEND_RATEE: 5}`, "SEND_RATEE"},
		{"misspelt top-level key", `autoscalling: {enabled: true}`, "autoscalling"},
		{"setting of the wrong type", `config: {WORKER_CONCURRENCY: fifty}`, "WORKER_CONCURRENCY"},
		{"unquoted phone number", `config: {GUPSHUP_SOURCE: 919876543210}`, "GUPSHUP_SOURCE"},
		{"not a Go duration", `config: {RETRY_BASE: 10 seconds}`, "RETRY_BASE"},
		{"SHUTDOWN_TIMEOUT the chart cannot add up", `config: {SHUTDOWN_TIMEOUT: 1500ms}`, "SHUTDOWN_TIMEOUT"},
		{"loopback listen address", `config: {HTTP_ADDR: "127.0.0.1:8080"}`, "HTTP_ADDR"},
		{"unknown secret key", `secrets: {values: {GUPSHUP_APIKEY: x}}`, "GUPSHUP_APIKEY"},
		{"existing Secret without REDIS_URL", `secrets: {existingSecret: s, existingSecretKeys: [GUPSHUP_API_KEY]}`, "existingSecretKeys"},
		{"existing Secret and chart values", `secrets: {existingSecret: s, values: {GUPSHUP_API_KEY: k}}`, "existingSecret"},
		{"no Redis", `secrets: {values: {REDIS_URL: ""}}`, "REDIS_URL"},
		{"grace period shorter than the drain", `worker: {terminationGracePeriodSeconds: 20}`, "terminationGracePeriodSeconds"},
		{"unknown field in a passthrough object", `worker: {tolerations: [{keyy: a, operator: Exists}]}`, `tolerations[0].keyy"`},
		{"ill-typed field in a passthrough object", `worker: {tolerations: [{key: a, operator: Exists, effect: NoExecute, tolerationSeconds: soon}]}`, "tolerationSeconds"},
		{"unknown field in an env var", `worker: {extraEnv: [{name: X, valu: "1"}]}`, `env[1].valu"`},
		{"mount of a volume that does not exist", `worker: {extraVolumeMounts: [{name: cache, mountPath: /cache}]}`, `volumeMount "cache" names no volume`},
		{"quantity that is not one", `worker: {resources: {requests: {cpu: lots, memory: 1Gi}, limits: {memory: 1Gi}}}`, "quantities must match"},
		{"request above its limit", `worker: {resources: {requests: {cpu: 1, memory: 2Gi}, limits: {memory: 1Gi}}}`, "above its limit"},
		{"root user", `podSecurityContext: {runAsUser: 0, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}`, "runAsUser is 0"},
		{"writable root filesystem", `containerSecurityContext: {readOnlyRootFilesystem: false, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}`, "readOnlyRootFilesystem"},
		{"unknown field in a ServiceMonitor", `serviceMonitor: {enabled: true, relabelings: [{sourceLabel: [__name__]}]}`, `relabelings[0].sourceLabel"`},
		{"relabel action the CRD refuses", `serviceMonitor: {enabled: true, relabelings: [{action: rewrite}]}`, `action "rewrite"`},
		{"scrape timeout above the interval", `serviceMonitor: {enabled: true, interval: 5s, scrapeTimeout: 10s}`, "scrapeTimeout"},
		{"HPA without a metric", `autoscaling: {enabled: true, cpu: {enabled: false, targetAverageUtilization: 70}}`, "autoscaling"},
		{"queue-depth HPA with a bad quantity", `autoscaling: {enabled: true, queueDepth: {enabled: true, type: External, metricName: m, targetAverageValue: "many"}}`, "quantities must match"},
		{"PDB percentage typo", `podDisruptionBudget: {enabled: true, maxUnavailable: "50 %"}`, "maxUnavailable"},
		{"Ingress without a host", `ingress: {enabled: true}`, "ingress.host"},
		{"enqueuer without a campaign", `enqueuer: {enabled: true, templateId: t, file: {name: c.csv, inline: "destination\n"}}`, "campaign"},
		{"enqueuer without a file", `enqueuer: {enabled: true, campaign: c, templateId: t}`, "exactly one of"},
		{"enqueuer CSV without a template", `enqueuer: {enabled: true, campaign: c, file: {name: c.csv, inline: "destination\n"}}`, "templateId"},
		{"enqueuer volume of an unknown kind", `enqueuer: {enabled: true, campaign: c, templateId: t, file: {name: c.csv, volume: {persistentVolumeClaimm: {claimName: x}}}}`, `volumes[0].persistentVolumeClaimm"`},
		{"asynqmon image tag latest", `asynqmon: {enabled: true, image: {repository: hibiken/asynqmon, tag: latest, digest: "", pullPolicy: Always}}`, "latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := readValues(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			r := CheckCase(testOptions(chartDir), Case{Name: tc.name, Values: vals})
			if len(r.Problems) == 0 {
				t.Fatalf("no problem found; want one mentioning %q", tc.want)
			}
			if !anyContains(r.Problems, tc.want) {
				t.Fatalf("no problem mentions %q:\n%s", tc.want, strings.Join(r.Problems, "\n"))
			}
		})
	}
}

// Mistakes in the templates themselves, in a copy of the chart.
func TestBrokenTemplatesFail(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		edit  func(string) string
		want  string
		extra string // a new template file, when edit is nil
	}{
		{name: "syntax error", file: "templates/broken.yaml", extra: "{{ if }}\n", want: "broken.yaml"},
		{name: "value that does not exist", file: "templates/broken.yaml", extra: "{{ .Values.worker.nope.deeper }}\n", want: "nope"},
		{name: "misspelt field of a built-in kind", file: "templates/service.yaml",
			edit: func(s string) string { return strings.Replace(s, "targetPort: http", "targetPrt: http", 1) }, want: `unknown field "spec.ports[0].targetPrt"`},
		{name: "ill-typed field of a built-in kind", file: "templates/service.yaml",
			edit: func(s string) string {
				return strings.Replace(s, "port: {{ .Values.service.port }}", "port: {{ .Values.service.port | quote }}", 1)
			}, want: "port"},
		{name: "key given twice", file: "templates/service.yaml",
			edit: func(s string) string {
				return strings.Replace(s, "  type: {{ .Values.service.type }}", "  type: ClusterIP\n  type: NodePort", 1)
			}, want: "type"},
		{name: "kind the API does not have", file: "templates/broken.yaml",
			extra: "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", want: "not a kind"},
		{name: "Service port that no container has", file: "templates/service.yaml",
			edit: func(s string) string { return strings.Replace(s, "targetPort: http", "targetPort: metrics", 1) }, want: "targets metrics"},
		{name: "selector that matches no pods", file: "templates/pdb.yaml",
			edit: func(s string) string {
				return strings.Replace(s, `(list . "worker") | nindent 6`, `(list . "workers") | nindent 6`, 1)
			}, want: "matches no pods"},
		{name: "probe on a port the container lacks", file: "templates/deployment.yaml",
			edit: func(s string) string {
				return strings.Replace(s, "path: /readyz\n              port: http", "path: /readyz\n              port: 9090", 1)
			}, want: "readinessProbe port 9090"},
		{name: "secret file not mounted", file: "templates/deployment.yaml",
			edit: func(s string) string {
				return strings.Replace(s, `printf "%s/%s" $.Values.secrets.mountPath .`, `printf "/elsewhere/%s" .`, 1)
			}, want: "not a file of a mounted Secret"},
		{name: "ServiceMonitor field the minimal schema lacks", file: "templates/servicemonitor.yaml",
			edit: func(s string) string {
				return strings.Replace(s, "      path: /metrics\n", "      path: /metrics\n      bearerTokenSecret: {}\n", 1)
			}, want: `unknown field "spec.endpoints[0].bearerTokenSecret"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyChart(t)
			p := filepath.Join(dir, tc.file)
			if tc.edit != nil {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				edited := tc.edit(string(b))
				if edited == string(b) {
					t.Fatalf("the edit changed nothing in %s: the test is out of date", tc.file)
				}
				if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(p, []byte(tc.extra), 0o644); err != nil {
				t.Fatal(err)
			}
			vals := map[string]any{"serviceMonitor": map[string]any{"enabled": true}}
			r := CheckCase(testOptions(dir), Case{Name: tc.name, Values: vals})
			if !anyContains(r.Problems, tc.want) {
				t.Fatalf("no problem mentions %q:\n%s", tc.want, strings.Join(r.Problems, "\n"))
			}
		})
	}
}

// The command exits 1 when one example is broken and 0 on the chart as it
// is: what make helm-lint relies on.
func TestExitStatus(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-repo", repoRoot}, &out, &out); code != 0 {
		t.Fatalf("exit %d on the chart as shipped:\n%s", code, out.String())
	}
	examples := t.TempDir()
	if err := os.WriteFile(filepath.Join(examples, "typo.yaml"), []byte("worker:\n  replica: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"-repo", repoRoot, "-examples", examples}, &out, &out); code != 1 {
		t.Fatalf("exit %d with a misspelt value, want 1:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "FAIL examples/typo.yaml") || !strings.Contains(out.String(), "replica") {
		t.Fatalf("the report does not name the broken example and key:\n%s", out.String())
	}
}

// The grace period is computed from SHUTDOWN_TIMEOUT: preStop sleep +
// SHUTDOWN_TIMEOUT + 5 s + margin.
func TestGracePeriodFollowsShutdownTimeout(t *testing.T) {
	for _, tc := range []struct {
		values string
		want   int64
	}{
		{`{}`, 5 + 20 + 5 + 10},
		{`config: {SHUTDOWN_TIMEOUT: 1m30s}`, 5 + 90 + 5 + 10},
		{`config: {SHUTDOWN_TIMEOUT: 1h}`, 5 + 3600 + 5 + 10},
		{`{config: {SHUTDOWN_TIMEOUT: 45s}, worker: {preStopSleepSeconds: 0, terminationGraceMarginSeconds: 0}}`, 45 + 5},
		{`worker: {terminationGracePeriodSeconds: 31}`, 31},
	} {
		d := renderDeployment(t, tc.values, "Deployment/waqueue")
		got := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if got == nil || *got != tc.want {
			t.Errorf("%s: terminationGracePeriodSeconds %v, want %d", tc.values, got, tc.want)
		}
	}
}

// Helm reads numbers as floats: the ConfigMap must still say 1000000.
func TestLargeNumbersStayIntegers(t *testing.T) {
	cm := renderConfigMap(t, `config: {WORKER_CONCURRENCY: 1000000, SEND_RATE: 0.5, GUPSHUP_LEGACY_PATHS: true}`)
	for k, want := range map[string]string{"WORKER_CONCURRENCY": "1000000", "SEND_RATE": "0.5", "GUPSHUP_LEGACY_PATHS": "true", "HTTP_ADDR": ":8080"} {
		if cm.Data[k] != want {
			t.Errorf("%s = %q, want %q", k, cm.Data[k], want)
		}
	}
	if _, ok := cm.Data["LOG_LEVEL"]; ok {
		t.Error("an unset (null) setting is in the ConfigMap; it would pin the worker's default")
	}
}

// Every credential reaches the worker as a file, none as a variable.
func TestSecretsAreFiles(t *testing.T) {
	d := renderDeployment(t, `secrets: {values: {GUPSHUP_API_KEY: k, WEBHOOK_TOKEN: w, GUPSHUP_PARTNER_APP_TOKEN: p}}`, "Deployment/waqueue")
	c := d.Spec.Template.Spec.Containers[0]
	files := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from %v; the worker takes secrets as files", e.Name, e.ValueFrom)
		}
		files[e.Name] = e.Value
	}
	for _, k := range []string{"REDIS_URL", "GUPSHUP_API_KEY", "WEBHOOK_TOKEN", "GUPSHUP_PARTNER_APP_TOKEN"} {
		if files[k+"_FILE"] != "/var/run/secrets/waqueue/"+k {
			t.Errorf("%s_FILE = %q", k, files[k+"_FILE"])
		}
	}
	if _, ok := files["GUPSHUP_ENTERPRISE_PASSWORD_FILE"]; ok {
		t.Error("an empty secret value is passed as a file the Secret does not hold")
	}
}

// A worker setting the chart does not know, or a chart setting the
// worker does not have, fails the comparison.
func TestSettingsDrift(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "worker", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	added := strings.Replace(string(src), "var settings = []setting{\n",
		"var settings = []setting{\n\t{env: \"BRAND_NEW\", flag: \"brand-new\"},\n\t{env: \"NEW_SECRET\", flag: \"new-secret\", secret: true},\n", 1)
	if added == string(src) {
		t.Fatal("cannot find the settings table in config.go: the test is out of date")
	}
	file := filepath.Join(t.TempDir(), "config.go")
	if err := os.WriteFile(file, []byte(added), 0o644); err != nil {
		t.Fatal(err)
	}
	problems := checkSettings(chartDir, file)
	for _, want := range []string{"properties.config lacks the worker setting BRAND_NEW", "values.yaml secrets.values lacks the worker setting NEW_SECRET"} {
		if !anyContains(problems, want) {
			t.Errorf("no problem says %q:\n%s", want, strings.Join(problems, "\n"))
		}
	}
}

// The chart runs what the Dockerfile builds: the entrypoint is the worker,
// the enqueuer is where enqueuer.command says, the user is the one the
// security context names, and the Go of the build image can build go.mod.
func TestDockerfileMatchesChart(t *testing.T) {
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		PodSecurityContext struct {
			RunAsUser  int64 `json:"runAsUser"`
			RunAsGroup int64 `json:"runAsGroup"`
		} `json:"podSecurityContext"`
		Enqueuer struct {
			Command []string `json:"command"`
		} `json:"enqueuer"`
	}
	vb, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(vb, &values); err != nil {
		t.Fatal(err)
	}
	text := string(df)
	for _, want := range []string{
		`ENTRYPOINT ["/usr/local/bin/worker"]`,
		"COPY --from=build /out/ /usr/local/bin/",
		"./cmd/worker", "./cmd/enqueuer",
		"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	if len(values.Enqueuer.Command) == 0 || values.Enqueuer.Command[0] != "/usr/local/bin/enqueuer" {
		t.Errorf("enqueuer.command %v is not the enqueuer the Dockerfile installs", values.Enqueuer.Command)
	}
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(text)
	if user == nil {
		t.Fatal("the Dockerfile has no numeric USER uid:gid")
	}
	if user[1] != strconv.FormatInt(values.PodSecurityContext.RunAsUser, 10) || user[2] != strconv.FormatInt(values.PodSecurityContext.RunAsGroup, 10) {
		t.Errorf("Dockerfile USER %s:%s, chart podSecurityContext %d:%d", user[1], user[2], values.PodSecurityContext.RunAsUser, values.PodSecurityContext.RunAsGroup)
	}
	goArg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(text)
	gm, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gm)
	if goArg == nil || goLine == nil {
		t.Fatal("cannot find ARG GO_VERSION in the Dockerfile or the go line of go.mod")
	}
	if version.Compare("go"+goArg[1], "go"+string(goLine[1])) < 0 {
		t.Errorf("Dockerfile GO_VERSION %s is older than go.mod's go %s: the build image refuses the module", goArg[1], goLine[1])
	}
}

func readValues(s string) (map[string]any, error) {
	v := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return v, nil
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// copyChart copies the chart into a temporary directory named like the
// chart (helm lint wants the directory to carry the chart's name).
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "waqueue")
	err := filepath.WalkDir(chartDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// renderObjects renders the chart with values and decodes the objects,
// failing the test on any problem.
func renderObjects(t *testing.T, values string) []object {
	t.Helper()
	vals, err := readValues(values)
	if err != nil {
		t.Fatal(err)
	}
	files, err := renderCase(testOptions(chartDir), Case{Name: values, Values: vals})
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	objs := decodeAll(files, &rep)
	for _, p := range rep.Problems {
		t.Error(p)
	}
	return objs
}

func renderDeployment(t *testing.T, values, ref string) *appsv1.Deployment {
	t.Helper()
	for _, o := range renderObjects(t, values) {
		if d, ok := o.obj.(*appsv1.Deployment); ok && o.ref() == ref {
			return d
		}
	}
	t.Fatalf("%s: no %s rendered", values, ref)
	return nil
}

func renderConfigMap(t *testing.T, values string) *corev1.ConfigMap {
	t.Helper()
	for _, o := range renderObjects(t, values) {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok && o.name == "waqueue" {
			return cm
		}
	}
	t.Fatalf("%s: no ConfigMap rendered", values)
	return nil
}

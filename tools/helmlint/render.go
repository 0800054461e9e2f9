package main

import (
	"fmt"
	"io"
	"log"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// Options say what to check and as which cluster.
type Options struct {
	ChartDir string
	// KubeVersion is the cluster version templates are rendered for
	// (.Capabilities) and deprecated APIs are judged by. The chart's own
	// kubeVersion constraint must admit it.
	KubeVersion string
	Namespace   string
	Release     string
}

// Case is one set of values the chart must render cleanly with.
type Case struct {
	Name   string
	Values map[string]any
}

// Report is what one case produced.
type Report struct {
	Case     string
	Objects  []string // kind/name of every rendered object
	Problems []string
}

func (r *Report) addf(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// loadCases returns the defaults (no override) and one case per values
// file in dir, in name order.
func loadCases(dir string) ([]Case, error) {
	cases := []Case{{Name: "defaults", Values: map[string]any{}}}
	if dir == "" {
		return cases, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no values examples (*.yaml) in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		cases = append(cases, Case{Name: "examples/" + filepath.Base(f), Values: v.AsMap()})
	}
	return cases, nil
}

// helm's engine and linter report some things through the standard
// logger (a `required` or `fail` met while linting): what matters of them
// is found again by the strict render, so they are kept off the output.
func quietHelmLog() { log.SetOutput(io.Discard) }

func kubeVersion(o Options) (*chartutil.KubeVersion, error) {
	kv, err := chartutil.ParseKubeVersion(o.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", o.KubeVersion, err)
	}
	return kv, nil
}

// CheckCase lints the chart with the case's values, renders it strictly
// and checks every rendered object.
func CheckCase(o Options, c Case) Report {
	rep := Report{Case: c.Name}
	kv, err := kubeVersion(o)
	if err != nil {
		rep.addf("%v", err)
		return rep
	}

	// helm lint: Chart.yaml, values against the schema, template syntax,
	// YAML of each rendered file, deprecated APIs for this version.
	linter := lint.AllWithKubeVersion(o.ChartDir, copyValues(c.Values), o.Namespace, kv)
	for _, m := range linter.Messages {
		// The strict render below reports a schema violation too, once.
		if m.Severity >= support.WarningSev && !strings.Contains(m.Err.Error(), "values don't meet the specifications") {
			rep.addf("helm lint: %s", m.Error())
		}
	}

	ch, err := loader.Load(o.ChartDir)
	if err != nil {
		rep.addf("load chart: %v", err)
		return rep
	}
	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, kv.Version) {
		rep.addf("Chart.yaml kubeVersion %q does not admit %s, the version the chart is checked against", ch.Metadata.KubeVersion, kv.Version)
	}
	files, err := render(ch, c.Values, o, kv)
	if err != nil {
		rep.addf("render: %v", err)
		return rep
	}
	before := len(rep.Problems)
	objs := decodeAll(files, &rep)
	for _, ob := range objs {
		rep.Objects = append(rep.Objects, ob.ref())
	}
	// An object that did not decode is missing from the cross-object
	// checks, which would then report everything that points at it as
	// well: fix the decoding first.
	if len(rep.Problems) == before {
		checkObjects(objs, &rep)
	}
	return rep
}

// renderCase renders the chart with a case's values.
func renderCase(o Options, c Case) (map[string]string, error) {
	kv, err := kubeVersion(o)
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(o.ChartDir)
	if err != nil {
		return nil, err
	}
	return render(ch, c.Values, o, kv)
}

// render is `helm template` with two differences: a missing value is an
// error (Strict), and `fail` and `required` are never relaxed as they are
// in lint mode.
func render(ch *chart.Chart, vals map[string]any, o Options, kv *chartutil.KubeVersion) (map[string]string, error) {
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, err
	}
	coalesced, err := chartutil.CoalesceValues(ch, copyValues(vals))
	if err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	top, err := chartutil.ToRenderValues(ch, coalesced, chartutil.ReleaseOptions{
		Name: o.Release, Namespace: o.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	e := engine.Engine{Strict: true}
	return e.Render(ch, top)
}

// manifests splits the rendered files into documents, leaving out
// NOTES.txt (it is rendered, so its template errors count, but it is not
// an object) and empty documents.
func manifests(files map[string]string) []document {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var docs []document
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.HasPrefix(filepath.Base(n), "_") {
			continue
		}
		parts := releaseutil.SplitManifests(files[n])
		keys := make([]string, 0, len(parts))
		for k := range parts {
			keys = append(keys, k)
		}
		// SplitManifests names the parts manifest-0, manifest-1, ...
		sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
		for _, k := range keys {
			if strings.TrimSpace(stripComments(parts[k])) == "" {
				continue
			}
			docs = append(docs, document{file: n, body: parts[k]})
		}
	}
	return docs
}

type document struct {
	file string
	body string
}

func manifestIndex(k string) int {
	var i int
	fmt.Sscanf(strings.TrimPrefix(k, "manifest-"), "%d", &i)
	return i
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// copyValues deep-copies values: helm's coalescing writes into the maps
// it is given, and one case must not leak into the next.
func copyValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return copyValues(t)
	case []any:
		out := make([]any, len(t))
		for i, y := range t {
			out[i] = copyValue(y)
		}
		return out
	}
	return x
}

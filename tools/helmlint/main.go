// Command helmlint checks the waqueue Helm chart offline: helm lint, then
// for the chart's defaults and for every values file under the chart's
// examples/ it renders the chart strictly and decodes every object into
// its Kubernetes API type, refusing unknown and ill-typed fields; custom
// resources (ServiceMonitor) are checked against a minimal schema of
// their own. Cross-object checks follow: selectors, ports, references,
// security contexts, the termination grace period. Finally the chart's
// settings are compared with the worker's settings table.
//
// Helm and the Kubernetes API types are Go modules, so this needs no
// helm binary, no cluster and no network once the modules are in the
// module cache. It lives in a module of its own so that the worker's
// module never depends on Helm's large dependency tree.
//
// Exit status: 0 all clean, 1 problems found, 2 usage error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("helmlint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", ".", "root of the waqueue repository")
	chartDir := fs.String("chart", "", "chart directory (default <repo>/deploy/helm/waqueue)")
	examples := fs.String("examples", "", "directory of values files to render the chart with (default <chart>/examples)")
	workerConfig := fs.String("worker-config", "", "the worker's settings table (default <repo>/cmd/worker/config.go); - skips the comparison")
	kube := fs.String("kube-version", "v1.30.0", "Kubernetes version to render for; the chart's kubeVersion must admit it")
	verbose := fs.Bool("v", false, "list every rendered object")
	show := fs.String("show", "", "print the rendered manifests and NOTES of one value set (defaults, or examples/<file>) instead of checking; with no helm binary at hand, this is `helm template`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *chartDir == "" {
		*chartDir = filepath.Join(*repo, "deploy", "helm", "waqueue")
	}
	if *examples == "" {
		*examples = filepath.Join(*chartDir, "examples")
	}
	if *workerConfig == "" {
		*workerConfig = filepath.Join(*repo, "cmd", "worker", "config.go")
	}
	quietHelmLog()

	start := time.Now()
	cases, err := loadCases(*examples)
	if err != nil {
		fmt.Fprintln(stderr, "helmlint:", err)
		return 2
	}
	o := Options{ChartDir: *chartDir, KubeVersion: *kube, Namespace: "waqueue", Release: "waqueue"}
	if *show != "" {
		for _, c := range cases {
			if c.Name == *show {
				return showCase(o, c, stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "helmlint: no value set %q\n", *show)
		return 2
	}
	failed := 0
	if *workerConfig != "-" {
		problems := checkSettings(*chartDir, *workerConfig)
		failed += report(stdout, "worker settings", nil, problems, *verbose)
	}
	for _, c := range cases {
		r := CheckCase(o, c)
		failed += report(stdout, r.Case, r.Objects, r.Problems, *verbose)
	}
	fmt.Fprintf(stdout, "helmlint: %s, %d value sets, kube %s, %.1fs\n", *chartDir, len(cases), *kube, time.Since(start).Seconds())
	if failed > 0 {
		fmt.Fprintf(stdout, "helmlint: %d problems\n", failed)
		return 1
	}
	return 0
}

func report(w io.Writer, name string, objects, problems []string, verbose bool) int {
	status := "ok  "
	if len(problems) > 0 {
		status = "FAIL"
	}
	if objects != nil {
		fmt.Fprintf(w, "%s %s: %d objects\n", status, name, len(objects))
	} else {
		fmt.Fprintf(w, "%s %s\n", status, name)
	}
	if verbose {
		for _, o := range objects {
			fmt.Fprintf(w, "       %s\n", o)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(w, "     - %s\n", p)
	}
	return len(problems)
}

func showCase(o Options, c Case, stdout, stderr io.Writer) int {
	files, err := renderCase(o, c)
	if err != nil {
		fmt.Fprintln(stderr, "helmlint:", err)
		return 1
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.TrimSpace(files[n]) == "" || strings.HasPrefix(filepath.Base(n), "_") {
			continue
		}
		fmt.Fprintf(stdout, "---\n# Source: %s\n%s\n", n, strings.TrimSpace(files[n]))
	}
	return 0
}

package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"sigs.k8s.io/yaml"
)

// workerSetting is one entry of the worker's settings table.
type workerSetting struct {
	env    string
	secret bool
}

// readWorkerSettings reads the settings table of cmd/worker (the
// `settings` variable of config.go) from its source. Parsing the source,
// rather than importing the package, keeps this module free of the
// worker's dependencies and the worker free of this one.
func readWorkerSettings(file string) ([]workerSetting, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		return nil, err
	}
	var out []workerSetting
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "settings" || len(vs.Values) != 1 {
			return true
		}
		list, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		found = true
		for _, el := range list.Elts {
			lit, ok := el.(*ast.CompositeLit)
			if !ok {
				continue
			}
			var s workerSetting
			for _, kv := range lit.Elts {
				kv, ok := kv.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				key, _ := kv.Key.(*ast.Ident)
				if key == nil {
					continue
				}
				switch key.Name {
				case "env":
					if b, ok := kv.Value.(*ast.BasicLit); ok {
						s.env, _ = strconv.Unquote(b.Value)
					}
				case "secret":
					if id, ok := kv.Value.(*ast.Ident); ok {
						s.secret = id.Name == "true"
					}
				}
			}
			if s.env != "" {
				out = append(out, s)
			}
		}
		return false
	})
	if !found || len(out) == 0 {
		return nil, fmt.Errorf("%s: no `settings` table with env fields found", file)
	}
	return out, nil
}

// checkSettings compares the worker's settings with the chart: every
// non-secret setting is a key of config, every secret one a key of
// secrets.values, in values.schema.json and values.yaml alike, and
// nothing else is. A setting added to the worker without the chart, or
// kept in the chart after the worker dropped it, fails here.
func checkSettings(chartDir, configGo string) []string {
	settings, err := readWorkerSettings(configGo)
	if err != nil {
		return []string{err.Error()}
	}
	var plain, secret []string
	for _, s := range settings {
		if s.secret {
			secret = append(secret, s.env)
		} else {
			plain = append(plain, s.env)
		}
	}

	var problems []string
	schemaKeys, err := schemaProperties(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		return []string{err.Error()}
	}
	valuesKeys, err := valuesProperties(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return []string{err.Error()}
	}
	for _, c := range []struct {
		where string
		have  []string
		want  []string
	}{
		{"values.schema.json properties.config", schemaKeys.config, plain},
		{"values.schema.json properties.secrets.values", schemaKeys.secrets, secret},
		{"values.yaml config", valuesKeys.config, plain},
		{"values.yaml secrets.values", valuesKeys.secrets, secret},
	} {
		missing, extra := diff(c.have, c.want)
		for _, k := range missing {
			problems = append(problems, fmt.Sprintf("%s lacks the worker setting %s (%s)", c.where, k, configGo))
		}
		for _, k := range extra {
			problems = append(problems, fmt.Sprintf("%s has %s, which is not a worker setting of this kind (%s)", c.where, k, configGo))
		}
	}
	return problems
}

type settingKeys struct{ config, secrets []string }

func schemaProperties(file string) (settingKeys, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return settingKeys{}, err
	}
	type props struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var root struct {
		Properties struct {
			Config  props `json:"config"`
			Secrets struct {
				Properties struct {
					Values props `json:"values"`
				} `json:"properties"`
			} `json:"secrets"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &root); err != nil {
		return settingKeys{}, fmt.Errorf("%s: %w", file, err)
	}
	return settingKeys{
		config:  keys(root.Properties.Config.Properties),
		secrets: keys(root.Properties.Secrets.Properties.Values.Properties),
	}, nil
}

func valuesProperties(file string) (settingKeys, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return settingKeys{}, err
	}
	var v struct {
		Config  map[string]any `json:"config"`
		Secrets struct {
			Values map[string]any `json:"values"`
		} `json:"secrets"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return settingKeys{}, fmt.Errorf("%s: %w", file, err)
	}
	return settingKeys{config: keys(v.Config), secrets: keys(v.Secrets.Values)}, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diff returns what want has and have lacks, and the reverse.
func diff(have, want []string) (missing, extra []string) {
	h, w := map[string]bool{}, map[string]bool{}
	for _, k := range have {
		h[k] = true
	}
	for _, k := range want {
		w[k] = true
		if !h[k] {
			missing = append(missing, k)
		}
	}
	for _, k := range have {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Custom resources have no Go types in k8s.io/api, and the operators' own
// modules would bring their whole dependency trees for one struct each.
// Instead each kind the chart renders gets a minimal schema here: Go
// structs holding the fields the chart may render (a subset of the CRD),
// decoded strictly, plus the rules of the CRD that matter. A field the
// chart renders but this schema lacks is an error: add it here after
// checking it against the CRD.
var customResources = map[schema.GroupVersionKind]func([]byte) (any, string, error){
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: decodeServiceMonitor,
}

// ServiceMonitor follows monitoring.coreos.com/v1 of the Prometheus
// Operator.
type ServiceMonitor struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   metav1.ObjectMeta  `json:"metadata"`
	Spec       ServiceMonitorSpec `json:"spec"`
}

type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	TargetLabels      []string             `json:"targetLabels,omitempty"`
	PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
	Endpoints         []Endpoint           `json:"endpoints"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector *NamespaceSelector   `json:"namespaceSelector,omitempty"`
	SampleLimit       *uint64              `json:"sampleLimit,omitempty"`
}

type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

type Endpoint struct {
	Port              string              `json:"port,omitempty"`
	TargetPort        *intstr.IntOrString `json:"targetPort,omitempty"`
	Path              string              `json:"path,omitempty"`
	Scheme            string              `json:"scheme,omitempty"`
	Params            map[string][]string `json:"params,omitempty"`
	Interval          string              `json:"interval,omitempty"`
	ScrapeTimeout     string              `json:"scrapeTimeout,omitempty"`
	HonorLabels       bool                `json:"honorLabels,omitempty"`
	HonorTimestamps   *bool               `json:"honorTimestamps,omitempty"`
	Relabelings       []RelabelConfig     `json:"relabelings,omitempty"`
	MetricRelabelings []RelabelConfig     `json:"metricRelabelings,omitempty"`
}

type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// The CRD's patterns and enums.
var (
	promDuration  = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)
	labelName     = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	relabelAction = setOf("replace", "Replace", "keep", "Keep", "drop", "Drop", "hashmod", "HashMod",
		"labelmap", "LabelMap", "labeldrop", "LabelDrop", "labelkeep", "LabelKeep", "lowercase", "Lowercase",
		"uppercase", "Uppercase", "keepequal", "KeepEqual", "dropequal", "DropEqual")
)

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

func decodeServiceMonitor(body []byte) (any, string, error) {
	js, err := yaml.YAMLToJSONStrict(body)
	if err != nil {
		return nil, "", err
	}
	var sm ServiceMonitor
	strict, err := sigsjson.UnmarshalStrict(js, &sm)
	if err != nil {
		return nil, "", err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return nil, "", fmt.Errorf("strict decoding: %s", strings.Join(msgs, ", "))
	}
	if err := sm.validate(); err != nil {
		return nil, "", err
	}
	return &sm, sm.Metadata.Name, nil
}

func (sm *ServiceMonitor) validate() error {
	var errs []error
	if sm.Metadata.Name == "" {
		errs = append(errs, errors.New("metadata.name is empty"))
	}
	if len(sm.Spec.Selector.MatchLabels) == 0 && len(sm.Spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, errors.New("spec.selector selects every Service of the namespace"))
	}
	if _, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector); err != nil {
		errs = append(errs, fmt.Errorf("spec.selector: %w", err))
	}
	if len(sm.Spec.Endpoints) == 0 {
		errs = append(errs, errors.New("spec.endpoints is empty"))
	}
	for i, ep := range sm.Spec.Endpoints {
		at := fmt.Sprintf("spec.endpoints[%d]", i)
		if ep.Port == "" && ep.TargetPort == nil {
			errs = append(errs, fmt.Errorf("%s: needs port (a Service port name) or targetPort", at))
		}
		if ep.Scheme != "" && ep.Scheme != "http" && ep.Scheme != "https" {
			errs = append(errs, fmt.Errorf("%s.scheme %q: want http or https", at, ep.Scheme))
		}
		if ep.Path != "" && !strings.HasPrefix(ep.Path, "/") {
			errs = append(errs, fmt.Errorf("%s.path %q: must start with /", at, ep.Path))
		}
		for _, d := range []struct{ name, v string }{{"interval", ep.Interval}, {"scrapeTimeout", ep.ScrapeTimeout}} {
			if d.v != "" && !promDuration.MatchString(d.v) {
				errs = append(errs, fmt.Errorf("%s.%s %q: not a Prometheus duration", at, d.name, d.v))
			}
		}
		for j, rc := range append(append([]RelabelConfig{}, ep.Relabelings...), ep.MetricRelabelings...) {
			if rc.Action != "" && !relabelAction[rc.Action] {
				errs = append(errs, fmt.Errorf("%s relabeling %d: action %q is not one the CRD allows", at, j, rc.Action))
			}
			for _, l := range rc.SourceLabels {
				if !labelName.MatchString(l) {
					errs = append(errs, fmt.Errorf("%s relabeling %d: source label %q is not a label name", at, j, l))
				}
			}
		}
	}
	return errors.Join(errs...)
}

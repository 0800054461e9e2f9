package main

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// object is one rendered document, decoded into its Go type: a built-in
// kind from k8s.io/api, or one of the custom resources of crds.go.
type object struct {
	file string
	gvk  schema.GroupVersionKind
	name string
	obj  any
}

func (o object) ref() string { return o.gvk.Kind + "/" + o.name }

// The deserializer knows every built-in kind (client-go's scheme holds
// k8s.io/api) and, being strict, refuses a field its Go type lacks and a
// key given twice. A value of the wrong type fails decoding either way.
// It neither defaults nor converts: what is checked is what was rendered.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeAll decodes every document; a document that cannot be decoded is
// a problem and is left out of the cross-object checks.
func decodeAll(files map[string]string, rep *Report) []object {
	var objs []object
	for _, d := range manifests(files) {
		o, err := decode(d)
		if err != nil {
			rep.addf("%s: %v", d.file, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs
}

func decode(d document) (object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(d.body), &head); err != nil {
		return object{}, fmt.Errorf("not YAML: %w", err)
	}
	if head.APIVersion == "" || head.Kind == "" {
		return object{}, errors.New("a document without apiVersion or kind")
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil {
		return object{}, err
	}
	gvk := gv.WithKind(head.Kind)
	where := fmt.Sprintf("%s %s", head.APIVersion, head.Kind)

	if crd, ok := customResources[gvk]; ok {
		obj, name, err := crd([]byte(d.body))
		if err != nil {
			return object{}, fmt.Errorf("%s: %w", where, err)
		}
		return object{file: d.file, gvk: gvk, name: name, obj: obj}, nil
	}
	if !scheme.Scheme.Recognizes(gvk) {
		return object{}, fmt.Errorf("%s: not a kind of Kubernetes' API (k8s.io/api) nor a custom resource with a schema in this linter", where)
	}
	obj, _, err := strictDecoder.Decode([]byte(d.body), nil, nil)
	if err != nil {
		return object{}, fmt.Errorf("%s: %s", where, decodeError(err))
	}
	acc, ok := obj.(interface{ GetName() string })
	if !ok {
		return object{}, fmt.Errorf("%s: has no metadata", where)
	}
	return object{file: d.file, gvk: gvk, name: acc.GetName(), obj: obj}, nil
}

// decodeError shortens the decoder's messages, which repeat the Go type
// path of the field, to what a chart author needs.
func decodeError(err error) string {
	if runtime.IsStrictDecodingError(err) {
		return "strict decoding: " + strings.TrimPrefix(err.Error(), "strict decoding error: ")
	}
	return err.Error()
}

package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	contourv1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1"
	contourv1alpha1 "github.com/proxyctl/proxyctl/apis/projectcontour/v1alpha1"
)

// TestRoundTrip decodes the maximal ExtensionService strictly (an unknown
// field is an error, so the types must model every field Contour's schema
// has), encodes it again and requires the result to mean the same.
func TestRoundTrip(t *testing.T) {
	input := readJSON(t, "extensionservice-maximal.yaml")
	var obj contourv1alpha1.ExtensionService
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	output, err := json.Marshal(&obj)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if diff := cmp.Diff(generic(t, input), generic(t, output)); diff != "" {
		t.Errorf("round trip changed the object (-input +output):\n%s", diff)
	}
}

// TestMaximalObjectSetsEveryField keeps the fixture honest: every field of
// every API struct (of this package or of v1) an ExtensionService can
// reach is set at least once, so a field added to the types without a
// fixture value fails here.
func TestMaximalObjectSetsEveryField(t *testing.T) {
	var obj contourv1alpha1.ExtensionService
	if err := json.Unmarshal(readJSON(t, "extensionservice-maximal.yaml"), &obj); err != nil {
		t.Fatal(err)
	}
	v := reflect.ValueOf(&obj).Elem()
	all := map[string]bool{}
	collectFields(v.Type(), all, map[reflect.Type]bool{})
	set := map[string]bool{}
	collectSetFields(v, set)
	var missing []string
	for f := range all {
		if !set[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the fixture leaves these fields unset; give them a value:\n  %s", strings.Join(missing, "\n  "))
	}
}

var apiPkgPaths = map[string]bool{
	reflect.TypeOf(contourv1alpha1.ExtensionService{}).PkgPath(): true,
	reflect.TypeOf(contourv1.HTTPProxy{}).PkgPath():              true,
}

func collectFields(t reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		collectFields(t.Elem(), out, seen)
		return
	case reflect.Struct:
	default:
		return
	}
	if !apiPkgPaths[t.PkgPath()] || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out[t.Name()+"."+f.Name] = true
		collectFields(f.Type, out, seen)
	}
}

func collectSetFields(v reflect.Value, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectSetFields(v.Elem(), out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			collectSetFields(v.Index(i), out)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			collectSetFields(iter.Value(), out)
		}
	case reflect.Struct:
		t := v.Type()
		if !apiPkgPaths[t.PkgPath()] {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			fv := v.Field(i)
			if !fv.IsZero() || (fv.Kind() == reflect.Struct && fv.NumField() == 0) {
				out[t.Name()+"."+t.Field(i).Name] = true
			}
			collectSetFields(fv, out)
		}
	}
}

func readJSON(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	out, err := utilyaml.ToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func generic(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

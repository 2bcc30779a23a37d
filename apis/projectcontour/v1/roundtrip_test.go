package v1_test

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
)

// TestRoundTrip decodes each testdata object strictly (an unknown field is
// an error, so the types must model every field the file uses), encodes it
// again and requires the result to be semantically equal to the input.
func TestRoundTrip(t *testing.T) {
	tests := map[string]struct {
		file string
		obj  func() any
	}{
		"HTTPProxy": {
			file: "httpproxy-maximal.yaml",
			obj:  func() any { return &contourv1.HTTPProxy{} },
		},
		"TLSCertificateDelegation": {
			file: "tlscertificatedelegation-maximal.yaml",
			obj:  func() any { return &contourv1.TLSCertificateDelegation{} },
		},
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			input := readJSON(t, tc.file)

			obj := tc.obj()
			dec := json.NewDecoder(bytes.NewReader(input))
			dec.DisallowUnknownFields()
			if err := dec.Decode(obj); err != nil {
				t.Fatalf("strict decode of %s: %v", tc.file, err)
			}

			output, err := json.Marshal(obj)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}

			if diff := cmp.Diff(generic(t, input), generic(t, output)); diff != "" {
				t.Errorf("round trip changed the object (-input +output):\n%s", diff)
			}
		})
	}
}

// TestMaximalObjectsSetEveryField keeps the testdata honest: every field of
// every type of this package that an object can reach must be non-zero at
// least once in the maximal fixtures, so a field added to the types without
// a fixture value makes this test fail.
func TestMaximalObjectsSetEveryField(t *testing.T) {
	tests := map[string]struct {
		file string
		obj  any
	}{
		"HTTPProxy":                {file: "httpproxy-maximal.yaml", obj: &contourv1.HTTPProxy{}},
		"TLSCertificateDelegation": {file: "tlscertificatedelegation-maximal.yaml", obj: &contourv1.TLSCertificateDelegation{}},
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := json.Unmarshal(readJSON(t, tc.file), tc.obj); err != nil {
				t.Fatal(err)
			}
			v := reflect.ValueOf(tc.obj).Elem()

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
				t.Errorf("%s leaves these fields unset; give them a value:\n  %s",
					tc.file, strings.Join(missing, "\n  "))
			}
		})
	}
}

var apiPkgPath = reflect.TypeOf(contourv1.HTTPProxy{}).PkgPath()

// collectFields records "Type.Field" for every field of every struct type of
// this package reachable from t.
func collectFields(t reflect.Type, out map[string]bool, seen map[reflect.Type]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		collectFields(t.Elem(), out, seen)
		return
	case reflect.Struct:
	default:
		return
	}
	if t.PkgPath() != apiPkgPath || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out[t.Name()+"."+f.Name] = true
		collectFields(f.Type, out, seen)
	}
}

// collectSetFields records "Type.Field" for every field of this package's
// struct types that holds a non-zero value somewhere in v.
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
		if t.PkgPath() != apiPkgPath {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			fv := v.Field(i)
			// A struct with no fields (RemoteAddressDescriptor) is set
			// when its pointer is, which the parent records.
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

// generic decodes JSON into maps, slices and json.Numbers so that two
// documents compare equal exactly when they mean the same.
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

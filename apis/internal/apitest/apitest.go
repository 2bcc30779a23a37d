// Package apitest holds the API types to their maximal testdata objects:
// every field a file uses must be modelled (a strict round trip), and
// every field the types have must be used by the file, so that a field
// added to the types without a fixture value fails. It is imported only
// by the API packages' tests.
package apitest

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
)

// RoundTrip decodes testdata/file strictly into obj (an unknown field is
// an error), encodes it again and fails t unless the result means the
// same as the file.
func RoundTrip(t *testing.T, file string, obj any) {
	t.Helper()
	input := readJSON(t, file)
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		t.Fatalf("strict decode of %s: %v", file, err)
	}
	output, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if diff := cmp.Diff(generic(t, input), generic(t, output)); diff != "" {
		t.Errorf("round trip changed the object (-input +output):\n%s", diff)
	}
}

// SetsEveryField decodes testdata/file into obj and fails t unless it
// sets, at least once, every field of every struct type of the packages
// pkgs (import paths) that obj can reach.
func SetsEveryField(t *testing.T, file string, obj any, pkgs ...string) {
	t.Helper()
	if err := json.Unmarshal(readJSON(t, file), obj); err != nil {
		t.Fatal(err)
	}
	inAPI := map[string]bool{}
	for _, p := range pkgs {
		inAPI[p] = true
	}
	v := reflect.ValueOf(obj).Elem()
	all := map[string]bool{}
	collectFields(v.Type(), inAPI, all, map[reflect.Type]bool{})
	set := map[string]bool{}
	collectSetFields(v, inAPI, set)
	var missing []string
	for f := range all {
		if !set[f] {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s leaves these fields unset; give them a value:\n  %s", file, strings.Join(missing, "\n  "))
	}
}

// PkgPath is the import path of the package that defines v's type.
func PkgPath(v any) string { return reflect.TypeOf(v).PkgPath() }

// collectFields records "Type.Field" for every field of every struct type
// of the API packages reachable from t.
func collectFields(t reflect.Type, inAPI, out map[string]bool, seen map[reflect.Type]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		collectFields(t.Elem(), inAPI, out, seen)
		return
	case reflect.Struct:
	default:
		return
	}
	if !inAPI[t.PkgPath()] || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out[t.Name()+"."+f.Name] = true
		collectFields(f.Type, inAPI, out, seen)
	}
}

// collectSetFields records "Type.Field" for every field of the API
// packages' struct types that holds a non-zero value somewhere in v.
func collectSetFields(v reflect.Value, inAPI, out map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectSetFields(v.Elem(), inAPI, out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			collectSetFields(v.Index(i), inAPI, out)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			collectSetFields(iter.Value(), inAPI, out)
		}
	case reflect.Struct:
		t := v.Type()
		if !inAPI[t.PkgPath()] {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			fv := v.Field(i)
			// A struct with no fields (RemoteAddressDescriptor) is set
			// when its pointer is, which the parent records.
			if !fv.IsZero() || (fv.Kind() == reflect.Struct && fv.NumField() == 0) {
				out[t.Name()+"."+t.Field(i).Name] = true
			}
			collectSetFields(fv, inAPI, out)
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

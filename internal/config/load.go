package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration file that cannot be used: where, which key,
// and why. Line is 0 and Key empty for a file that is not YAML at all.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Key == "":
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
}

// Defaults are the values of the settings that only the file sets (no
// flag), as Contour has them, except the access log format: JSON, where
// Contour's is Envoy's text line.
func Defaults() *Parameters {
	return &Parameters{
		AccessLogFormat:            "json",
		AccessLogLevel:             "info",
		Compression:                Compression{Algorithm: "gzip"},
		ServerHeaderTransformation: "overwrite",
		Timeouts: Timeouts{
			ConnectionIdleTimeout: "60s",
			ConnectTimeout:        "2s",
		},
		set: map[string]int{},
	}
}

// Load reads and checks the file at path.
func Load(path string) (*Parameters, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return Parse(path, data)
}

// Parse reads and checks data, naming it file in errors. Keys left out
// keep their Defaults; a key given as null (`key:` with nothing after it)
// is left out too.
func Parse(file string, data []byte) (*Parameters, error) {
	p := Defaults()
	p.file = file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return p, nil
	case err != nil:
		return nil, syntaxError(file, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, syntaxError(file, err)
		}
		return nil, &Error{File: file, Line: next.Line, Msg: "a second YAML document; the configuration is one document"}
	}
	d := &decoder{file: file, set: p.set}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if err := d.decode(root, reflect.ValueOf(p).Elem(), "", root.Line); err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	if err := p.refuse(); err != nil {
		return nil, err
	}
	return p, nil
}

// syntaxError turns the YAML parser's error ("yaml: line 3: ...") into an
// Error with the line.
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if line, convErr := strconv.Atoi(n); convErr == nil {
				return &Error{File: file, Line: line, Msg: after}
			}
		}
	}
	return &Error{File: file, Msg: msg}
}

// IsSet reports whether the file gives key (a dotted path such as
// "network.num-trusted-hops") a value, so a flag the user did not set
// leaves it alone.
func (p *Parameters) IsSet(key string) bool {
	_, ok := p.set[key]
	return ok
}

// File is the name of the file read, or "" for Defaults.
func (p *Parameters) File() string { return p.file }

// errorf is an error at key, on the line the file gives it.
func (p *Parameters) errorf(key, format string, args ...any) error {
	line := p.set[key]
	if line == 0 {
		// A section whose value is checked as a whole: the first line
		// given under it.
		line = p.firstLineUnder(key)
	}
	return &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// firstLineUnder is the first line of a key given under prefix, or 0.
func (p *Parameters) firstLineUnder(prefix string) int {
	best := 0
	for k, line := range p.set {
		if strings.HasPrefix(k, prefix+".") || strings.HasPrefix(k, prefix+"[") {
			if best == 0 || line < best {
				best = line
			}
		}
	}
	return best
}

// keysUnder lists the keys given at or under prefix, sorted by line.
// KeysUnder lists the keys the file gives under prefix (itself
// included), in the order of their lines.
func (p *Parameters) KeysUnder(prefix string) []string { return p.keysUnder(prefix) }

func (p *Parameters) keysUnder(prefix string) []string {
	var keys []string
	for k := range p.set {
		if k == prefix || strings.HasPrefix(k, prefix+".") || strings.HasPrefix(k, prefix+"[") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if p.set[keys[i]] != p.set[keys[j]] {
			return p.set[keys[i]] < p.set[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// decoder fills a Parameters from YAML nodes, walking the structs by their
// tags so that every unknown key, and every value of the wrong type, is
// reported with its line and its path.
type decoder struct {
	file string
	set  map[string]int
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// decode fills v from n; line is where n's key is, which errors and IsSet
// report (a list or mapping value starts on the line after its key).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, line int) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.decode(n, v.Elem(), path, line)
	case t.Kind() == reflect.Struct:
		return d.decodeStruct(n, v, path)
	case t.Kind() == reflect.Slice && isStructLike(t.Elem()):
		if n.Kind != yaml.SequenceNode {
			return d.errorf(n, path, "must be a list, not %s", describe(n))
		}
		d.set[path] = line
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), item.Line); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	// A scalar, a list of scalars or a map of strings: the YAML package
	// decodes it, and its complaint is replaced by one that names the key.
	if err := checkShape(n, t); err != nil {
		return d.errorf(n, path, "%v", err)
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		return d.errorf(n, path, "must be %s, not %s", typeName(t), describe(n))
	}
	d.set[path] = line
	// The entries of a list are checked one by one, each on its line.
	if n.Kind == yaml.SequenceNode {
		for i, item := range n.Content {
			d.set[fmt.Sprintf("%s[%d]", path, i)] = item.Line
		}
	}
	return nil
}

func isStructLike(t reflect.Type) bool {
	return t.Kind() == reflect.Struct || (t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct)
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return d.errorf(n, path, "must be a mapping of keys, not %s", describe(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := join(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			return d.errorf(k, path, "a key must be a plain name")
		}
		if line, dup := seen[k.Value]; dup {
			return d.errorf(k, key, "given twice (first on line %d)", line)
		}
		seen[k.Value] = k.Line
		f, ok := field(v, k.Value)
		if !ok {
			return d.errorf(k, key, "unknown key%s", suggest(v.Type(), k.Value))
		}
		if err := d.decode(val, f, key, k.Line); err != nil {
			return err
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// field finds the field of struct v whose yaml tag (or, for the API
// types, json tag) is name.
func field(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tagName(t.Field(i)) == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func tagName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, ok := f.Tag.Lookup("yaml")
	if !ok {
		tag = f.Tag.Get("json")
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest names a key that differs from name only in case or in its
// separators, the usual slip between Contour's camelCase and kebab-case
// keys.
func suggest(t reflect.Type, name string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) }
	for i := 0; i < t.NumField(); i++ {
		if n := tagName(t.Field(i)); n != "" && norm(n) == norm(name) {
			return fmt.Sprintf(" (did you mean %q?)", n)
		}
	}
	return ""
}

// checkShape refuses a mapping or list where the field wants something
// else: the YAML package would otherwise report only "cannot unmarshal".
func checkShape(n *yaml.Node, t reflect.Type) error {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := yaml.ScalarNode
	switch t.Kind() {
	case reflect.Slice:
		want = yaml.SequenceNode
	case reflect.Map:
		want = yaml.MappingNode
	}
	if n.Kind != want {
		return fmt.Errorf("must be %s, not %s", typeName(t), describe(n))
	}
	return nil
}

func typeName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint32:
		return "a whole number from 0 to 4294967295"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(typeName(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "a mapping of names to strings"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

package approve

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/jitscore/jitscore/models"
)

// maxConfigBytes bounds what ParseConfig reads; a config is a page of text.
const maxConfigBytes = 1 << 20

// maxConfigDepth bounds nesting, so hostile input (alias chains) cannot
// recurse without end. The deepest real path is three levels.
const maxConfigDepth = 8

// ParseConfig reads a YAML config from r on top of DefaultConfig: every key
// the file leaves out keeps its default, a map (max_duration) is merged key
// by key, and a list replaces the default list. name is the file name used
// in problems. Unknown keys, values of the wrong type and everything
// Validate rejects come back together in one *ValidationError, each
// problem with its field path and line; the Config is returned only when
// there is no problem. The file holds one YAML document: a second one
// (after a "---") is a problem at its line, not silently ignored.
func ParseConfig(r io.Reader, name string) (*Config, error) {
	ve := &ValidationError{File: name}
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", name, err)
	}
	if len(data) > maxConfigBytes {
		ve.Problems = append(ve.Problems, Problem{Msg: fmt.Sprintf("file is larger than %d bytes", maxConfigBytes)})
		return nil, ve
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		line, msg := yamlErrorLine(err)
		ve.Problems = append(ve.Problems, Problem{Line: line, Msg: msg})
		return nil, ve
	}
	// A second document would be ignored silently, and which of the two a
	// reader takes as the config is anybody's guess: refuse it.
	var second yaml.Node
	if err := dec.Decode(&second); err != io.EOF {
		line := documentLine(&second)
		if err != nil {
			line, _ = yamlErrorLine(err)
		}
		ve.Problems = append(ve.Problems, Problem{Line: line, Msg: "a second YAML document; a config is one document"})
		return nil, ve
	}

	cfg := DefaultConfig()
	cfg.source = name
	cfg.lines = map[string]int{}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != 0 && root.Kind != yaml.DocumentNode {
		d := decoder{lines: cfg.lines, ve: ve}
		d.value(reflect.ValueOf(cfg).Elem(), root, "", 0)
	}

	var vErr *ValidationError
	if err := cfg.Validate(); err != nil {
		vErr, _ = IsValidationError(err)
	}
	if vErr != nil {
		ve.Problems = append(ve.Problems, vErr.Problems...)
	}
	if len(ve.Problems) > 0 {
		sortProblems(ve.Problems)
		return nil, ve
	}
	return cfg, nil
}

// documentLine is the line where a decoded document starts: the line of
// its first node (yaml.v3 leaves the document node's own line unset for
// an empty document).
func documentLine(doc *yaml.Node) int {
	if doc.Line > 0 {
		return doc.Line
	}
	for _, c := range doc.Content {
		if c.Line > 0 {
			return c.Line
		}
	}
	return 0
}

// sortProblems orders problems by line, those without a line last, keeping
// the order in which they were found otherwise.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

var yamlLineRE = regexp.MustCompile(`line (\d+):?\s*`)

// yamlErrorLine pulls the line out of a yaml syntax error.
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLineRE.FindStringSubmatchIndex(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(msg[m[2]:m[3]])
	return line, strings.TrimSpace(msg[:m[0]] + msg[m[1]:])
}

// decoder writes a yaml node tree onto a Config that already holds the
// defaults, recording the line of every value and a problem for every key
// or value it cannot use. It keeps going after a problem so that one run
// reports all of them.
type decoder struct {
	lines map[string]int
	ve    *ValidationError
}

var durationType = reflect.TypeOf(time.Duration(0))

func (d *decoder) problem(path string, n *yaml.Node, format string, args ...any) {
	d.ve.Problems = append(d.ve.Problems, Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) value(v reflect.Value, n *yaml.Node, path string, depth int) {
	if depth > maxConfigDepth {
		d.problem(path, n, "nested too deeply")
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.problem(path, n, "alias to nothing")
			return
		}
		d.value(v, n.Alias, path, depth+1)
		return
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value keeps the default
	}

	t := v.Type()
	switch {
	case t == durationType:
		if !d.want(path, n, yaml.ScalarNode) {
			return
		}
		dur, err := models.ParseDuration(n.Value)
		if err != nil {
			d.problem(path, n, "%v", err)
			return
		}
		v.SetInt(int64(dur))
	case t.Kind() == reflect.Struct:
		d.mapping(v, n, path, depth)
	case t.Kind() == reflect.Map:
		d.mapValue(v, n, path, depth)
	case t.Kind() == reflect.Slice:
		if !d.want(path, n, yaml.SequenceNode) {
			return
		}
		out := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.value(out.Index(i), c, fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
		v.Set(out)
	default:
		d.scalar(v, n, path)
	}
}

// want reports whether n has the kind the field needs, recording a problem
// when it does not.
func (d *decoder) want(path string, n *yaml.Node, kind yaml.Kind) bool {
	if n.Kind == kind {
		return true
	}
	names := map[yaml.Kind]string{
		yaml.ScalarNode:   "a single value",
		yaml.MappingNode:  "a mapping of keys",
		yaml.SequenceNode: "a list",
	}
	d.problem(path, n, "want %s, got %s", names[kind], names[n.Kind])
	return false
}

// mapping decodes a yaml mapping onto a struct by the fields' yaml tags.
func (d *decoder) mapping(v reflect.Value, n *yaml.Node, path string, depth int) {
	if !d.want(path, n, yaml.MappingNode) {
		return
	}
	fields := map[string]int{}
	var known []string
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		fields[tag] = i
		known = append(known, tag)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.problem(p, k, "unknown key (want one of %s)", strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.problem(p, k, "key given twice")
			continue
		}
		seen[k.Value] = true
		d.value(v.Field(idx), val, p, depth+1)
	}
}

// mapValue merges a yaml mapping into a Go map with string keys, starting
// from a copy of the map's current (default) entries.
func (d *decoder) mapValue(v reflect.Value, n *yaml.Node, path string, depth int) {
	if !d.want(path, n, yaml.MappingNode) {
		return
	}
	t := v.Type()
	out := reflect.MakeMapWithSize(t, v.Len()+len(n.Content)/2)
	iter := v.MapRange()
	for iter.Next() {
		out.SetMapIndex(iter.Key(), iter.Value())
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.problem(p, k, "a key must be a single value")
			continue
		}
		if seen[k.Value] {
			d.problem(p, k, "key given twice")
			continue
		}
		seen[k.Value] = true
		key := reflect.New(t.Key()).Elem()
		key.SetString(k.Value)
		elem := reflect.New(t.Elem()).Elem()
		if cur := v.MapIndex(key); cur.IsValid() {
			elem.Set(cur)
		}
		d.value(elem, val, p, depth+1)
		out.SetMapIndex(key, elem)
	}
	v.Set(out)
}

// scalar decodes a single value into a string, bool, integer or float.
func (d *decoder) scalar(v reflect.Value, n *yaml.Node, path string) {
	if !d.want(path, n, yaml.ScalarNode) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := parseBool(n.Value)
		if !ok {
			d.problem(path, n, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			d.problem(path, n, "want a whole number, got %q", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.problem(path, n, "want a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		// Every Config field is one of the kinds above; a new kind
		// needs a case here.
		d.problem(path, n, "field of kind %s cannot be set from a file", v.Kind())
	}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

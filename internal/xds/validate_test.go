package xds

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
)

// TestResourcesValidate runs the protoc-gen-validate rules of every
// resource of every fixture, including the typed configs packed in Any
// fields (which Validate itself does not look into), and rejects any
// deprecated field or enum value: Envoy 1.40 warns on them and may drop
// them.
func TestResourcesValidate(t *testing.T) {
	for _, name := range sortedNames() {
		t.Run(name, func(t *testing.T) {
			r := Translate(fixtures()[name], testListenerConfig)
			for _, m := range allResources(r) {
				checkMessage(t, resourceLabel(m), m.ProtoReflect())
			}
		})
	}
}

func allResources(r Resources) []proto.Message {
	var out []proto.Message
	for _, m := range r.Listeners {
		out = append(out, m)
	}
	for _, m := range r.Routes {
		out = append(out, m)
	}
	for _, m := range r.Clusters {
		out = append(out, m)
	}
	for _, m := range r.Endpoints {
		out = append(out, m)
	}
	for _, m := range r.Secrets {
		out = append(out, m)
	}
	return out
}

func resourceLabel(m proto.Message) string {
	type named interface{ GetName() string }
	type cla interface{ GetClusterName() string }
	name := ""
	switch v := m.(type) {
	case named:
		name = v.GetName()
	case cla:
		name = v.GetClusterName()
	}
	return string(m.ProtoReflect().Descriptor().Name()) + " " + name
}

type validator interface{ ValidateAll() error }

// checkMessage validates m and walks its set fields.
func checkMessage(t *testing.T, path string, m protoreflect.Message) {
	t.Helper()
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	if a, ok := m.Interface().(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			t.Errorf("%s: unpack %s: %v", path, a.GetTypeUrl(), err)
			return
		}
		checkMessage(t, path+"("+string(inner.ProtoReflect().Descriptor().FullName())+")", inner.ProtoReflect())
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			t.Errorf("%s: deprecated field", p)
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				checkValue(t, p, fd, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				checkValue(t, p+"["+k.String()+"]", fd.MapValue(), mv)
				return true
			})
		default:
			checkValue(t, p, fd, v)
		}
		return true
	})
}

func checkValue(t *testing.T, path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	t.Helper()
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		checkMessage(t, path, v.Message())
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			t.Errorf("%s: unknown enum value %d", path, v.Enum())
		} else if opts, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && opts.GetDeprecated() {
			t.Errorf("%s: deprecated enum value %s", path, ev.Name())
		}
	}
}

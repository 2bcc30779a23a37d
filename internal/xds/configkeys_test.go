package xds

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTranslatorConfigKeys: the incremental Translator, whose listeners
// are made from templates, serves the settings of the configuration
// file's keys exactly as Translate does, on every fixture.
func TestTranslatorConfigKeys(t *testing.T) {
	cfg := goldenListenerConfigs["config-keys"]
	tr, err := NewTranslator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fx := fixtures()
	for _, name := range sortedNames() {
		t.Run(name, func(t *testing.T) {
			want, err := NewSnapshot(Translate(fx[name], cfg))
			if err != nil {
				t.Fatal(err)
			}
			got, err := tr.Snapshot(fx[name])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Types, got.Types); diff != "" {
				t.Fatalf("Translator differs from Translate (-want +got):\n%s", diff)
			}
		})
	}
}

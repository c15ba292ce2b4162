package apiyaml

import (
	"testing"

	"sigs.k8s.io/yaml"
)

// TestRefusedAsTheReader: Refused says what sigs.k8s.io/yaml (the API
// server's and the operator's reader) refuses, for every character of the
// first planes and the last of Unicode.
func TestRefusedAsTheReader(t *testing.T) {
	for r := rune(0); r <= 0x10ffff; r++ {
		if r > 0x3000 && r < 0xfff0 || r > 0x10010 && r < 0x10fff0 || r >= 0xd800 && r <= 0xdfff {
			continue
		}
		s := "a" + string(r) + "b"
		_, err := yaml.Marshal(map[string]string{"k": s})
		if _, refused := Refused(s); refused != (err != nil) {
			t.Errorf("U+%04X: Refused says %v, the reader says %v", r, refused, err)
		}
	}
}

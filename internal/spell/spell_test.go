package spell

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"groupWait", "groupInterval", "receivers", "routes"}
	tests := []struct{ in, want string }{
		{"recievers", "receivers"},
		{"groupwait", "groupWait"},
		{"GROUPINTERVAL", "groupInterval"},
		{"route", "routes"},
		{"zzz", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Closest(tt.in, keys); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

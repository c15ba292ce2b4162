package secret

import (
	"bytes"
	"testing"
)

// FuzzScan checks that the scanner, which reads every byte of a hostile
// repo, never panics and only returns hits inside their lines.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"password: hunter2!\n",
		"auth_password: |\n  s3cr3t-v4lue\n",
		"secrets:\n  - abcdefgh12345\n",
		"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n",
		`{"k": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`,
		"x: https://u:p#w@h/ y: https://discord.com/api/webhooks/123456/abc\n",
		"Authorization: Basic b3BzOnB3 GenieKey 1f0e8b2c-0b5c-4f1a Bearer abc123def456ghi7\n",
		"DD_API_KEY=0b5c71fa4e9d ;AccountKey=abc== ?sig=x&token=y --password=z\n",
		"X: {secrets: [a1b2c3d4, 'e5f6g7h8']}\n123456789:AAH0123456789012345678901234567890123\n",
		"glpat-0123456789abcdefghij AIza0123456789012345678901234567890123 sk_live_0123456789abcdef xapp-1-A-1-abcdef0123456789\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if got, want := triggerKinds(src), naiveKinds(src); got != want {
			t.Fatalf("triggerKinds = %b, want %b", got, want)
		}
		lines := bytes.Count(src, []byte{'\n'}) + 1
		for _, h := range Scan(src) {
			if h.Line < 1 || h.Line > lines || h.Start < 0 || h.Start > h.End || h.End > len(h.Text) || h.Kind == "" {
				t.Fatalf("hit %+v out of its line (%d lines)", h, lines)
			}
		}
	})
}

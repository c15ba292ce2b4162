package lint

// Explain returns the documentation of the check called name: its doc
// comment, as generated into explain_gen.go.
func Explain(name string) (string, bool) {
	d, ok := docs[name]
	return d, ok
}

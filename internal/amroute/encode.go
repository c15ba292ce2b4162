package amroute

import (
	"bytes"
	"errors"
	"fmt"

	amconfig "github.com/prometheus/alertmanager/config"
	"go.yaml.in/yaml/v3"
	yamlv2 "gopkg.in/yaml.v2"

	"github.com/obsctl/obsctl/internal/source"
)

// SecretPlaceholder is what Alertmanager's marshallers write in place of a
// secret value. It never appears in the YAML that Compile returns.
const SecretPlaceholder = "<secret>"

// noise lists the keys that Alertmanager's types always write, with the
// value that means the same as leaving them out. Dropping them keeps the
// file short and loadable by older Alertmanagers (0.25 refuses the
// timeout, update_message and url_file keys it does not know).
var noise = map[string]string{
	"continue":         "false",
	"enable_http2":     "true",
	"follow_redirects": "true",
	"link_names":       "false",
	"max_alerts":       "0",
	"short_fields":     "false",
	"timeout":          "0s",
	"update_message":   "false",
	"url_file":         "",
}

// encode marshals am with the library's own (yaml.v2) marshallers and
// rewrites the result through a yaml.v3 node tree, which keeps every
// scalar as written: it restores the webhook URLs that the marshaller
// hides (a URL is configuration; credentials go in http_config) and, when
// prune is set, drops the keys listed in noise.
func encode(am *amconfig.Config, webhookURLs map[string]string, prune bool) ([]byte, error) {
	raw, err := yamlv2.Marshal(am)
	if err != nil {
		return nil, fmt.Errorf("marshal alertmanager config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("reread alertmanager config: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("marshalled alertmanager config is not a mapping")
	}
	root := doc.Content[0]
	for _, rcv := range source.Items(source.Value(root, "receivers")) {
		name := source.Value(rcv, "name")
		for _, wh := range source.Items(source.Value(rcv, "webhook_configs")) {
			if u := source.Value(wh, "url"); u != nil && name != nil {
				u.SetString(webhookURLs[name.Value])
			}
		}
	}
	if prune {
		pruneNode(root)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode alertmanager config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode alertmanager config: %w", err)
	}
	if bytes.Contains(buf.Bytes(), []byte(SecretPlaceholder)) {
		// A secret that is not a *_file reference: a defect in this
		// package, never something to write to a cluster.
		return nil, fmt.Errorf("encode alertmanager config: a secret placeholder %s is left in the output", SecretPlaceholder)
	}
	return buf.Bytes(), nil
}

// pruneNode drops noise keys and empty lists and mappings below n.
func pruneNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			pruneNode(c)
		}
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			pruneNode(v)
			if def, ok := noise[k.Value]; ok && v.Kind == yaml.ScalarNode && v.Value == def {
				continue
			}
			if (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) && len(v.Content) == 0 {
				continue
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
	}
}

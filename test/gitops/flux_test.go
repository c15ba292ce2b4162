package gitops

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/render"
)

// fluxKustomization returns the Flux Kustomization named name from
// deploy/flux/kustomizations.yaml.
func fluxKustomization(t *testing.T, name string) unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "flux", "kustomizations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var u unstructured.Unstructured
		if err := d.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if u.GetKind() == "Kustomization" && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("deploy/flux/kustomizations.yaml has no Kustomization %s", name)
	return unstructured.Unstructured{}
}

// fluxResult is one object after the kustomize-controller's build and
// post-build substitution.
type fluxResult struct {
	before, after map[string]any
	skipped       bool  // labelled or annotated substitute: disabled
	err           error // the substitution failed: the whole Kustomization does
}

// fluxBuild does what the kustomize-controller does with the folder dir
// (below root) of a source: generate its kustomization.yaml (dir has
// none), build it with the secure kustomize build, and run post-build
// substitution over each object with ks's variables. The substitution
// runs as a dry run: it reads no ConfigMap or Secret of substituteFrom
// from a cluster, and ks has only in-line variables.
func fluxBuild(t *testing.T, root, dir string, ks unstructured.Unstructured) map[string]fluxResult {
	t.Helper()
	if _, err := fluxkustomize.NewGenerator(root, ks).WriteFile(dir); err != nil {
		t.Fatalf("generate kustomization.yaml: %v", err)
	}
	m, err := fluxkustomize.SecureBuild(root, dir, false)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out := map[string]fluxResult{}
	for _, res := range m.Resources() {
		id := res.GetKind() + " " + res.GetNamespace() + "/" + res.GetName()
		before, err := res.Map()
		if err != nil {
			t.Fatal(err)
		}
		r := fluxResult{before: before}
		got, err := fluxkustomize.SubstituteVariables(context.Background(), nil, ks, res,
			fluxkustomize.SubstituteWithDryRun(true))
		switch {
		case err != nil:
			r.err = err
		case got == nil:
			r.skipped = true
		default:
			if r.after, err = got.Map(); err != nil {
				t.Fatal(err)
			}
		}
		out[id] = r
	}
	return out
}

// TestFluxSubstitution renders a team's repo whose obsctl.yaml carries a
// Flux variable (an external label ${cluster_name}) and whose dashboard
// uses Grafana's ${job}, and runs Flux's own build and substitution over
// it with deploy/flux's obsctl Kustomization: with --for flux every
// ${...} and $$ of Grafana, Fluentd, Jaeger, shell, Prometheus's rule
// templates and the operator's CRDs is left as it was, the Flux variable
// is substituted, and nothing else changes; without it, Flux's
// substitution changes objects (an empty value in place of each variable
// it does not know, $$ made $) or fails on an expression it cannot parse.
func TestFluxSubstitution(t *testing.T) {
	ks := fluxKustomization(t, "obsctl")
	vars, _, err := unstructured.NestedStringMap(ks.Object, "spec", "postBuild", "substitute")
	if err != nil || vars["cluster_name"] == "" {
		t.Fatalf("the obsctl Kustomization substitutes no cluster_name: %v", err)
	}
	dir := filepath.Join(sandbox(t), "repo")
	initRepo(t, dir)
	edit(t, filepath.Join(dir, "obsctl.yaml"), "prometheus:\n", "prometheus:\n  externalLabels:\n    cluster: ${cluster_name}\n")
	edit(t, filepath.Join(dir, "dashboards", "example.json"), `avg(up{job=\"$job\"})`, `avg(up{job=~\"${job:regex}\"})`)

	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			root := sandbox(t)
			out := filepath.Join(root, "clusters", "prod", "obsctl")
			_, stderr := obsctl(t, dir, "render", "--for", "flux", "--profile", profile, "-o", out)
			t.Logf("obsctl render --for flux stderr:\n%s", stderr)
			got := fluxBuild(t, root, out, ks)

			var skipped, substituted int
			for id, r := range got {
				switch {
				case r.err != nil:
					t.Errorf("%s: Flux's substitution fails: %v", id, r.err)
				case r.skipped:
					skipped++
					if !holds(r.before, "${") && !holds(r.before, "$$") {
						t.Errorf("%s is kept from substitution but holds no ${...} or $$", id)
					}
				case strings.HasPrefix(id, "Prometheus "):
					substituted++
					l, _, _ := unstructured.NestedString(r.after, "spec", "externalLabels", "cluster")
					if l != vars["cluster_name"] {
						t.Errorf("%s: external label cluster %q, want Flux's %q", id, l, vars["cluster_name"])
					}
				case !reflect.DeepEqual(r.before, r.after):
					t.Errorf("%s: Flux's substitution changed it", id)
				}
			}
			for _, want := range []struct{ kind, has string }{
				{"ConfigMap", "${job:regex}"},                // the team's dashboard
				{"ConfigMap", "${ELASTICSEARCH_PASSWORD}"},   // Grafana's datasources
				{"ConfigMap", "${record"},                    // Fluentd's configuration
				{"CustomResourceDefinition", "$$(VAR_NAME)"}, // the operator's descriptions
			} {
				found := false
				for id, r := range got {
					if strings.HasPrefix(id, want.kind+" ") && holds(r.before, want.has) {
						found = true
						if !r.skipped {
							t.Errorf("%s holds %s and Flux substitutes it", id, want.has)
						}
					}
				}
				if !found {
					t.Errorf("no %s holds %s: the test no longer shows it kept", want.kind, want.has)
				}
			}
			if substituted != 1 {
				t.Errorf("%d Prometheus objects substituted, want 1", substituted)
			}
			t.Logf("%d objects built by Flux; %d kept from substitution (%s: %s), 1 substituted (cluster=%s)",
				len(got), skipped, render.AnnotationFluxSubstitute, render.FluxDisabled, vars["cluster_name"])

			// The same repo rendered without --for flux: what Flux would do.
			plain := filepath.Join(root, "clusters", "plain", "obsctl")
			obsctl(t, dir, "render", "--profile", profile, "-o", plain)
			broken := 0
			for id, r := range fluxBuild(t, root, plain, ks) {
				if !strings.HasPrefix(id, "Prometheus ") && (r.err != nil || !reflect.DeepEqual(r.before, r.after)) {
					broken++
				}
			}
			if broken == 0 {
				t.Error("without --for flux, Flux's substitution changes nothing: the test no longer shows what the marks are for")
			}
			t.Logf("without --for flux, Flux's substitution breaks %d objects", broken)
		})
	}
}

// holds reports whether any string of v, or any key, contains s.
func holds(v any, s string) bool {
	b, err := yaml.Marshal(v)
	return err == nil && bytes.Contains(b, []byte(s))
}

// edit replaces old with new in the file at path, once, failing t when
// old is not there.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

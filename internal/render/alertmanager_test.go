package render

import (
	"path"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
)

// operatorSecretsDir is where the Prometheus Operator mounts each Secret
// of an Alertmanager's spec.secrets (its API documents
// /etc/alertmanager/secrets/<secret-name>).
const operatorSecretsDir = "/etc/alertmanager/secrets"

// TestAlertmanagerMountsEveryRoutingSecret: every file the compiled
// configuration reads is in a Secret the Alertmanager resource lists,
// where the operator mounts it.
func TestAlertmanagerMountsEveryRoutingSecret(t *testing.T) {
	if amroute.SecretDir != operatorSecretsDir {
		t.Fatalf("amroute writes paths under %s; the operator mounts Secrets under %s", amroute.SecretDir, operatorSecretsDir)
	}
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res, in := renderRepo(t, "  profile: "+profile+"\n", nil)
			if in.Alertmanager == nil || len(in.Alertmanager.Secrets) == 0 {
				t.Fatal("the default repo's routing reads no Secret: the test checks nothing")
			}
			am := typed[monitoringv1.Alertmanager](t, mustFind(t, res, "Alertmanager", "monitoring", "main"))
			for _, m := range in.Alertmanager.Secrets {
				p := m.Path()
				mounted := false
				for _, s := range am.Spec.Secrets {
					if dir := path.Join(operatorSecretsDir, s); strings.HasPrefix(p, dir+"/") && path.Base(p) == m.Key && path.Dir(p) == dir {
						mounted = true
					}
				}
				if !mounted {
					t.Errorf("%s (Secret %s, key %s) is in no Secret of spec.secrets %v", p, m.Secret, m.Key, am.Spec.Secrets)
				}
				if !strings.Contains(string(in.Alertmanager.YAML), p) {
					t.Errorf("the configuration does not read %s", p)
				}
			}
			if !slices.IsSorted(am.Spec.Secrets) || len(slices.Compact(slices.Clone(am.Spec.Secrets))) != len(am.Spec.Secrets) {
				t.Errorf("spec.secrets %v: want sorted, without duplicates", am.Spec.Secrets)
			}
			if am.Spec.ConfigSecret != "alertmanager-main" {
				t.Errorf("configSecret %q", am.Spec.ConfigSecret)
			}
			sec := typed[corev1.Secret](t, mustFind(t, res, "Secret", "monitoring", am.Spec.ConfigSecret))
			if string(sec.Data["alertmanager.yaml"]) != string(in.Alertmanager.YAML) {
				t.Errorf("the config Secret holds %q, want the compiled configuration", sec.Data["alertmanager.yaml"])
			}
		})
	}
}

// A repo without routing: no configuration Secret, configSecret unset,
// the operator's minimal configuration.
func TestAlertmanagerWithoutRouting(t *testing.T) {
	res, in := renderRepo(t, "", func(c *config.Config) { c.Alerting = config.Alerting{} })
	if in.Alertmanager != nil {
		t.Fatal("routing compiled from an empty alerting section")
	}
	am := typed[monitoringv1.Alertmanager](t, mustFind(t, res, "Alertmanager", "monitoring", "main"))
	if am.Spec.ConfigSecret != "" || len(am.Spec.Secrets) > 0 {
		t.Errorf("configSecret %q secrets %v, want neither", am.Spec.ConfigSecret, am.Spec.Secrets)
	}
	if find(res, "Secret", "monitoring", "alertmanager-main") != nil {
		t.Error("a configuration Secret without routing")
	}
}

func TestAlertmanagerSpec(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		replicas int32
		storage  string
		pdb      bool
	}{
		{config.ProfileMinimal, 1, "", false},
		{config.ProfileHA, 3, "2Gi", true},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			res := render(t, "  profile: "+tc.profile+"\n")
			am := typed[monitoringv1.Alertmanager](t, mustFind(t, res, "Alertmanager", "monitoring", "main"))
			s := am.Spec
			if *s.Replicas != tc.replicas || s.Version != "v0.33.1" || *s.Image != "quay.io/prometheus/alertmanager:v0.33.1" {
				t.Errorf("replicas %d version %s image %s", *s.Replicas, s.Version, *s.Image)
			}
			if s.Retention != "120h" {
				t.Errorf("retention %q", s.Retention)
			}
			if tc.storage == "" && (s.Storage == nil || s.Storage.EmptyDir == nil) {
				t.Errorf("storage %+v, want emptyDir", s.Storage)
			}
			if tc.storage != "" {
				got := s.Storage.VolumeClaimTemplate.Spec.Resources.Requests[corev1.ResourceStorage]
				if got.String() != tc.storage {
					t.Errorf("claim %s, want %s", got.String(), tc.storage)
				}
			}
			if sc := s.SecurityContext; sc == nil || !*sc.RunAsNonRoot || sc.SeccompProfile == nil {
				t.Errorf("security context %+v", sc)
			}
			if _, ok := s.Resources.Limits[corev1.ResourceMemory]; !ok {
				t.Errorf("resources %v", s.Resources)
			}
			pods := map[string]string{"app.kubernetes.io/name": "alertmanager", "alertmanager": "main"}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "alertmanager"))
			if !metav1SelectorMatches(t, selectorOf(svc.Spec.Selector), pods) || svc.Spec.Ports[0].Port != 9093 || svc.Spec.Ports[0].Name != "web" {
				t.Errorf("Service alertmanager %+v", svc.Spec)
			}
			if (len(s.TopologySpreadConstraints) == 2) != tc.pdb {
				t.Errorf("spread %v", s.TopologySpreadConstraints)
			}
			for _, c := range s.TopologySpreadConstraints {
				if !metav1SelectorMatches(t, c.LabelSelector, pods) {
					t.Errorf("spread %v does not select the pods", c)
				}
			}
			pdb := find(res, "PodDisruptionBudget", "monitoring", "alertmanager")
			if (pdb != nil) != tc.pdb {
				t.Fatalf("PodDisruptionBudget rendered %v, want %v", pdb != nil, tc.pdb)
			}
			if pdb != nil && !metav1SelectorMatches(t, typed[policyv1.PodDisruptionBudget](t, pdb).Spec.Selector, pods) {
				t.Error("the PodDisruptionBudget does not select the Alertmanager pods")
			}
		})
	}
}

// selectorOf is a Service's selector as a label selector.
func selectorOf(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}

// TestAlertmanagerEnvSecrets: a receiver secret given as {env: VAR} is
// mounted from a Secret that apply writes from the environment; the
// render holds no value.
func TestAlertmanagerEnvSecrets(t *testing.T) {
	res, _ := renderRepo(t, "", func(c *config.Config) {
		for i := range c.Alerting.Receivers {
			if s := c.Alerting.Receivers[i].Slack; s != nil {
				s.WebhookURL = config.SecretRef{Env: "SLACK_WEBHOOK_URL"}
			}
		}
	})
	var env *GeneratedSecret
	for i, g := range res.Generated {
		if len(g.Env) > 0 {
			env = &res.Generated[i]
		}
	}
	if env == nil {
		t.Fatal("no Secret from the environment is recorded for apply")
	}
	if env.Name != amroute.EnvSecretName("obsctl") || env.Namespace != "monitoring" {
		t.Errorf("env Secret %s/%s", env.Namespace, env.Name)
	}
	found := false
	for _, v := range env.Env {
		found = found || v == "SLACK_WEBHOOK_URL"
	}
	if !found {
		t.Errorf("env Secret keys %v do not read SLACK_WEBHOOK_URL", env.Env)
	}
	am := mustFind(t, res, "Alertmanager", "monitoring", "main")
	secrets, _, _ := unstructured.NestedStringSlice(am.Object, "spec", "secrets")
	if !slices.Contains(secrets, env.Name) {
		t.Errorf("the Alertmanager mounts %v, not the env Secret %s", secrets, env.Name)
	}
}

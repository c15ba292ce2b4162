package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/render/crds"
)

// A set is one copy of the benchmark's objects, written to a folder: the
// CRDs under crds/, everything else in files at the top, so that kubectl
// can apply the CRDs first as it must.
type set struct {
	prefix string // of every name, namespace and CRD group: sets never collide
	dir    string
	objs   []*unstructured.Unstructured
	crds   int
	bytes  int // of the manifests
	// largestCRD is the size of the largest CRD manifest.
	largestCRD int
}

// shape says how many objects of each kind a set has besides the CRDs and
// the PrometheusRules, which are fixed.
type shape struct {
	namespaces, serviceAccounts, roles, configMaps, dashboards, secrets, services,
	deployments, daemonSets, statefulSets, serviceMonitors, podMonitors int
}

// defaultShape makes, with the 10 CRDs and 9 PrometheusRules, a set of
// about 300 objects, the size of the stack obsctl renders.
var defaultShape = shape{
	namespaces: 3, serviceAccounts: 12, roles: 6, configMaps: 123, dashboards: 12, secrets: 15, services: 24,
	deployments: 15, daemonSets: 3, statefulSets: 3, serviceMonitors: 40, podMonitors: 10,
}

// render builds a set for prefix: the Prometheus Operator's CRDs with
// their group prefixed, the default repo's PrometheusRules (rules, from
// obsctl build) and objects of the kinds a monitoring stack has.
func render(prefix, dir string, sh shape, rules []*unstructured.Unstructured) (*set, error) {
	s := &set{prefix: prefix, dir: dir}
	group := prefix + ".monitoring.coreos.com"
	var files = map[string][]*unstructured.Unstructured{}
	add := func(file string, o *unstructured.Unstructured) {
		files[file] = append(files[file], o)
		s.objs = append(s.objs, o)
	}

	names, err := fs.Glob(crds.FS(), "*.yaml")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		b, err := fs.ReadFile(crds.FS(), n)
		if err != nil {
			return nil, err
		}
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &o.Object); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
		if err := unstructured.SetNestedField(o.Object, group, "spec", "group"); err != nil {
			return nil, err
		}
		o.SetName(plural + "." + group)
		add("crds/"+n, o)
		s.crds++
	}

	nss := make([]string, sh.namespaces)
	for i := range nss {
		nss[i] = fmt.Sprintf("%s-ns%d", prefix, i)
		add("00-namespaces.yaml", obj("v1", "Namespace", "", nss[i], nil))
	}
	ns := func(i int) string { return nss[i%len(nss)] }
	labels := func(app string) map[string]any { return map[string]any{"app.kubernetes.io/name": app} }

	for i := range sh.serviceAccounts {
		add("10-rbac.yaml", obj("v1", "ServiceAccount", ns(i), fmt.Sprintf("sa-%d", i), nil))
	}
	rule := []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"pods", "services", "endpoints"}, "verbs": []any{"get", "list", "watch"}}}
	for i := range sh.roles {
		name := fmt.Sprintf("%s-reader-%d", prefix, i)
		add("10-rbac.yaml", obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", name, map[string]any{"rules": rule}))
		add("11-bindings.yaml", obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", name, map[string]any{
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": ns(i), "name": fmt.Sprintf("sa-%d", i)}},
		}))
		add("10-rbac.yaml", obj("rbac.authorization.k8s.io/v1", "Role", ns(i), fmt.Sprintf("config-%d", i), map[string]any{"rules": []any{
			map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": []any{"get", "list", "watch"}},
		}}))
		add("11-bindings.yaml", obj("rbac.authorization.k8s.io/v1", "RoleBinding", ns(i), fmt.Sprintf("config-%d", i), map[string]any{
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": fmt.Sprintf("config-%d", i)},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": ns(i), "name": fmt.Sprintf("sa-%d", i)}},
		}))
	}
	for i := range sh.configMaps {
		data := map[string]any{"config.yaml": fmt.Sprintf("level: info\nshard: %d\nretention: 15d\n", i)}
		if i < sh.dashboards {
			data = map[string]any{fmt.Sprintf("dashboard-%d.json", i): dashboard(i)}
		}
		add("20-config.yaml", obj("v1", "ConfigMap", ns(i), fmt.Sprintf("config-%d", i), map[string]any{"data": data}))
	}
	for i := range sh.secrets {
		add("20-config.yaml", obj("v1", "Secret", ns(i), fmt.Sprintf("secret-%d", i), map[string]any{
			"type": "Opaque", "stringData": map[string]any{"password": fmt.Sprintf("bench-%s-%d", prefix, i)},
		}))
	}
	for i := range sh.services {
		add("30-services.yaml", obj("v1", "Service", ns(i), fmt.Sprintf("svc-%d", i), map[string]any{"spec": map[string]any{
			"selector": labels(fmt.Sprintf("app-%d", i%sh.deployments)),
			"ports":    []any{map[string]any{"name": "http", "port": int64(8080), "targetPort": "http"}},
		}}))
	}
	podSpec := func(app string) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"labels": labels(app)},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "main", "image": "registry.k8s.io/pause:3.10",
				"ports":     []any{map[string]any{"name": "http", "containerPort": int64(8080)}},
				"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]any{"memory": "64Mi"}},
			}}},
		}
	}
	workload := func(kind string, i int, extra map[string]any) {
		app := fmt.Sprintf("app-%d", i)
		spec := map[string]any{"selector": map[string]any{"matchLabels": labels(app)}, "template": podSpec(app)}
		for k, v := range extra {
			spec[k] = v
		}
		add("40-workloads.yaml", obj("apps/v1", kind, ns(i), fmt.Sprintf("%s-%d", strings.ToLower(kind), i), map[string]any{"spec": spec}))
	}
	for i := range sh.deployments {
		workload("Deployment", i, map[string]any{"replicas": int64(1)})
	}
	for i := range sh.daemonSets {
		workload("DaemonSet", sh.deployments+i, nil)
	}
	for i := range sh.statefulSets {
		workload("StatefulSet", sh.deployments+sh.daemonSets+i, map[string]any{"replicas": int64(1), "serviceName": fmt.Sprintf("svc-%d", i)})
	}
	for i := range sh.deployments + sh.daemonSets + sh.statefulSets {
		if i%3 == 0 {
			add("40-workloads.yaml", obj("policy/v1", "PodDisruptionBudget", ns(i), fmt.Sprintf("pdb-%d", i), map[string]any{"spec": map[string]any{
				"maxUnavailable": int64(1), "selector": map[string]any{"matchLabels": labels(fmt.Sprintf("app-%d", i))},
			}}))
		}
	}

	mon := group + "/v1"
	for i := range sh.serviceMonitors {
		add("50-monitors.yaml", obj(mon, "ServiceMonitor", ns(i), fmt.Sprintf("sm-%d", i), map[string]any{"spec": map[string]any{
			"selector":  map[string]any{"matchLabels": labels(fmt.Sprintf("app-%d", i))},
			"endpoints": []any{map[string]any{"port": "http", "interval": "30s", "path": "/metrics"}},
		}}))
	}
	for i := range sh.podMonitors {
		add("50-monitors.yaml", obj(mon, "PodMonitor", ns(i), fmt.Sprintf("pm-%d", i), map[string]any{"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": labels(fmt.Sprintf("app-%d", i))},
			"podMetricsEndpoints": []any{map[string]any{"port": "http"}},
		}}))
	}
	for _, r := range rules {
		c := r.DeepCopy()
		c.SetAPIVersion(mon)
		c.SetNamespace(ns(0))
		add("50-monitors.yaml", c)
	}
	add("50-monitors.yaml", obj(mon, "Prometheus", ns(0), "k8s", map[string]any{"spec": map[string]any{
		"replicas": int64(2), "serviceAccountName": "sa-0", "retention": "15d",
		"serviceMonitorSelector": map[string]any{}, "podMonitorSelector": map[string]any{}, "ruleSelector": map[string]any{},
	}}))
	add("50-monitors.yaml", obj(mon, "Alertmanager", ns(0), "main", map[string]any{"spec": map[string]any{"replicas": int64(3)}}))

	for file, objs := range files {
		var b strings.Builder
		for i, o := range objs {
			y, err := yaml.Marshal(o.Object)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				b.WriteString("---\n")
			}
			b.Write(y)
			if strings.HasPrefix(file, "crds/") {
				s.largestCRD = max(s.largestCRD, len(y))
			}
		}
		p := filepath.Join(dir, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		s.bytes += b.Len()
	}
	return s, nil
}

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		o.Object[k] = v
	}
	o.SetAPIVersion(apiVersion)
	o.SetKind(kind)
	o.SetName(name)
	if ns != "" {
		o.SetNamespace(ns)
	}
	return o
}

// dashboard returns a Grafana dashboard's JSON of about 40 KB, the size of
// the stack's.
func dashboard(i int) string {
	var panels []string
	for p := range 60 {
		panels = append(panels, fmt.Sprintf(`{"type":"timeseries","title":"Panel %d","gridPos":{"x":%d,"y":%d,"w":12,"h":8},`+
			`"datasource":{"type":"prometheus","uid":"prometheus"},"fieldConfig":{"defaults":{"unit":"short"},"overrides":[]},`+
			`"targets":[{"refId":"A","expr":"sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{cluster=\"$cluster\",namespace=\"$namespace\",container!=\"\"}[$__rate_interval]))","legendFormat":"{{namespace}}/{{pod}}"}]}`,
			p, (p%2)*12, (p/2)*8))
	}
	return fmt.Sprintf(`{"uid":"bench-%d","title":"Bench %d","schemaVersion":39,"panels":[%s]}`, i, i, strings.Join(panels, ","))
}

// readRules reads the PrometheusRule objects obsctl build wrote.
func readRules(dir string) ([]*unstructured.Unstructured, error) {
	ms, err := manifest.Read([]string{dir}, manifest.Options{})
	if err != nil {
		return nil, err
	}
	return manifest.Objects(ms), nil
}

package programs

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/test/cluster"
)

// MirrorManager manages the EndpointSlices MirrorEndpoints writes.
const MirrorManager = "obsctl-test-loopback-mirror"

// MirrorEndpoints writes, for each Service with a selector in the
// namespaces, an EndpointSlice of its ready pods, which the cluster's own
// controllers cannot: the pods' addresses are loopback ones, and the
// apiserver refuses loopback addresses in Endpoints and in IP EndpointSlices
// (ValidateEndpointIP). The slices it writes are of address type FQDN,
// whose addresses are checked as names (a dotted quad passes), and
// Prometheus' endpointslice discovery makes targets of them as of any
// other: what a ServiceMonitor selects is then scraped at the address
// where the test runs the real program. Named target ports are resolved
// from the pods' container ports, as the endpoint controller does.
func MirrorEndpoints(ctx context.Context, c *cluster.Cluster, namespaces ...string) error {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	for _, ns := range namespaces {
		svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, svc := range svcs.Items {
			if len(svc.Spec.Selector) == 0 {
				continue
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
			if err != nil {
				return err
			}
			slice := mirrorSliceOf(ns, svc.Name)
			for _, p := range svc.Spec.Ports {
				port := p.TargetPort.IntValue()
				if port == 0 {
					port = namedPort(pods.Items, p.TargetPort.String())
				}
				if port == 0 {
					port = int(p.Port)
				}
				slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(int32(port)), Protocol: ptr.To(p.Protocol)})
			}
			for _, pod := range pods.Items {
				if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
					continue
				}
				slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
					Addresses:  []string{pod.Status.PodIP},
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(podReady(&pod))},
					NodeName:   ptr.To(pod.Spec.NodeName),
					TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod.Name, UID: pod.UID},
				})
			}
			if err := writeMirrorSlice(ctx, cs, slice); err != nil {
				return err
			}
		}
	}
	return nil
}

// mirrorSliceOf returns the empty EndpointSlice the mirror writes for
// Service ns/svc: of address type FQDN, whose addresses are checked as
// names, so that a loopback address passes.
func mirrorSliceOf(ns, svc string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: svc + "-loopback", Namespace: ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc,
			discoveryv1.LabelManagedBy:   MirrorManager,
		}},
		AddressType: discoveryv1.AddressTypeFQDN,
	}
}

// writeMirrorSlice writes slice in place of any the mirror wrote before.
func writeMirrorSlice(ctx context.Context, cs kubernetes.Interface, slice *discoveryv1.EndpointSlice) error {
	api := cs.DiscoveryV1().EndpointSlices(slice.Namespace)
	if err := api.Delete(ctx, slice.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if _, err := api.Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("mirror the endpoints of Service %s/%s: %w", slice.Namespace, slice.Labels[discoveryv1.LabelServiceName], err)
	}
	return nil
}

func namedPort(pods []corev1.Pod, name string) int {
	for _, p := range pods {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == name {
					return int(cp.ContainerPort)
				}
			}
		}
	}
	return 0
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPods returns the pods of a workload's selector that have an
// address, in name order.
func readyPods(ctx context.Context, cs kubernetes.Interface, ns string, sel map[string]string) ([]corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// rewriteArgs replaces each argument's prefix by what a function makes of
// its value: the way a workload's arguments are moved from the pod to
// where the test runs the program.
func rewriteArgs(args []string, by map[string]func(string) string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		for prefix, f := range by {
			if v, ok := strings.CutPrefix(a, prefix); ok {
				a = prefix + f(v)
				break
			}
		}
		out = append(out, a)
	}
	return out
}

// StartKubeStateMetrics runs the real kube-state-metrics (bin) for the
// stack's Deployment ns/name: its container's arguments, bound to its
// pod's address, watching the cluster with its ServiceAccount's token,
// with extra arguments after the container's.
func StartKubeStateMetrics(ctx context.Context, c *cluster.Cluster, bin, ns, name string, extra ...string) (addr string, err error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return "", err
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	pods, err := readyPods(ctx, cs, ns, dep.Spec.Selector.MatchLabels)
	if err != nil || len(pods) == 0 {
		return "", fmt.Errorf("kube-state-metrics %s/%s has no pod with an address (%v)", ns, name, err)
	}
	ip := pods[0].Status.PodIP
	kubeconfig, err := c.ServiceAccountKubeconfig(ctx, ns, dep.Spec.Template.Spec.ServiceAccountName, 24*time.Hour)
	if err != nil {
		return "", err
	}
	spec := &dep.Spec.Template.Spec
	args := append(slices.Clone(spec.Containers[0].Args), "--host="+ip, "--telemetry-host="+ip, "--kubeconfig="+kubeconfig)
	args = append(args, extra...)
	// A file the container reads from a ConfigMap it mounts (the custom
	// resource state configuration) is read from the ConfigMap here.
	const crsFlag = "--custom-resource-state-config-file="
	for i, a := range args {
		if path, ok := strings.CutPrefix(a, crsFlag); ok {
			local, err := mountedFile(ctx, cs, ns, spec, &spec.Containers[0], path, c.Dir())
			if err != nil {
				return "", err
			}
			args[i] = crsFlag + local
		}
	}
	if _, err := c.Run(KubeStateMetrics, bin, args, nil); err != nil {
		return "", err
	}
	port := "8080"
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--port="); ok {
			port = v
		}
	}
	return ip + ":" + port, nil
}

// mountedFile writes the file at path in container ctr of a pod of spec,
// which a ConfigMap volume gives it, into a new folder under dir, and
// returns where.
func mountedFile(ctx context.Context, cs kubernetes.Interface, ns string, spec *corev1.PodSpec, ctr *corev1.Container, path, dir string) (string, error) {
	for _, m := range ctr.VolumeMounts {
		key, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if m.SubPath != "" && path == m.MountPath {
			key, ok = m.SubPath, true
		}
		if !ok {
			continue
		}
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name && v.ConfigMap != nil })
		if i < 0 {
			continue
		}
		src := spec.Volumes[i].ConfigMap
		for _, item := range src.Items {
			if item.Path == key {
				key = item.Key
			}
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, src.Name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		data, ok := cm.Data[key]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s/%s has no key %s for %s", ns, src.Name, key, path)
		}
		d, err := os.MkdirTemp(dir, "mounted-")
		if err != nil {
			return "", err
		}
		local := filepath.Join(d, filepath.Base(path))
		return local, os.WriteFile(local, []byte(data), 0o644)
	}
	return "", fmt.Errorf("no ConfigMap volume of %s gives %s", ctr.Name, path)
}

// StartNodeExporters runs the real node-exporter (bin) once for each pod
// of the stack's DaemonSet ns/name, on the address of that pod's node
// (the DaemonSet runs on the host's network): its container's arguments,
// with the host's root where the pod mounts it. Every copy reads this
// machine, which is what each simulated node is. It returns their
// addresses.
func StartNodeExporters(ctx context.Context, c *cluster.Cluster, bin, ns, name string) ([]string, error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, err
	}
	ds, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pods, err := readyPods(ctx, cs, ns, ds.Spec.Selector.MatchLabels)
	if err != nil || len(pods) == 0 {
		return nil, fmt.Errorf("node-exporter %s/%s has no pod with an address (%v)", ns, name, err)
	}
	var addrs []string
	for _, p := range pods {
		var addr string
		args := rewriteArgs(ds.Spec.Template.Spec.Containers[0].Args, map[string]func(string) string{
			"--web.listen-address=": func(v string) string {
				if i := strings.LastIndex(v, ":"); i >= 0 {
					addr = p.Status.HostIP + v[i:]
				}
				return addr
			},
			"--path.rootfs=":    func(string) string { return "/" },
			"--path.procfs=":    func(string) string { return "/proc" },
			"--path.sysfs=":     func(string) string { return "/sys" },
			"--path.udev.data=": func(string) string { return "/run/udev/data" },
		})
		if addr == "" {
			return nil, fmt.Errorf("node-exporter %s/%s: no --web.listen-address in %v", ns, name, args)
		}
		if _, err := c.Run(NodeExporter+"-"+p.Spec.NodeName, bin, args, nil); err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// StartPrometheus runs the real Prometheus (bin) as the Prometheus Operator
// runs the stack's Prometheus ns/name: the configuration the operator
// generated (its Secret prometheus-<name>) and the rule files it wrote
// (ConfigMaps prometheus-<name>-rulefiles-*), with the Kubernetes
// service discovery and the scrapes that authenticate with the pod's
// token pointed at the cluster and a token of the Prometheus'
// ServiceAccount (so its RBAC is proven too), and bound to the address of
// its first pod. dir receives the files; it returns the web address.
func StartPrometheus(ctx context.Context, c *cluster.Cluster, bin, ns, name, dir string) (string, error) {
	cs, sts, pods, err := operatorStatefulSet(ctx, c, ns, "prometheus-"+name)
	if err != nil {
		return "", err
	}
	secret, err := cs.CoreV1().Secrets(ns).Get(ctx, "prometheus-"+name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	raw, err := gunzip(secret.Data["prometheus.yaml.gz"])
	if err != nil {
		return "", fmt.Errorf("the operator's configuration: %w", err)
	}
	rulesDir := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rulesDir, 0o755); err != nil {
		return "", err
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "managed-by=prometheus-operator,prometheus-name=" + name})
	if err != nil {
		return "", err
	}
	for _, cm := range cms.Items {
		d := filepath.Join(rulesDir, cm.Name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		for file, content := range cm.Data {
			if err := os.WriteFile(filepath.Join(d, file), []byte(content), 0o644); err != nil {
				return "", err
			}
		}
	}
	token, err := c.ServiceAccountToken(ctx, ns, sts.Spec.Template.Spec.ServiceAccountName, 24*time.Hour)
	if err != nil {
		return "", err
	}
	tokenFile, caFile := filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(caFile, c.CACert(), 0o644); err != nil {
		return "", err
	}
	// The operator's config reloader expands $(VAR) in the configuration
	// from its container's environment (SHARD, POD_NAME) before Prometheus
	// reads it; here the test does.
	vars := map[string]string{}
	for _, ctr := range append(sts.Spec.Template.Spec.InitContainers, sts.Spec.Template.Spec.Containers...) {
		if !strings.Contains(ctr.Name, "config-reloader") {
			continue
		}
		for _, e := range ctr.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
				vars[e.Name] = pods[0].Name
			case e.ValueFrom == nil:
				vars[e.Name] = e.Value
			}
		}
	}
	for k, v := range vars {
		raw = bytes.ReplaceAll(raw, []byte("$("+k+")"), []byte(v))
	}
	conf, err := outOfPod(raw, c.Host(), tokenFile, caFile, rulesDir)
	if err != nil {
		return "", err
	}
	confFile := filepath.Join(dir, "prometheus.yaml")
	if err := os.WriteFile(confFile, conf, 0o644); err != nil {
		return "", err
	}
	addr := pods[0].Status.PodIP + ":9090"
	args := []string{"--config.file=" + confFile, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-lifecycle"}
	if _, err := c.Run(Prometheus, bin, args, nil); err != nil {
		return "", err
	}
	return addr, nil
}

// The paths of a pod's service account credentials, which the operator's
// configuration names.
const (
	podToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	podCA    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// outOfPod moves a configuration the operator generated for a pod to this
// machine: each Kubernetes service discovery is pointed at the cluster's
// apiserver with the token and CA, the pod's credential files are replaced
// by those, and the rule files are looked for under rulesDir. Nothing
// else is changed.
func outOfPod(raw []byte, apiServer, tokenFile, caFile, rulesDir string) ([]byte, error) {
	var conf map[string]any
	if err := yaml.Unmarshal(raw, &conf); err != nil {
		return nil, fmt.Errorf("the operator's configuration: %w", err)
	}
	var fix func(v any)
	fix = func(v any) {
		switch n := v.(type) {
		case map[string]any:
			if sds, ok := n["kubernetes_sd_configs"].([]any); ok {
				for _, sd := range sds {
					if m, ok := sd.(map[string]any); ok {
						m["api_server"] = apiServer
						m["authorization"] = map[string]any{"credentials_file": tokenFile}
						m["tls_config"] = map[string]any{"ca_file": caFile}
					}
				}
			}
			for k, c := range n {
				switch c {
				case podToken:
					n[k] = tokenFile
				case podCA:
					n[k] = caFile
				default:
					fix(c)
				}
			}
		case []any:
			for _, c := range n {
				fix(c)
			}
		}
	}
	fix(conf)
	if files, ok := conf["rule_files"].([]any); ok {
		for i, f := range files {
			if s, ok := f.(string); ok {
				files[i] = filepath.Join(rulesDir, filepath.Base(filepath.Dir(s)), filepath.Base(s))
			}
		}
	}
	return yaml.Marshal(conf)
}

// StartAlertmanager runs the real Alertmanager (bin) as the Prometheus
// Operator runs the stack's Alertmanager ns/name: the configuration the
// operator generated from the stack's (its Secret
// alertmanager-<name>-generated), with the Secrets the stack mounts at
// /etc/alertmanager/secrets/<secret>/<key> written under dir and the
// paths pointed there, one replica without clustering, bound to the
// address of its first pod. It returns the web address.
func StartAlertmanager(ctx context.Context, c *cluster.Cluster, bin, ns, name, dir string) (string, error) {
	cs, sts, pods, err := operatorStatefulSet(ctx, c, ns, "alertmanager-"+name)
	if err != nil {
		return "", err
	}
	gen, err := cs.CoreV1().Secrets(ns).Get(ctx, "alertmanager-"+name+"-generated", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	raw := gen.Data["alertmanager.yaml"]
	if gz, ok := gen.Data["alertmanager.yaml.gz"]; ok {
		if raw, err = gunzip(gz); err != nil {
			return "", fmt.Errorf("the operator's configuration: %w", err)
		}
	}
	if len(raw) == 0 {
		return "", fmt.Errorf("secret %s has no alertmanager.yaml", gen.Name)
	}
	const mounted = "/etc/alertmanager/secrets/"
	secretsDir := filepath.Join(dir, "secrets")
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Secret == nil || !strings.HasPrefix(v.Name, "secret-") {
			continue
		}
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		d := filepath.Join(secretsDir, s.Name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", err
		}
		for k, val := range s.Data {
			if err := os.WriteFile(filepath.Join(d, k), val, 0o600); err != nil {
				return "", err
			}
		}
	}
	conf := bytes.ReplaceAll(raw, []byte(mounted), []byte(secretsDir+"/"))
	confFile := filepath.Join(dir, "alertmanager.yaml")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		return "", err
	}
	addr := pods[0].Status.PodIP + ":9093"
	args := []string{"--config.file=" + confFile, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--cluster.listen-address="}
	if _, err := c.Run(Alertmanager, bin, args, nil); err != nil {
		return "", err
	}
	return addr, nil
}

// operatorStatefulSet returns a StatefulSet the Prometheus Operator made,
// ns/name, and its pods that have an address (at least one).
func operatorStatefulSet(ctx context.Context, c *cluster.Cluster, ns, name string) (kubernetes.Interface, *appsv1.StatefulSet, []corev1.Pod, error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	sts, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	pods, err := readyPods(ctx, cs, ns, sts.Spec.Selector.MatchLabels)
	if err != nil || len(pods) == 0 {
		return nil, nil, nil, fmt.Errorf("StatefulSet %s/%s has no pod with an address (%v)", ns, name, err)
	}
	return cs, sts, pods, nil
}

// gunzip decompresses what the operator stores gzipped.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

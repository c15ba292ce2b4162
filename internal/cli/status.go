package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// statusTimeout is status's --timeout: a handful of list requests.
const statusTimeout = 30 * time.Second

type statusOptions struct {
	*globalOptions
	cluster clusterOptions
	output  string
}

func newStatusCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &statusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each component of the stack: ready replicas, version, endpoints",
		Long: `Show each component of the stack as it runs in the cluster: how many of
its replicas are ready out of how many are wanted (summed over its
Deployments, StatefulSets, DaemonSets and the Prometheus and Alertmanager
the operator runs), its version, and the endpoints to open: the in-cluster
URL of its user interface or API and, with ingress on, its host.

Exit codes: 0 every component ready, 1 the cluster could not be read, 2 usage
error, 4 a component is not ready (or the stack has none in the cluster).`,
		Example: `  obsctl status
  obsctl status --stack prod -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	o.cluster.addFlags(f)
	o.cluster.timeout = statusTimeout
	if t := f.Lookup("timeout"); t != nil {
		t.DefValue = statusTimeout.String()
		t.Usage = "bound on reading the cluster, retries included"
	}
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

// componentStatus is one component in status's output.
type componentStatus struct {
	Component string           `json:"component"`
	Ready     bool             `json:"ready"`
	Desired   int64            `json:"desired"`
	Available int64            `json:"readyReplicas"`
	Version   string           `json:"version,omitempty"`
	Endpoints []string         `json:"endpoints"`
	Workloads []workloadStatus `json:"workloads"`
}

type workloadStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Desired   int64  `json:"desired"`
	Ready     int64  `json:"ready"`
}

type statusReport struct {
	Stack      string            `json:"stack"`
	Ready      bool              `json:"ready"`
	Components []componentStatus `json:"components"`
}

func runStatus(ctx context.Context, deps *Deps, o *statusOptions) error {
	if o.output != "text" && o.output != "json" {
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, o.cluster.timeout)
	defer cancel()
	rep, err := readStatus(tctx, conn, o.cluster.stack)
	if err != nil {
		return asTimeout(err, o.cluster.timeout)
	}
	if o.output == "json" {
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printStatus(deps.Stdout, rep)
	}
	switch {
	case len(rep.Components) == 0:
		return &notReadyStatus{msg: fmt.Sprintf("stack %s has no components in the cluster (%s): nothing applied yet?", o.cluster.stack, conn.where)}
	case !rep.Ready:
		var not []string
		for _, c := range rep.Components {
			if !c.Ready {
				not = append(not, c.Component)
			}
		}
		return &notReadyStatus{msg: "not ready: " + strings.Join(not, ", ")}
	}
	return nil
}

// notReadyStatus is status's exit code 4.
type notReadyStatus struct{ msg string }

func (e *notReadyStatus) Error() string { return e.msg }

// The kinds status reads, with where their desired and ready counts are.
var statusKinds = []struct {
	gvr            schema.GroupVersionResource
	kind           string
	desired, ready []string
}{
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet", []string{"spec", "replicas"}, []string{"status", "readyReplicas"}},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet", []string{"status", "desiredNumberScheduled"}, []string{"status", "numberReady"}},
	{schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}, "Prometheus", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
	{schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "alertmanagers"}, "Alertmanager", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
}

// uiPorts are the Service ports status shows as endpoints.
var uiPorts = map[string]bool{"http": true, "web": true, "query": true, "otlp-grpc": true, "otlp-http": true}

func readStatus(ctx context.Context, conn *clusterConn, stackName string) (*statusReport, error) {
	sel := apply.LabelStack + "=" + stackName + "," + render.LabelPartOf + "=obsctl"
	list := func(gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
		var l *unstructured.UnstructuredList
		err := kube.Retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
			var err error
			l, err = conn.clients.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
			return err
		})
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil // the kind is not served: its CRD is not installed
		}
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	byComponent := map[string]*componentStatus{}
	get := func(o *unstructured.Unstructured) *componentStatus {
		name := cmp.Or(o.GetLabels()[render.LabelComponent], o.GetLabels()[render.LabelName], o.GetKind()+" "+o.GetName())
		c, ok := byComponent[name]
		if !ok {
			c = &componentStatus{Component: name, Endpoints: []string{}}
			byComponent[name] = c
		}
		return c
	}
	for _, k := range statusKinds {
		items, err := list(k.gvr)
		if err != nil {
			return nil, err
		}
		for i := range items {
			o := &items[i]
			desired, found, _ := unstructured.NestedInt64(o.Object, k.desired...)
			if !found && k.kind != "DaemonSet" {
				desired = 1 // replicas left out means one
			}
			ready, _, _ := unstructured.NestedInt64(o.Object, k.ready...)
			c := get(o)
			c.Workloads = append(c.Workloads, workloadStatus{Kind: k.kind, Namespace: o.GetNamespace(), Name: o.GetName(), Desired: desired, Ready: ready})
			c.Desired += desired
			c.Available += min(ready, desired)
			if v := o.GetLabels()[render.LabelVersion]; v != "" && c.Version == "" {
				c.Version = v
			}
		}
	}
	services, err := list(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	if err != nil {
		return nil, err
	}
	for i := range services {
		s := &services[i]
		c, ok := byComponent[s.GetLabels()[render.LabelComponent]]
		if ip, _, _ := unstructured.NestedString(s.Object, "spec", "clusterIP"); !ok || ip == "None" {
			continue // headless Services are for the pods themselves
		}
		ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
		for _, p := range ports {
			pm, _ := p.(map[string]any)
			name, _ := pm["name"].(string)
			n, _ := pm["port"].(int64)
			if uiPorts[name] {
				c.Endpoints = append(c.Endpoints, fmt.Sprintf("http://%s.%s.svc:%d", s.GetName(), s.GetNamespace(), n))
			}
		}
	}
	ingresses, err := list(schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"})
	if err != nil {
		return nil, err
	}
	for i := range ingresses {
		in := &ingresses[i]
		c, ok := byComponent[in.GetLabels()[render.LabelComponent]]
		if !ok {
			continue
		}
		tls, _, _ := unstructured.NestedSlice(in.Object, "spec", "tls")
		scheme := "http"
		if len(tls) > 0 {
			scheme = "https"
		}
		rules, _, _ := unstructured.NestedSlice(in.Object, "spec", "rules")
		for _, r := range rules {
			rm, _ := r.(map[string]any)
			if h, _ := rm["host"].(string); h != "" {
				c.Endpoints = append(c.Endpoints, scheme+"://"+h)
			}
		}
	}
	rep := &statusReport{Stack: stackName, Ready: true, Components: []componentStatus{}}
	for _, c := range byComponent {
		c.Ready = c.Available >= c.Desired
		slices.Sort(c.Endpoints)
		c.Endpoints = slices.Compact(c.Endpoints)
		slices.SortFunc(c.Workloads, func(a, b workloadStatus) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		rep.Ready = rep.Ready && c.Ready
		rep.Components = append(rep.Components, *c)
	}
	slices.SortFunc(rep.Components, func(a, b componentStatus) int { return cmp.Compare(a.Component, b.Component) })
	rep.Ready = rep.Ready && len(rep.Components) > 0
	return rep, nil
}

func printStatus(w io.Writer, rep *statusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tREADY\tVERSION\tENDPOINTS")
	for _, c := range rep.Components {
		ready := fmt.Sprintf("%d/%d", c.Available, c.Desired)
		if !c.Ready {
			ready += " (not ready)"
		}
		eps := strings.Join(c.Endpoints, " ")
		if eps == "" {
			eps = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Component, ready, cmp.Or(c.Version, "-"), eps)
	}
	_ = tw.Flush()
}

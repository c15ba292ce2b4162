package programs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/obsctl/obsctl/test/cluster"
)

// OperatorSelector selects the Deployment of a stack's Prometheus Operator.
const OperatorSelector = "app.kubernetes.io/name=prometheus-operator"

// RunningOperator is the real Prometheus Operator started for a stack.
type RunningOperator struct {
	// Namespace and Deployment name the operator's Deployment.
	Namespace, Deployment string
	// Listen is the address of its web endpoint (metrics): its pod's.
	Listen string
	// PID is its process id.
	PID int
}

// FindOperator returns the namespace and name of the first Deployment of a
// Prometheus Operator on the cluster whose pod has an address, or "" when
// there is none yet.
func FindOperator(ctx context.Context, c *cluster.Cluster) (ns, name string, err error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return "", "", err
	}
	deps, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: OperatorSelector})
	if err != nil {
		return "", "", err
	}
	for _, d := range deps.Items {
		if ip, _ := podIP(ctx, cs, d.Namespace, d.Spec.Selector.MatchLabels); ip != "" {
			return d.Namespace, d.Name, nil
		}
	}
	return "", "", nil
}

func podIP(ctx context.Context, cs kubernetes.Interface, ns string, sel map[string]string) (string, error) {
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
			return p.Status.PodIP, nil
		}
	}
	return "", nil
}

// StartOperator runs the real Prometheus Operator (bin) for the stack
// whose operator Deployment is ns/name, as the Deployment says but outside
// the simulated node: with the arguments of its container, a token of its
// ServiceAccount (so that it acts with what the stack's RBAC grants it,
// not as an administrator), and its web endpoint on the address kwok gave
// its pod, where the stack's ServiceMonitor scrapes it. It runs as a
// component of the cluster (cluster.Run): Stop stops it.
func StartOperator(ctx context.Context, c *cluster.Cluster, bin, ns, name string) (*RunningOperator, error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return nil, err
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("operator deployment: %w", err)
	}
	ip, err := podIP(ctx, cs, ns, dep.Spec.Selector.MatchLabels)
	if err != nil || ip == "" {
		return nil, fmt.Errorf("operator deployment %s/%s has no pod with an address yet (%v)", ns, name, err)
	}
	if !c.Block().Contains(ip) {
		return nil, fmt.Errorf("operator pod address %s is outside the cluster's loopback block", ip)
	}
	kubeconfig, err := c.ServiceAccountKubeconfig(ctx, ns, dep.Spec.Template.Spec.ServiceAccountName, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	if len(dep.Spec.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("operator deployment %s/%s has no container", ns, name)
	}
	r := &RunningOperator{Namespace: ns, Deployment: name}
	var args []string
	for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
		if port, ok := strings.CutPrefix(a, "--web.listen-address=:"); ok {
			r.Listen = ip + ":" + port
			a = "--web.listen-address=" + r.Listen
		}
		args = append(args, a)
	}
	if r.Listen == "" {
		return nil, fmt.Errorf("operator deployment %s/%s: no --web.listen-address=:PORT in %v", ns, name, args)
	}
	if r.PID, err = c.Run(Operator, bin, args, []string{"KUBECONFIG=" + kubeconfig}); err != nil {
		return nil, err
	}
	return r, nil
}

// TB is what OperatorFor needs of a test.
type TB interface {
	Helper()
	Fatal(args ...any)
	Log(args ...any)
}

// OperatorFor builds (or finds) the real Prometheus Operator and starts it
// for the stack whose operator Deployment is ns/prometheus-operator, for a
// test: failing it when the operator cannot start. It runs until the
// cluster stops.
func OperatorFor(tb TB, c *cluster.Cluster, ns string) *RunningOperator {
	tb.Helper()
	bin := Bin(tb, Operator)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	op, err := StartOperator(ctx, c, bin, ns, "prometheus-operator")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Log("prometheus operator of " + ns + " running, web on " + op.Listen)
	return op
}

// RepoRoot is the obsctl repository's root, found from the working folder
// (a test's is its package's folder), for a test.
func RepoRoot(tb TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	root, err := cluster.FindRepoRoot(wd)
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// Bin builds (or finds) the named program for a test and returns its path.
func Bin(tb TB, name string) string {
	tb.Helper()
	p, ok := Find(name)
	if !ok {
		tb.Fatal("no program " + name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin, err := p.Ensure(ctx, RepoRoot(tb), logWriter{tb})
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

type logWriter struct{ tb TB }

func (l logWriter) Write(p []byte) (int, error) {
	l.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"
)

// apiserverGrace is how long a stopped kube-apiserver may take to finish
// its in-flight requests before it is killed. It stops listening within
// milliseconds of SIGTERM, but while the other components hold their watches
// open its graceful shutdown waits out its whole shutdown timeout (a
// minute), which would only make tests slow.
const apiserverGrace = 3 * time.Second

// apiserverStartTimeout bounds StartAPIServer when its context has no
// deadline of its own.
const apiserverStartTimeout = 2 * time.Minute

// errClusterStopped is returned by StopAPIServer and StartAPIServer once
// Stop has begun.
var errClusterStopped = errors.New("the cluster is stopped")

// StopAPIServer stops the kube-apiserver and only it, to test what a client
// does when the control plane goes away: SIGTERM to the apiserver's process
// group, then SIGKILL after a grace period. etcd keeps every object, and the
// controller manager, the scheduler and kwok keep running (retrying), so
// StartAPIServer brings the same cluster back. Until then requests fail with
// "connection refused". Err does not count the stopped apiserver as a dead
// component, and PIDs still names it. Stopping a stopped apiserver does
// nothing.
func (c *Cluster) StopAPIServer() error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	p, err := c.retire(KubeAPIServer)
	if err != nil || p == nil {
		return err
	}

	start := time.Now()
	if err := stopProcs(apiserverGrace, []*proc{p}); err != nil {
		return fmt.Errorf("stop apiserver: %w", err)
	}
	fmt.Fprintf(c.log, "cluster: apiserver (pid %d) stopped after %s\n", p.pid(), time.Since(start).Round(time.Millisecond))
	return nil
}

// StartAPIServer starts the kube-apiserver that StopAPIServer stopped again,
// with the same binary, flags, address, port and certificates, appending to
// the same log, and returns once /readyz answers ok. Objects stored before
// the stop are still there: etcd kept running. It is an error to call it
// while the apiserver runs. Without a deadline on ctx it gives up after two
// minutes; an apiserver that did not get ready is stopped again, and the
// error carries the components' log tails.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, apiserverStartTimeout)
		defer cancel()
	}

	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return fmt.Errorf("start apiserver: %w", errClusterStopped)
	}
	if slices.ContainsFunc(c.procs, func(p *proc) bool { return p.name == KubeAPIServer }) {
		c.mu.Unlock()
		return errors.New("start apiserver: it is running; StopAPIServer first")
	}
	var prev *proc // the apiserver stopped last
	for _, p := range slices.Backward(c.retired) {
		if p.name == KubeAPIServer {
			prev = p
			break
		}
	}
	c.mu.Unlock()
	if prev == nil {
		return errors.New("start apiserver: it was never started")
	}

	begin := time.Now()
	if f, err := os.OpenFile(prev.logPath, os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "----- restarted by StartAPIServer at %s -----\n", begin.UTC().Format(time.RFC3339))
		_ = f.Close()
	}
	c.mu.Lock()
	if c.stopped { // Stop waits for apiMu, so this cannot happen; be safe anyway
		c.mu.Unlock()
		return fmt.Errorf("start apiserver: %w", errClusterStopped)
	}
	// The same command line: its flags name the port and the certificates.
	p, err := startProc(KubeAPIServer, prev.cmd.Path, prev.cmd.Args[1:], prev.cmd.Env, prev.logPath)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("start apiserver: %w", err)
	}
	c.procs = append(c.procs, p)
	c.mu.Unlock()

	if err := c.waitAPIServerReady(ctx); err != nil {
		c.mu.Lock()
		c.procs = slices.DeleteFunc(c.procs, func(q *proc) bool { return q == p })
		c.retired = append(c.retired, p)
		c.mu.Unlock()
		stopErr := stopProcs(apiserverGrace, []*proc{p})
		return fmt.Errorf("start apiserver: %w\n%s", errors.Join(err, stopErr), c.LogTails(30))
	}
	fmt.Fprintf(c.log, "cluster: apiserver (pid %d) ready again after %s\n", p.pid(), time.Since(begin).Round(time.Millisecond))
	return nil
}

// waitAPIServerReady polls /readyz until it answers ok.
func (c *Cluster) waitAPIServerReady(ctx context.Context) error {
	cfg := c.RESTConfig()
	cfg.Timeout = 2 * time.Second // a half-started server must not hold up the poll
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return c.poll(ctx, "apiserver /readyz", func() (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
}

// componentGrace is how long a stopped kube-scheduler or
// kube-controller-manager may take to exit before it is killed.
const componentGrace = 3 * time.Second

// StopComponent stops the control plane's kube-scheduler or
// kube-controller-manager (KubeScheduler, KubeControllerManager) for the
// rest of the cluster's life, to test what notices a part of the control
// plane going away: SIGTERM, then SIGKILL after a grace period. Err does
// not count it as a dead component. Stopping it twice does nothing.
func (c *Cluster) StopComponent(name string) error {
	if name != KubeScheduler && name != KubeControllerManager {
		return fmt.Errorf("stop %s: only %s and %s can be stopped alone", name, KubeScheduler, KubeControllerManager)
	}
	p, err := c.retire(name)
	if err != nil || p == nil {
		return err
	}
	if err := stopProcs(componentGrace, []*proc{p}); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	fmt.Fprintf(c.log, "cluster: %s (pid %d) stopped\n", name, p.pid())
	return nil
}

// retire takes the running component name out of the cluster's
// processes into those stopped on purpose, which Err does not count as
// dead, and returns it (nil when none runs); it is for the caller to stop.
func (c *Cluster) retire(name string) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, fmt.Errorf("stop %s: %w", name, errClusterStopped)
	}
	i := slices.IndexFunc(c.procs, func(p *proc) bool { return p.name == name })
	if i < 0 {
		return nil, nil
	}
	p := c.procs[i]
	c.procs = slices.Delete(c.procs, i, i+1)
	c.retired = append(c.retired, p)
	return p, nil
}

package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/obsctl/obsctl/internal/kube"
)

// Options say what to start.
type Options struct {
	// Nodes is how many simulated nodes to register; 0 means 3.
	Nodes int
	// BinDir holds the binaries (see EnsureBinaries). Required.
	BinDir string
	// Dir holds the cluster's state: certificates, kubeconfigs, etcd data
	// and the components' logs under logs/. Empty means a new temporary
	// folder that Stop removes (a failed Start keeps its logs/); a given
	// Dir is kept.
	Dir string
	// Timeout bounds Start; 0 means 2 minutes, enough for a loaded CI box.
	Timeout time.Duration
	// Log receives progress lines and, when Start fails, the tail of every
	// component's log. Nil means os.Stderr.
	Log io.Writer
	// Volumes is how many PersistentVolumes (500Gi each, no class, on the
	// simulated nodes' host paths) to create, standing in for a storage
	// provisioner: volume claims without a class bind to them.
	Volumes int
	// KubeletConfigs, when set, makes kwok serve the kubelet API of the
	// first node (at its address, port 10250, with a certificate of the
	// cluster's CA) and reads these kwok configuration files besides its
	// stages: ClusterPortForward and PortForward objects there send a pod's
	// port-forward (kubectl port-forward, client-go's portforward) to a
	// program the test runs on loopback.
	KubeletConfigs []string
}

// Zones are the topology.kubernetes.io/zone values the nodes are spread over,
// round robin.
var Zones = []string{"zone-a", "zone-b", "zone-c"}

// Region is every node's topology.kubernetes.io/region.
const Region = "region-1"

// Cluster is a running control plane: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler as real processes, and kwok
// playing the kubelets of the simulated nodes.
type Cluster struct {
	dir        string
	removeDir  bool
	log        io.Writer
	host       string
	ca         *ca
	admin      *rest.Config
	kubeconfig string
	nodes      []string
	// lease holds the cluster's loopback block until Stop.
	lease *lease
	// programs are the names of the programs Run started, for LogTails.
	programs []string
	// ports are the control plane's address and ports.
	ports ports

	// mu guards procs, retired and stopped: tests read them (Err, PIDs)
	// while another goroutine stops or restarts the apiserver.
	mu sync.Mutex
	// procs are the components that should be running.
	procs []*proc
	// retired are components stopped on purpose (StopAPIServer), kept so
	// that PIDs still names them.
	retired []*proc
	// stopped is set once Stop has begun; nothing starts after it.
	stopped bool
	// apiMu serializes StopAPIServer, StartAPIServer and Stop.
	apiMu sync.Mutex

	stopOnce sync.Once
	stopErr  error
}

// Start brings up a control plane and returns once /readyz answers ok, every
// node is Ready without the not-ready taint, and the default service account
// exists. Each cluster binds its own address in 127.0.0.0/8, so several can
// run at once. On failure nothing is left running and the error carries the
// tail of each component's log; the full logs stay in Dir/logs.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.BinDir == "" {
		return nil, errors.New("start cluster: Options.BinDir is empty")
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes > MaxNodes {
		return nil, fmt.Errorf("start cluster: %d nodes: at most %d fit the loopback block", opts.Nodes, MaxNodes)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	c := &Cluster{dir: opts.Dir, log: opts.Log}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "obsctl-cluster-")
		if err != nil {
			return nil, fmt.Errorf("start cluster: %w", err)
		}
		c.dir, c.removeDir = d, true
	}
	// A port another process grabbed between our probe and the component's
	// bind fails the start; that is rare, and a fresh address fixes it.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = c.start(ctx, opts)
		if err == nil {
			return c, nil
		}
		if c.stopProcs(5*time.Second) == nil {
			c.lease.release() // else processes may be left on its addresses
		}
		if !c.addrInUse() || ctx.Err() != nil {
			break
		}
		fmt.Fprintf(c.log, "cluster: address in use, retrying (attempt %d)\n", attempt)
		c.procs = nil
	}
	err = fmt.Errorf("start cluster in %s: %w\n%s", c.dir, err, c.LogTails(30))
	if c.removeDir {
		// Keep the full logs of a failed start; drop the rest, the etcd
		// data above all, whose write-ahead log alone is 64 MiB.
		entries, _ := os.ReadDir(c.dir)
		for _, e := range entries {
			if e.Name() != "logs" {
				_ = os.RemoveAll(filepath.Join(c.dir, e.Name()))
			}
		}
	}
	return nil, err
}

// addrInUse reports whether a component failed to bind its port.
func (c *Cluster) addrInUse() bool {
	for _, p := range c.running() {
		if data, err := os.ReadFile(p.logPath); err == nil && strings.Contains(string(data), "address already in use") {
			return true
		}
	}
	return false
}

// ports are the loopback address and ports of one cluster.
type ports struct {
	ip                                          string
	etcdClient, etcdPeer, apiserver, kcm, sched int
}

// pickPorts asks the kernel for free ports on the control plane's address
// of the block. The block is the cluster's alone (see lease), so its ports
// cannot collide with another cluster's even when the kernel hands out the
// same numbers.
func pickPorts(b Block) (ports, error) {
	ip := b.ControlPlane()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var nums []int
	for range 5 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return ports{}, fmt.Errorf("no free port on %s: %w", ip, err)
		}
		ls = append(ls, l)
		nums = append(nums, l.Addr().(*net.TCPAddr).Port)
	}
	return ports{ip, nums[0], nums[1], nums[2], nums[3], nums[4]}, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	// A given Dir may hold an earlier cluster's state: start afresh.
	c.nodes = nil
	for _, sub := range []string{"pki", "logs", "etcd", "kwok-home", "kcm", "apiserver", "users"} {
		if err := os.RemoveAll(filepath.Join(c.dir, sub)); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(c.dir, sub), 0o700); err != nil {
			return err
		}
	}
	var err error
	if c.lease, err = leaseBlock(); err != nil {
		return err
	}
	p, err := pickPorts(c.lease.block)
	if err != nil {
		return err
	}
	c.ports = p
	c.host = "https://" + net.JoinHostPort(p.ip, strconv.Itoa(p.apiserver))
	if err := c.writePKI(p.ip); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	pki := func(name string) string { return filepath.Join(c.dir, "pki", name) }
	bin := func(name string) string { return filepath.Join(opts.BinDir, name) }
	logs := func(name string) string { return filepath.Join(c.dir, "logs", name+".log") }
	env := os.Environ()
	run := func(name string, args ...string) error {
		pr, err := startProc(name, bin(name), args, env, logs(name))
		if err != nil {
			return err
		}
		c.procs = append(c.procs, pr)
		return nil
	}

	begin := time.Now()
	etcdURL := fmt.Sprintf("http://%s", net.JoinHostPort(p.ip, strconv.Itoa(p.etcdClient)))
	peerURL := fmt.Sprintf("http://%s", net.JoinHostPort(p.ip, strconv.Itoa(p.etcdPeer)))
	if err := run(Etcd,
		"--name=default",
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL,
		// Throwaway data: durability buys nothing and fsync costs a lot.
		"--unsafe-no-fsync",
		"--log-level=warn",
	); err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, "etcd", etcdURL+"/health", nil); err != nil {
		return err
	}

	if err := run(KubeAPIServer,
		"--etcd-servers="+etcdURL,
		"--bind-address="+p.ip,
		"--advertise-address="+p.ip,
		"--secure-port="+strconv.Itoa(p.apiserver),
		"--cert-dir="+filepath.Join(c.dir, "apiserver"),
		"--tls-cert-file="+pki("apiserver.crt"),
		"--tls-private-key-file="+pki("apiserver.key"),
		"--client-ca-file="+pki("ca.crt"),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction,PodSecurity",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki("sa.pub"),
		"--service-account-signing-key-file="+pki("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// Reach a node's kubelet (logs, exec, port-forward) at its
		// loopback InternalIP, never by resolving its name: the default
		// order tries Hostname first, and the lookup went to the
		// machine's resolver, off loopback.
		"--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=true",
		"--requestheader-client-ca-file="+pki("front-proxy-ca.crt"),
		"--requestheader-allowed-names="+frontProxyClient,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pki("front-proxy-client.crt"),
		"--proxy-client-key-file="+pki("front-proxy-client.key"),
		// The advertised address is loopback, which Endpoints may not hold;
		// nothing in a kwok cluster dials the kubernetes Service anyway.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	); err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return err
	}
	if err := c.poll(ctx, "apiserver /readyz", func() (bool, error) {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(c.log, "cluster: apiserver ready at %s after %s\n", c.host, time.Since(begin).Round(time.Millisecond))

	version, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	if err := c.registerNodes(ctx, cs, opts.Nodes, version.GitVersion); err != nil {
		return err
	}
	if err := run(KubeControllerManager,
		"--kubeconfig="+pki("kcm.kubeconfig"),
		"--authentication-kubeconfig="+pki("kcm.kubeconfig"),
		"--authorization-kubeconfig="+pki("kcm.kubeconfig"),
		"--bind-address="+p.ip,
		"--secure-port="+strconv.Itoa(p.kcm),
		"--cert-dir="+filepath.Join(c.dir, "kcm"),
		"--leader-elect=false",
		// Each controller runs as its own service account, as in a real
		// cluster; creating those at the default 20 QPS delays start by
		// seconds.
		"--use-service-account-credentials=true",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
		"--service-account-private-key-file="+pki("sa.key"),
		"--root-ca-file="+pki("ca.crt"),
		"--cluster-signing-cert-file="+pki("ca.crt"),
		"--cluster-signing-key-file="+pki("ca.key"),
		"--cluster-name="+clusterName,
		// Every default controller runs, the node lifecycle one included,
		// which is what clears the not-ready taint from the nodes.
		"--controllers=*",
	); err != nil {
		return err
	}
	if err := run(KubeScheduler,
		"--kubeconfig="+pki("scheduler.kubeconfig"),
		"--authentication-kubeconfig="+pki("scheduler.kubeconfig"),
		"--authorization-kubeconfig="+pki("scheduler.kubeconfig"),
		"--bind-address="+p.ip,
		"--secure-port="+strconv.Itoa(p.sched),
		"--leader-elect=false",
	); err != nil {
		return err
	}
	kwokArgs := []string{
		"--kubeconfig=" + pki("kwok.kubeconfig"),
		"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=fake",
		"--cidr=" + c.lease.block.DefaultPodCIDR(),
		"--node-lease-duration-seconds=40",
	}
	if len(opts.KubeletConfigs) > 0 {
		ip := c.lease.block.NodeIP(0)
		kp, err := c.ca.serving("kwok-kubelet", nil, []net.IP{net.ParseIP(ip)})
		if err != nil {
			return err
		}
		if err := writeFiles(filepath.Join(c.dir, "pki"), map[string][]byte{"kubelet.crt": kp.certPEM, "kubelet.key": kp.keyPEM}); err != nil {
			return err
		}
		kwokArgs = append(kwokArgs, "--server-address="+ip+":10250", "--tls-cert-file="+pki("kubelet.crt"), "--tls-private-key-file="+pki("kubelet.key"))
		for _, f := range opts.KubeletConfigs {
			kwokArgs = append(kwokArgs, "--config="+f)
		}
	}
	stages, err := filepath.Glob(filepath.Join(opts.BinDir, stagesDir, "*.yaml"))
	if err != nil || len(stages) == 0 {
		return fmt.Errorf("no kwok stages in %s", filepath.Join(opts.BinDir, stagesDir))
	}
	for _, s := range stages {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	// kwok also loads ~/.kwok/kwok.yaml when there is one; a HOME of its own
	// keeps a developer's kwokctl setup out of the test cluster.
	kwokEnv := append(os.Environ(), "HOME="+filepath.Join(c.dir, "kwok-home"))
	pr, err := startProc(Kwok, bin(Kwok), kwokArgs, kwokEnv, logs(Kwok))
	if err != nil {
		return err
	}
	c.procs = append(c.procs, pr)

	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // self-signed by the component; only /healthz is read
	}}
	for name, port := range map[string]int{KubeControllerManager: p.kcm, KubeScheduler: p.sched} {
		url := "https://" + net.JoinHostPort(p.ip, strconv.Itoa(port)) + "/healthz"
		if err := c.waitHTTP(ctx, name, url, insecure); err != nil {
			return err
		}
	}
	if err := c.waitNodesReady(ctx, cs); err != nil {
		return err
	}
	if err := createVolumes(ctx, cs, opts.Volumes); err != nil {
		return err
	}
	if err := c.poll(ctx, "default service account", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(c.log, "cluster: %d nodes ready after %s (logs in %s)\n", opts.Nodes, time.Since(begin).Round(time.Millisecond), filepath.Join(c.dir, "logs"))
	return nil
}

const (
	clusterName      = "obsctl-test"
	kwokAnnotation   = "kwok.x-k8s.io/node"
	adminUser        = "obsctl-admin"
	frontProxyClient = "front-proxy-client"
)

// writePKI makes the CA and every certificate and kubeconfig the
// components and the admin need.
func (c *Cluster) writePKI(ip string) error {
	var err error
	if c.ca, err = newCA("obsctl-test-ca"); err != nil {
		return err
	}
	caKey, err := c.ca.keyPEM()
	if err != nil {
		return err
	}
	// The front proxy CA vouches for the apiserver when it forwards requests
	// to aggregated API servers (metrics-server and the like). It is separate
	// so that no ordinary client certificate can claim another identity
	// through the request headers.
	proxyCA, err := newCA("obsctl-test-front-proxy-ca")
	if err != nil {
		return err
	}
	proxyClient, err := proxyCA.client(frontProxyClient)
	if err != nil {
		return err
	}
	serving, err := c.ca.serving("kube-apiserver",
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		[]net.IP{net.ParseIP(ip), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")})
	if err != nil {
		return err
	}
	saKey, saPub, err := serviceAccountKeys()
	if err != nil {
		return err
	}
	dir := filepath.Join(c.dir, "pki")
	if err := writeFiles(dir, map[string][]byte{
		"ca.crt": c.ca.certPEM, "ca.key": caKey,
		"apiserver.crt": serving.certPEM, "apiserver.key": serving.keyPEM,
		"sa.key": saKey, "sa.pub": saPub,
		"front-proxy-ca.crt":     proxyCA.certPEM,
		"front-proxy-client.crt": proxyClient.certPEM, "front-proxy-client.key": proxyClient.keyPEM,
	}); err != nil {
		return err
	}
	// kwok acts for every simulated kubelet at once, which no node identity
	// can, so it gets cluster-admin rights.
	identities := []struct {
		file   string
		user   string
		groups []string
	}{
		{"kcm.kubeconfig", "system:kube-controller-manager", nil},
		{"scheduler.kubeconfig", "system:kube-scheduler", nil},
		{"kwok.kubeconfig", "kwok-controller", []string{"system:masters"}},
	}
	for _, id := range identities {
		kp, err := c.ca.client(id.user, id.groups...)
		if err != nil {
			return err
		}
		if err := writeKubeconfig(filepath.Join(dir, id.file), clusterName, restConfig(c.host, c.ca.certPEM, kp)); err != nil {
			return err
		}
	}
	kp, err := c.ca.client(adminUser, "system:masters")
	if err != nil {
		return err
	}
	c.admin = restConfig(c.host, c.ca.certPEM, kp)
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	return writeKubeconfig(c.kubeconfig, clusterName, c.admin)
}

// poll calls check until it returns true, an error, ctx ends, or a component
// dies, in which case the error says which.
func (c *Cluster) poll(ctx context.Context, what string, check func() (bool, error)) error {
	for {
		ok, err := check()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		for _, p := range c.running() {
			if p.exited() {
				return fmt.Errorf("wait for %s: %w", what, p.exitErr())
			}
		}
		if err := kube.Sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
	}
}

// waitHTTP waits until url answers 200.
func (c *Cluster) waitHTTP(ctx context.Context, what, url string, client *http.Client) error {
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	return c.poll(ctx, what, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Kubeconfig is the path of a kubeconfig for the admin identity
// (group system:masters).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig returns a fresh copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.admin) }

// Host is the apiserver URL.
func (c *Cluster) Host() string { return c.host }

// Dir is the cluster's state folder.
func (c *Cluster) Dir() string { return c.dir }

// EtcdURL is etcd's client URL (plain HTTP), which serves its /metrics too.
func (c *Cluster) EtcdURL() string {
	return "http://" + net.JoinHostPort(c.ports.ip, strconv.Itoa(c.ports.etcdClient))
}

// SchedulerURL is the HTTPS address of kube-scheduler's secure port. Its
// serving certificate is its own, self-signed; it authenticates and
// authorizes /metrics through the apiserver, so the admin's RESTConfig
// credentials may read it.
func (c *Cluster) SchedulerURL() string {
	return "https://" + net.JoinHostPort(c.ports.ip, strconv.Itoa(c.ports.sched))
}

// ControllerManagerURL is the HTTPS address of kube-controller-manager's
// secure port, as SchedulerURL is kube-scheduler's.
func (c *Cluster) ControllerManagerURL() string {
	return "https://" + net.JoinHostPort(c.ports.ip, strconv.Itoa(c.ports.kcm))
}

// Nodes returns the names of the simulated nodes.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.nodes...) }

// UserConfig returns a client configuration authenticating as user in
// groups, by a client certificate signed by the cluster's CA. It grants
// nothing by itself: what the user may do is up to RBAC, which is the point.
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	return c.userConfig(time.Time{}, user, groups...)
}

// ExpiringUserConfig is UserConfig with a client certificate that expires
// after validity: the API server observes how long each client's
// certificate has left (apiserver_client_certificate_expiration_seconds).
func (c *Cluster) ExpiringUserConfig(validity time.Duration, user string, groups ...string) (*rest.Config, error) {
	return c.userConfig(time.Now().Add(validity), user, groups...)
}

// userConfig is UserConfig with a certificate expiring at notAfter (zero:
// the cluster's own validity).
func (c *Cluster) userConfig(notAfter time.Time, user string, groups ...string) (*rest.Config, error) {
	kp, err := c.ca.clientUntil(notAfter, user, groups...)
	if err != nil {
		return nil, fmt.Errorf("user config for %s: %w", user, err)
	}
	return restConfig(c.host, c.ca.certPEM, kp), nil
}

// APIServerAddress is the kube-apiserver's address (host:port).
func (c *Cluster) APIServerAddress() string {
	return net.JoinHostPort(c.ports.ip, strconv.Itoa(c.ports.apiserver))
}

// UserKubeconfig is UserConfig written as a kubeconfig file under the
// cluster's folder, for tests that run a CLI as that user; it returns the path.
func (c *Cluster) UserKubeconfig(user string, groups ...string) (string, error) {
	cfg, err := c.UserConfig(user, groups...)
	if err != nil {
		return "", err
	}
	return c.writeUserKubeconfig(strings.NewReplacer(":", "_", "/", "_").Replace(user), cfg)
}

// ServiceAccountToken returns a token the apiserver issues for the
// ServiceAccount ns/name (the TokenRequest API, as the kubelet gets a
// pod's), valid for lifetime: a program run with it outside the
// simulated nodes acts with exactly what RBAC grants the account.
func (c *Cluster) ServiceAccountToken(ctx context.Context, ns, name string, lifetime time.Duration) (string, error) {
	cs, err := kubernetes.NewForConfig(c.admin)
	if err != nil {
		return "", err
	}
	secs := int64(lifetime / time.Second)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s/%s: %w", ns, name, err)
	}
	return tr.Status.Token, nil
}

// CACert is the PEM certificate of the cluster's CA, which the apiserver's
// serving certificate chains to.
func (c *Cluster) CACert() []byte { return slices.Clone(c.ca.certPEM) }

// ServiceAccountKubeconfig writes a kubeconfig that authenticates with a
// ServiceAccountToken of ns/name and returns its path.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, ns, name string, lifetime time.Duration) (string, error) {
	token, err := c.ServiceAccountToken(ctx, ns, name, lifetime)
	if err != nil {
		return "", err
	}
	cfg := &rest.Config{Host: c.host, BearerToken: token}
	cfg.CAData = c.ca.certPEM
	return c.writeUserKubeconfig("sa-"+ns+"-"+name, cfg)
}

// writeUserKubeconfig writes cfg as a kubeconfig file of a new name that
// starts with stem under the cluster's users folder, and returns its path.
func (c *Cluster) writeUserKubeconfig(stem string, cfg *rest.Config) (string, error) {
	dir := filepath.Join(c.dir, "users")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, stem+"-*.kubeconfig")
	if err != nil {
		return "", err
	}
	_ = f.Close()
	if err := writeKubeconfig(f.Name(), clusterName, cfg); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// Run starts a program beside the control plane, as a component of the
// cluster: its output goes to logs/<name>.log (in LogTails), Err reports
// it if it exits, Stop stops it with the apiserver's clients, and PIDs
// lists it. The real programs of the stack run this way (test/programs).
// env is added to the process's environment.
func (c *Cluster) Run(name, bin string, args, env []string) (pid int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, fmt.Errorf("run %s: %w", name, errClusterStopped)
	}
	p, err := startProc(name, bin, args, append(os.Environ(), env...), filepath.Join(c.dir, "logs", name+".log"))
	if err != nil {
		return 0, err
	}
	c.procs = append(c.procs, p)
	c.programs = append(c.programs, name)
	return p.pid(), nil
}

// PIDs returns the process ids of every component started, including any
// that have exited or were stopped by StopAPIServer; each is also the id of
// the component's process group.
func (c *Cluster) PIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	pids := make([]int, 0, len(c.retired)+len(c.procs))
	for _, p := range c.retired {
		pids = append(pids, p.pid())
	}
	for _, p := range c.procs {
		pids = append(pids, p.pid())
	}
	return pids
}

// running returns the components that should be running.
func (c *Cluster) running() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.procs)
}

// Err reports a component that has exited while the cluster should be
// running, or nil. An apiserver stopped by StopAPIServer has not died.
func (c *Cluster) Err() error {
	for _, p := range c.running() {
		if p.exited() {
			return p.exitErr()
		}
	}
	return nil
}

// LogTails returns the last n lines of every component's log, each under a
// header naming the file.
func (c *Cluster) LogTails(n int) string {
	var b strings.Builder
	c.mu.Lock()
	names := append(slices.Clone(binaries), c.programs...)
	c.mu.Unlock()
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		path := filepath.Join(c.dir, "logs", name+".log")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		fmt.Fprintf(&b, "----- %s (last %d lines) -----\n%s\n", path, n, tail(path, n))
	}
	return b.String()
}

// Stop stops every component, waiting for each process group to exit (SIGTERM,
// then SIGKILL after a grace period), and removes the folder if Start made
// it. It returns an error if any process is left. Calling it again returns
// the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		// Wait out a restart of the apiserver in progress, then let none
		// begin: a component started after the stop would outlive it.
		c.apiMu.Lock()
		c.mu.Lock()
		c.stopped = true
		c.mu.Unlock()
		c.apiMu.Unlock()
		c.stopErr = c.stopProcs(10 * time.Second)
		if c.stopErr == nil {
			c.lease.release()
		}
		if c.stopErr == nil && c.removeDir {
			if err := os.RemoveAll(c.dir); err != nil {
				c.stopErr = fmt.Errorf("stop cluster: %w", err)
			}
		}
	})
	return c.stopErr
}

// stopProcs stops the clients of etcd first and etcd last, so the apiserver
// can finish its shutdown (which writes to etcd) instead of waiting out the
// grace period.
func (c *Cluster) stopProcs(grace time.Duration) error {
	var clients, store []*proc
	for _, p := range c.running() {
		if p.name == Etcd {
			store = append(store, p)
		} else {
			clients = append(clients, p)
		}
	}
	// A retired apiserver is normally long gone; one whose stop failed is
	// stopped again rather than left behind. One that has been reaped is not
	// signalled, since its pid may by now be another process's.
	c.mu.Lock()
	for _, p := range c.retired {
		if !p.exited() {
			clients = append(clients, p)
		}
	}
	c.mu.Unlock()
	return stopProcs(grace, clients, store)
}

// registerNodes creates the simulated nodes the way kubelets register
// themselves: with the well-known labels, capacity, addresses and the
// not-ready taint, which the node lifecycle controller lifts once kwok
// reports the node Ready.
func (c *Cluster) registerNodes(ctx context.Context, cs kubernetes.Interface, n int, kubeletVersion string) error {
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		resources := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("16"),
			corev1.ResourceMemory: resource.MustParse("64Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: name,
				Labels: map[string]string{
					corev1.LabelHostname:           name,
					corev1.LabelOSStable:           "linux",
					corev1.LabelArchStable:         "amd64",
					corev1.LabelTopologyZone:       Zones[i%len(Zones)],
					corev1.LabelTopologyRegion:     Region,
					corev1.LabelInstanceTypeStable: "kwok.16x64",
					"type":                         "kwok",
				},
				Annotations: map[string]string{
					kwokAnnotation:                 "fake",
					"node.alpha.kubernetes.io/ttl": "0",
				},
			},
			Spec: corev1.NodeSpec{
				PodCIDR:  c.lease.block.PodCIDR(i),
				PodCIDRs: []string{c.lease.block.PodCIDR(i)},
				Taints: []corev1.Taint{{
					Key:    corev1.TaintNodeNotReady,
					Effect: corev1.TaintEffectNoSchedule,
				}},
			},
			Status: corev1.NodeStatus{
				Capacity:    resources,
				Allocatable: resources,
				Addresses: []corev1.NodeAddress{
					{Type: corev1.NodeInternalIP, Address: c.lease.block.NodeIP(i)},
					{Type: corev1.NodeHostName, Address: name},
				},
				NodeInfo: corev1.NodeSystemInfo{
					Architecture:    "amd64",
					OperatingSystem: "linux",
					OSImage:         "kwok",
					KubeletVersion:  kubeletVersion,
				},
			},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("register node %s: %w", name, err)
		}
		c.nodes = append(c.nodes, name)
	}
	return nil
}

// waitNodesReady waits until every registered node is Ready and carries
// neither the not-ready nor the unreachable taint.
func (c *Cluster) waitNodesReady(ctx context.Context, cs kubernetes.Interface) error {
	return c.poll(ctx, "nodes ready", func() (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range list.Items {
			if NodeReady(&n) {
				ready++
			}
		}
		return ready >= len(c.nodes), nil
	})
}

// NodeReady reports whether n's Ready condition is True and the node
// lifecycle controller has lifted its not-ready and unreachable taints.
func NodeReady(n *corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return false
		}
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// createVolumes creates n PersistentVolumes for claims without a class.
func createVolumes(ctx context.Context, cs kubernetes.Interface, n int) error {
	for i := range n {
		_, err := cs.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("simulated-%03d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("500Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: fmt.Sprintf("/var/lib/simulated-volumes/%03d", i)},
				},
			},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create persistent volumes: %w", err)
		}
	}
	return nil
}

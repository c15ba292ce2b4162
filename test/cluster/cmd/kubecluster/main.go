// Command kubecluster runs the local test control plane for people: it is
// what `make kube-bins`, `make cluster-up` and `make cluster-down` call.
//
//	kubecluster bins             build (or find) the binaries, print their folder
//	kubecluster up [-nodes N]    start a cluster in the background, print its KUBECONFIG
//	kubecluster down             stop it and check that no process is left
//	kubecluster secret -namespace NS NAME KEY [NAME KEY...]
//	                             create Secrets with a placeholder value, as
//	                             kubectl create secret generic would (make demo)
//
// The cluster's state, logs, kubeconfig and pid files live in -dir
// (test/bin/cluster by default). `up` starts a copy of itself in `serve`
// mode, in its own session, which owns the component processes and stops
// them on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/programs"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = "usage: kubecluster bins|programs|up|down|serve|secret [-root DIR] [-dir DIR] [-nodes N] [-namespace NS NAME KEY...]"

// Files in the state folder.
const (
	supervisorPID = "supervisor.pid"  // pid of the serve process
	componentPIDs = "components.pids" // one component pid (= process group) a line
	readyFile     = "ready"
	supervisorLog = "supervisor.log"
)

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "repository root (default: found from the working directory)")
	dir := fs.String("dir", "", "cluster state folder (default: ROOT/test/bin/cluster)")
	nodes := fs.Int("nodes", 3, "simulated nodes")
	namespace := fs.String("namespace", "monitoring", "namespace of the Secrets (secret)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *root == "" {
		wd, err := os.Getwd()
		if err == nil {
			*root, err = cluster.FindRepoRoot(wd)
		}
		if err != nil {
			fmt.Fprintf(stderr, "kubecluster: %v\n", err)
			return 1
		}
	}
	if *dir == "" {
		*dir = filepath.Join(*root, "test", "bin", "cluster")
	}
	var err error
	switch cmd {
	case "bins":
		err = bins(*root, stdout, stderr)
	case "programs":
		err = buildPrograms(*root, stdout, stderr)
	case "up":
		err = up(*root, *dir, *nodes, stdout, stderr)
	case "serve":
		err = serve(*root, *dir, *nodes, stderr)
	case "down":
		err = down(*dir, stdout)
	case "secret":
		err = secrets(*dir, *namespace, fs.Args(), stdout)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "kubecluster %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func bins(root string, stdout, stderr io.Writer) error {
	start := time.Now()
	binDir, err := cluster.EnsureBinaries(context.Background(), root)
	if err != nil {
		return err
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(stderr, "binaries built in %s\n", d.Round(time.Second))
	}
	fmt.Fprintln(stdout, binDir)
	return nil
}

// buildPrograms builds the stack's real programs (test/programs) that are
// not built yet and prints their paths.
func buildPrograms(root string, stdout, stderr io.Writer) error {
	start := time.Now()
	bins, err := programs.EnsureAll(context.Background(), root, stderr)
	if err != nil {
		return err
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(stderr, "programs built in %s\n", d.Round(time.Second))
	}
	for _, p := range programs.All {
		fmt.Fprintln(stdout, bins[p.Name])
	}
	return nil
}

// up starts `serve` detached from this process and the terminal, and waits
// until it reports the cluster ready or dies.
func up(root, dir string, nodes int, stdout, stderr io.Writer) error {
	if pid, ok := running(dir); ok {
		fmt.Fprintf(stderr, "cluster already running (supervisor pid %d)\n", pid)
		printEnv(stdout, dir)
		return nil
	}
	// Build first, in the foreground, so a cold build's progress shows.
	if _, err := cluster.EnsureBinaries(context.Background(), root); err != nil {
		return err
	}
	if _, err := operatorProgram(context.Background(), root, stderr); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, readyFile))
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, supervisorLog))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self, "serve", "-root", root, "-dir", dir, "-nodes", strconv.Itoa(nodes))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, readyFile)); err == nil {
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("supervisor exited (%v):\n%s", err, readTail(filepath.Join(dir, supervisorLog)))
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("cluster not ready after 3m:\n%s", readTail(filepath.Join(dir, supervisorLog)))
		case <-time.After(100 * time.Millisecond):
		}
	}
	fmt.Fprintf(stderr, "cluster running (supervisor pid %d, logs in %s); stop it with `make cluster-down`\n",
		cmd.Process.Pid, filepath.Join(dir, "logs"))
	printEnv(stdout, dir)
	return nil
}

func printEnv(w io.Writer, dir string) {
	fmt.Fprintf(w, "export KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
}

// serve runs the cluster until SIGTERM or SIGINT.
func serve(root, dir string, nodes int, log io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	binDir, err := cluster.EnsureBinaries(ctx, root)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, supervisorPID), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, supervisorPID))
	// Storage for the stack's volume claims (the ha profile's
	// Elasticsearch, Prometheus and Alertmanager).
	c, err := cluster.Start(ctx, cluster.Options{Nodes: nodes, BinDir: binDir, Dir: dir, Log: log, Volumes: 16})
	if err != nil {
		return err
	}
	var pids strings.Builder
	for _, pid := range c.PIDs() {
		fmt.Fprintln(&pids, pid)
	}
	if err := os.WriteFile(filepath.Join(dir, componentPIDs), []byte(pids.String()), 0o644); err != nil {
		_ = c.Stop()
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, readyFile), nil, 0o644); err != nil {
		_ = c.Stop()
		return err
	}
	fmt.Fprintf(log, "serving; component pids %v\n", c.PIDs())
	operator, err := operatorProgram(ctx, root, log)
	if err != nil {
		_ = c.Stop()
		return err
	}
	watch := time.NewTicker(2 * time.Second)
	defer watch.Stop()
	operatorStarted := false
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-watch.C:
			if err := c.Err(); err != nil {
				fmt.Fprintf(log, "component died: %v\n", err)
				done = true
				break
			}
			if !operatorStarted {
				operatorStarted = startOperator(ctx, c, operator, dir, log)
			}
		}
	}
	fmt.Fprintln(log, "stopping")
	_ = os.Remove(filepath.Join(dir, readyFile))
	if err := c.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(log, "stopped")
	return nil
}

// operatorProgram builds (or finds) the real Prometheus Operator.
func operatorProgram(ctx context.Context, root string, log io.Writer) (string, error) {
	p, _ := programs.Find(programs.Operator)
	return p.Ensure(ctx, root, log)
}

// startOperator runs the real Prometheus Operator, as the stack's
// Deployment of it says, once a stack has been applied (the simulated
// nodes run no containers): it reconciles the stack's Prometheus and
// Alertmanager, as in a real cluster. It reports whether it started; the
// component pid file then lists it, for down.
func startOperator(ctx context.Context, c *cluster.Cluster, bin, dir string, log io.Writer) bool {
	ns, name, err := programs.FindOperator(ctx, c)
	if err != nil || ns == "" {
		return false
	}
	op, err := programs.StartOperator(ctx, c, bin, ns, name)
	if err != nil {
		fmt.Fprintf(log, "prometheus operator: %v\n", err)
		return false
	}
	fmt.Fprintf(log, "prometheus operator of %s/%s running (pid %d, web on %s)\n", ns, name, op.PID, op.Listen)
	var pids strings.Builder
	for _, pid := range c.PIDs() {
		fmt.Fprintln(&pids, pid)
	}
	if err := os.WriteFile(filepath.Join(dir, componentPIDs), []byte(pids.String()), 0o644); err != nil {
		fmt.Fprintf(log, "write %s: %v\n", componentPIDs, err)
	}
	return true
}

// down stops the supervisor and makes sure every component is gone, killing
// any stragglers by process group.
func down(dir string, stdout io.Writer) error {
	pid, ok := running(dir)
	if ok {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(alive(dir, pid)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	pids := readPIDs(filepath.Join(dir, componentPIDs))
	for _, p := range alive(dir, pids...) {
		_ = syscall.Kill(-p, syscall.SIGKILL)
	}
	checked := append(pids, pid)
	if !ok {
		checked = pids
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(alive(dir, checked...)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := alive(dir, checked...); len(left) > 0 {
		return fmt.Errorf("processes still running: %v", left)
	}
	for _, f := range []string{supervisorPID, componentPIDs, readyFile} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	if len(checked) == 0 {
		fmt.Fprintln(stdout, "no cluster running")
		return nil
	}
	fmt.Fprintf(stdout, "cluster stopped; none of pids %v is left\n", checked)
	return nil
}

// running returns the supervisor's pid if its pid file names a live
// supervisor of this folder.
func running(dir string) (int, bool) {
	pids := readPIDs(filepath.Join(dir, supervisorPID))
	if len(pids) != 1 || len(alive(dir, pids[0])) == 0 {
		return 0, false
	}
	return pids[0], true
}

// alive returns those of pids that are running processes, or process groups
// led by one, whose command line names dir. The check on the command line
// keeps a stale pid file from ever pointing at an unrelated process that
// reused the number.
func alive(dir string, pids ...int) []int {
	var out []int
	for _, pid := range cluster.PIDsAlive(pids) {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || strings.Contains(string(cmdline), dir) {
			// Unreadable means it is exiting or a group without its
			// leader; either way it was ours and is not gone yet.
			out = append(out, pid)
		}
	}
	return out
}

func readPIDs(path string) []int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			pids = append(pids, n)
		}
	}
	return pids
}

func readTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

// placeholder is the value the demo's Secrets hold: a loopback address
// nothing listens on, so that a notification sent to it goes nowhere.
const placeholder = "http://127.0.0.1:9/obsctl-demo-placeholder"

// secrets creates, in the running cluster, a Secret for each NAME KEY pair
// with a placeholder value, as a user creates the receiver Secrets obsctl
// apply asks for. A Secret that exists is left as it is.
func secrets(dir, ns string, pairs []string, stdout io.Writer) error {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return errors.New("want NAME KEY pairs")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < len(pairs); i += 2 {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: pairs[i], Namespace: ns},
			StringData: map[string]string{pairs[i+1]: placeholder},
		}
		_, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			fmt.Fprintf(stdout, "secret/%s exists, left as it is\n", pairs[i])
		case err != nil:
			return err
		default:
			fmt.Fprintf(stdout, "secret/%s created (placeholder %s)\n", pairs[i], pairs[i+1])
		}
	}
	return nil
}

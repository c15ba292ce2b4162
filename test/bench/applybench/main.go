// Command applybench measures obsctl apply against kubectl apply
// --server-side on a fresh local control plane (make bench-apply).
//
// Each run renders a set of about 300 objects (the Prometheus Operator's
// CRDs, the largest over 800 KB, and the kinds a monitoring stack has) twice,
// under two prefixes so that the copies do not collide, and applies one copy
// with each tool: fresh, then again unchanged once the cluster has settled.
// kubectl applies the CRDs first, waits until they are Established, then the
// rest, as it must; obsctl applies the folder in one call. Neither waits for
// rollouts (obsctl --wait=false). Targets: obsctl's fresh apply at most 0.5x
// kubectl's time, its unchanged re-apply at most 0.3x and sending no patch.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/test/cluster"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	obsctl, kubectl string
	runs            int
	keep            bool
}

// Targets, as ratios of obsctl's wall time to kubectl's.
const (
	targetFresh     = 0.5
	targetUnchanged = 0.3
)

func run(args []string, stdout, stderr io.Writer) int {
	o := &options{}
	fl := flag.NewFlagSet("applybench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.obsctl, "obsctl", "bin/obsctl", "obsctl binary to measure")
	fl.StringVar(&o.kubectl, "kubectl", "kubectl", "kubectl binary to compare with")
	fl.IntVar(&o.runs, "runs", 3, "runs of each tool; each applies a fresh copy of the set")
	fl.BoolVar(&o.keep, "keep", false, "keep the rendered sets and the cluster's folder, and print where they are")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 || o.runs < 1 {
		fmt.Fprintln(stderr, "applybench: no arguments, and -runs at least 1")
		return 2
	}
	if err := bench(o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "applybench:", err)
		return 1
	}
	return 0
}

// measurement is one tool's run on one copy of the set.
type measurement struct {
	fresh, unchanged time.Duration
	// patches counts the PATCH requests of the unchanged re-apply: from
	// obsctl's -o json, from kubectl's -v=6 request log.
	patches int
	// changed counts the objects the unchanged re-apply changed (their
	// resourceVersion moved).
	changed int
}

func bench(o *options, stdout, stderr io.Writer) error {
	for _, bin := range []string{o.obsctl, o.kubectl} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (make build; apt-get install kubectl): %w", bin, err)
		}
	}
	abs, err := filepath.Abs(o.obsctl)
	if err != nil {
		return err
	}
	o.obsctl = abs
	root, err := cluster.FindRepoRoot(".")
	if err != nil {
		return err
	}
	binDir, err := cluster.BinDir(root)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(binDir, cluster.KubeAPIServer)); err != nil {
		return fmt.Errorf("no control plane binaries in %s: run make kube-bins", binDir)
	}
	work, err := os.MkdirTemp("", "obsctl-applybench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "applybench: sets and cluster in", work)
	} else {
		defer os.RemoveAll(work)
	}

	var clusterLog bytes.Buffer
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 3, BinDir: binDir, Dir: filepath.Join(work, "cluster"), Log: &clusterLog})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, clusterLog.String())
	}
	defer func() { _ = c.Stop() }()
	clients, err := kube.NewClients(c.RESTConfig())
	if err != nil {
		return err
	}

	build := exec.Command(o.obsctl, "build", "-o", filepath.Join(work, "build"))
	build.Dir = work // no obsctl.yaml here: the embedded default repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("obsctl build: %w\n%s", err, out)
	}
	rules, err := readRules(filepath.Join(work, "build", "prometheusrules"))
	if err != nil {
		return err
	}

	results := map[string][]measurement{}
	var first *set
	for i := range o.runs {
		tools := []string{"obsctl", "kubectl"}
		if i%2 == 1 {
			slices.Reverse(tools) // neither always goes first
		}
		for _, tool := range tools {
			prefix := fmt.Sprintf("%s%d", tool[:1], i+1)
			s, err := render(prefix, filepath.Join(work, prefix), defaultShape, rules)
			if err != nil {
				return err
			}
			if first == nil {
				first = s
				fmt.Fprintf(stdout, "set: %d objects (%d CRDs, the largest %.0f KB), %.1f MB of manifests\n",
					len(s.objs), s.crds, float64(s.largestCRD)/1e3, float64(s.bytes)/1e6)
			}
			var m measurement
			if tool == "obsctl" {
				m, err = measureObsctl(ctx, o, c, clients, s)
			} else {
				m, err = measureKubectl(ctx, o, c, clients, s, filepath.Join(work, prefix+"-home"))
			}
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", i+1, tool, err)
			}
			fmt.Fprintf(stderr, "run %d %-7s fresh %6.2fs  unchanged %6.2fs  patches %3d  changed %3d\n",
				i+1, tool, m.fresh.Seconds(), m.unchanged.Seconds(), m.patches, m.changed)
			results[tool] = append(results[tool], m)
		}
	}
	return report(stdout, results)
}

func report(w io.Writer, results map[string][]measurement) error {
	median := func(ms []measurement, f func(measurement) time.Duration) time.Duration {
		ds := make([]time.Duration, len(ms))
		for i, m := range ms {
			ds[i] = f(m)
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	fresh := func(m measurement) time.Duration { return m.fresh }
	unchanged := func(m measurement) time.Duration { return m.unchanged }
	ob, ku := results["obsctl"], results["kubectl"]
	maxPatches, maxChanged := 0, 0
	for _, m := range ob {
		maxPatches, maxChanged = max(maxPatches, m.patches), max(maxChanged, m.changed)
	}
	kuPatches, kuChanged := 0, 0
	for _, m := range ku {
		kuPatches, kuChanged = max(kuPatches, m.patches), max(kuChanged, m.changed)
	}
	fo, fk := median(ob, fresh), median(ku, fresh)
	uo, uk := median(ob, unchanged), median(ku, unchanged)
	fmt.Fprintf(w, "\nmedian of %d runs (s):\n", len(ob))
	fmt.Fprintf(w, "  %-10s %8s %8s %8s\n", "", "obsctl", "kubectl", "ratio")
	fmt.Fprintf(w, "  %-10s %8.2f %8.2f %7.2fx\n", "fresh", fo.Seconds(), fk.Seconds(), fo.Seconds()/fk.Seconds())
	fmt.Fprintf(w, "  %-10s %8.2f %8.2f %7.2fx\n", "unchanged", uo.Seconds(), uk.Seconds(), uo.Seconds()/uk.Seconds())
	fmt.Fprintf(w, "unchanged re-apply: obsctl sent %d patches and changed %d objects; kubectl sent %d patches and changed %d objects\n",
		maxPatches, maxChanged, kuPatches, kuChanged)

	var failed []string
	check := func(ok bool, format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		if ok {
			fmt.Fprintln(w, "  ok  ", line)
		} else {
			fmt.Fprintln(w, "  FAIL", line)
			failed = append(failed, line)
		}
	}
	fmt.Fprintln(w, "\ntargets:")
	check(fo.Seconds() <= targetFresh*fk.Seconds(), "fresh apply: %.2fx kubectl's time (target <= %.1fx)", fo.Seconds()/fk.Seconds(), targetFresh)
	check(uo.Seconds() <= targetUnchanged*uk.Seconds(), "unchanged re-apply: %.2fx kubectl's time (target <= %.1fx)", uo.Seconds()/uk.Seconds(), targetUnchanged)
	check(maxPatches == 0 && maxChanged == 0, "unchanged re-apply: %d patches, %d objects changed (target 0)", maxPatches, maxChanged)
	if len(failed) > 0 {
		return errors.New("obsctl misses a target")
	}
	return nil
}

func measureObsctl(ctx context.Context, o *options, c *cluster.Cluster, clients *kube.Clients, s *set) (measurement, error) {
	var m measurement
	argv := []string{o.obsctl, "apply", "-f", s.dir, "--stack", s.prefix, "-n", s.prefix + "-ns0", "--wait=false", "--timeout", "5m", "-o", "json"}
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "HOME=" + s.dir}
	took, out, err := timed(ctx, argv, env)
	if err != nil {
		return m, err
	}
	m.fresh = took
	if err := expectCounts(out, len(s.objs), 0); err != nil {
		return m, fmt.Errorf("fresh apply: %w", err)
	}
	before, err := settle(ctx, clients, s)
	if err != nil {
		return m, err
	}
	if m.unchanged, out, err = timed(ctx, argv, env); err != nil {
		return m, err
	}
	if err := expectCounts(out, 0, len(s.objs)); err != nil {
		return m, fmt.Errorf("unchanged re-apply: %w", err)
	}
	var res struct {
		Requests struct{ Patches int }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return m, err
	}
	m.patches = res.Requests.Patches
	m.changed, err = changedSince(ctx, clients, s, before)
	return m, err
}

// expectCounts checks obsctl's -o json result: so many created and
// unchanged objects.
func expectCounts(out []byte, created, unchanged int) error {
	var res struct {
		Counts struct{ Created, Unchanged int }
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("obsctl -o json: %w", err)
	}
	if res.Counts.Created != created || res.Counts.Unchanged != unchanged {
		return fmt.Errorf("obsctl created %d and left %d unchanged, want %d and %d", res.Counts.Created, res.Counts.Unchanged, created, unchanged)
	}
	return nil
}

// patchLine matches a PATCH in kubectl's -v=6 request log, in the older
// ("PATCH https://... 200 OK") and newer (verb="PATCH") forms.
var patchLine = regexp.MustCompile(`(?m)(^|\s|")PATCH( |"\s)|verb="PATCH"`)

func measureKubectl(ctx context.Context, o *options, c *cluster.Cluster, clients *kube.Clients, s *set, home string) (measurement, error) {
	var m measurement
	if err := os.MkdirAll(home, 0o755); err != nil {
		return m, err
	}
	env := []string{"KUBECONFIG=" + c.Kubeconfig(), "HOME=" + home}
	crdDir := filepath.Join(s.dir, "crds")
	apply := func(verbose bool) (time.Duration, int, error) {
		var total time.Duration
		patches := 0
		for _, argv := range [][]string{
			{o.kubectl, "apply", "--server-side", "-f", crdDir},
			{o.kubectl, "wait", "--for", "condition=Established", "--timeout", "2m", "-f", crdDir},
			{o.kubectl, "apply", "--server-side", "-f", s.dir},
		} {
			if verbose && argv[1] == "apply" {
				argv = append(argv, "-v=6")
			}
			took, out, err := timedStderr(ctx, argv, env)
			if err != nil {
				return 0, 0, err
			}
			total += took
			patches += len(patchLine.FindAll(out, -1))
		}
		return total, patches, nil
	}
	var err error
	if m.fresh, _, err = apply(false); err != nil {
		return m, err
	}
	before, err := settle(ctx, clients, s)
	if err != nil {
		return m, err
	}
	if m.unchanged, m.patches, err = apply(true); err != nil {
		return m, err
	}
	m.changed, err = changedSince(ctx, clients, s, before)
	return m, err
}

// timed runs argv with env added and returns its wall time and its
// standard output.
func timed(ctx context.Context, argv, env []string) (time.Duration, []byte, error) {
	took, out, _, err := runCmd(ctx, argv, env)
	return took, out, err
}

// timedStderr is timed returning the command's standard error (kubectl's
// request log).
func timedStderr(ctx context.Context, argv, env []string) (time.Duration, []byte, error) {
	took, _, errOut, err := runCmd(ctx, argv, env)
	return took, errOut, err
}

func runCmd(ctx context.Context, argv, env []string) (time.Duration, []byte, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: %w\n%s%s", strings.Join(argv[:2], " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	return took, stdout.Bytes(), stderr.Bytes(), nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// resourceVersions reads every object's resourceVersion.
func resourceVersions(ctx context.Context, clients *kube.Clients, s *set) (map[string]string, error) {
	out := make(map[string]string, len(s.objs))
	for _, o := range s.objs {
		ri, _, err := clients.ResourceFor(o)
		if err != nil {
			return nil, err
		}
		live, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", kube.Describe(o), err)
		}
		out[kube.Describe(o)] = live.GetResourceVersion()
	}
	return out, nil
}

// settle waits until no object of the set changes any more (controllers
// write workload status for a moment after an apply) and returns the
// resourceVersions, so that what changes afterwards is the re-apply's.
func settle(ctx context.Context, clients *kube.Clients, s *set) (map[string]string, error) {
	prev, err := resourceVersions(ctx, clients, s)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		cur, err := resourceVersions(ctx, clients, s)
		if err != nil {
			return nil, err
		}
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur, nil
		}
		prev = cur
	}
	return nil, errors.New("objects kept changing for a minute after the apply")
}

func changedSince(ctx context.Context, clients *kube.Clients, s *set, before map[string]string) (int, error) {
	after, err := resourceVersions(ctx, clients, s)
	if err != nil {
		return 0, err
	}
	n := 0
	for k, v := range after {
		if before[k] != v {
			n++
		}
	}
	return n, nil
}

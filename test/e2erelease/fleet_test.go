package e2erelease

import (
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/test/grafanafake"
)

// TestApplyToSeveralContexts applies one repo to two kubeconfig contexts
// in one run: the local control plane, and a cluster that does not answer
// (nothing listens on 127.0.0.1:1). The stack is released where it can
// be; the other context's run retries until --timeout runs out, as a
// single apply does; both are reported, a line each in the table, and the
// run exits with the most severe of their exit codes, here 4.
func TestApplyToSeveralContexts(t *testing.T) {
	s := newStack(t, "fleet", 9210)
	t.Parallel()

	cfg, err := clientcmd.LoadFromFile(s.c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
	cfg.AuthInfos["nobody"] = &clientcmdapi.AuthInfo{Token: "not-a-secret"}
	cfg.Contexts["nowhere"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "nobody"}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	here := cfg.CurrentContext

	r := s.obsctl("", "apply", "--kubeconfig", kubeconfig, "--context", here, "--context", "nowhere", "--wait=false", "--timeout", "40s")
	if r.code != cli.ExitNotReady {
		t.Errorf("apply to two contexts, one unreachable: exit %d, want %d", r.code, cli.ExitNotReady)
	}
	for _, want := range []string{
		"==> context " + here + "\n",
		"==> context nowhere\n",
		"Namespace fleet-mon created",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	var hereLine, nowhereLine string
	for _, line := range strings.Split(r.stdout, "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 2 && f[0] == here:
			hereLine = line
		case len(f) > 2 && f[0] == "nowhere":
			nowhereLine = line
		}
	}
	if f := strings.Fields(hereLine); len(f) < 4 || f[1] != "0" || !strings.Contains(hereLine, "stack fleet revision 1: ") {
		t.Errorf("the table's line for %s: %q", here, hereLine)
	}
	if f := strings.Fields(nowhereLine); len(f) < 4 || f[1] != "4" || !strings.Contains(nowhereLine, "127.0.0.1:1 unreachable") {
		t.Errorf("the table's line for nowhere: %q", nowhereLine)
	}

	// Re-applied to the reachable one alone: nothing to do.
	r = s.obsctl("", "apply", "--kubeconfig", kubeconfig, "--context", here, "--wait=false", "--timeout", "2m")
	if r.code != cli.ExitOK || strings.Contains(r.stdout, " created") {
		t.Errorf("re-apply: exit %d\n%s", r.code, r.stdout)
	}

	// A Grafana every context shares is set up once, after the contexts
	// released, not by each at once; not at all when one did not.
	g, err := grafanafake.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s.writeFile("obsctl.yaml", s.config()+"\ngrafana:\n  url: "+g.URL+"\n")
	r = s.obsctl("", "apply", "--kubeconfig", kubeconfig, "--context", here, "--context", "nowhere", "--wait=false", "--timeout", "20s")
	if r.code == cli.ExitOK || !strings.Contains(r.stderr, "were not set up: a context did not release") || len(g.Folders()) != 0 {
		t.Errorf("a fleet with a context down: exit %d, folders %v\n%s", r.code, g.Folders(), r.stderr)
	}
	// Two contexts of the one cluster: the second waits for the first's
	// lock and finds the stack as it is; then the dashboards go to Grafana
	// once.
	cfg.Contexts["again"] = cfg.Contexts[here]
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	r = s.obsctl("", "apply", "--kubeconfig", kubeconfig, "--context", here, "--context", "again", "--wait=false", "--timeout", "2m")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "==> shared by every context\n") || !strings.Contains(r.stdout, "Folder obsctl created (Grafana)") {
		t.Errorf("a fleet sharing a Grafana: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, " created (Grafana)"); n == 0 || g.Requests["POST /api/dashboards/db"] != strings.Count(r.stdout, "Dashboard ") {
		t.Errorf("the dashboards were not pushed once each: %d created lines, %d saves\n%s", n, g.Requests["POST /api/dashboards/db"], r.stdout)
	}
}

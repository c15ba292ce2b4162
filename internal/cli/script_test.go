package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/test/esfake"
	"github.com/obsctl/obsctl/test/grafanafake"
)

// TestMain lets the test binary stand in for obsctl: testscript puts a copy
// of it named obsctl on the scripts' PATH, and running that copy runs Run,
// exactly as cmd/obsctl does. The tests themselves run in a process that
// starts with TestHostile's canary in its environment (runWithCanary).
func TestMain(m *testing.M) {
	if code, ran := runWithCanary(); ran {
		os.Exit(code)
	}
	testscript.Main(m, map[string]func(){
		"obsctl": func() { os.Exit(Run(context.Background(), os.Args[1:], OSDeps())) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: every
// command, output format and exit code, through a real process with real
// files. `go test ./internal/cli -run TestScripts -update` rewrites the
// files that cmp compares against inside the scripts.
//
// testscript's `! exec` says only that a command failed. Exit codes are
// part of obsctl's interface (1 operational failure, 2 usage error, 3
// findings), so the scripts run failing commands with
//
//	exitcode N obsctl ARGS...
//
// which runs the command like exec (its stdout and stderr are then what
// stdout, stderr and cmp look at) and fails unless it exits with N.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			// Output must not depend on the terminal or the caller's taste.
			env.Setenv("NO_COLOR", "1")
			env.Setenv("TERM", "dumb")
			return os.MkdirAll(home, 0o755)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"esfake":   cmdESFake,
			// grafanafake [-token T] FILE...: a Grafana (test/grafanafake)
			// holding each dashboard FILE as obsctl ships it; sets
			// GRAFANA_URL. grafana-edit UID KEY JSON: a UI edit.
			"grafanafake":  cmdGrafanaFake,
			"grafana-edit": cmdGrafanaEdit,
		},
	})
}

// cmdExitCode implements `exitcode N PROGRAM ARGS...`.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("exitcode cannot be negated: name the exit code you expect")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %q is not an exit code", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdESFake implements `esfake [-user U -password P] [-reject N] DOCS.json`:
// it starts a fake Elasticsearch 7.17 (test/esfake) on loopback for the
// rest of the script, holding the documents of DOCS.json (a list of
// {"_index", "_id", "_source"}), and sets ES_URL to it. A source's
// "@timestamp" written as now-5m is that long before the start.
func cmdESFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("esfake cannot be negated")
	}
	var user, password string
	reject := 0
	for len(args) > 1 {
		switch args[0] {
		case "-user":
			user = args[1]
		case "-password":
			password = args[1]
		case "-reject":
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			reject = n
		default:
			ts.Fatalf("esfake: unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: esfake [-user U -password P] [-reject N] DOCS.json")
	}
	var docs []esfake.Doc
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &docs))
	now := time.Now().UTC()
	for _, d := range docs {
		if t, ok := d.Source["@timestamp"].(string); ok && strings.HasPrefix(t, "now-") {
			ago, err := time.ParseDuration(strings.TrimPrefix(t, "now-"))
			ts.Check(err)
			d.Source["@timestamp"] = now.Add(-ago).Format(time.RFC3339Nano)
		}
	}
	srv, err := esfake.Start("127.0.0.1:0", docs)
	ts.Check(err)
	srv.User, srv.Password = user, password
	srv.Reject(reject)
	ts.Defer(srv.Close)
	ts.Setenv("ES_URL", srv.URL)
}

// grafanas are the scripts' Grafana stand-ins, by $WORK.
var grafanas sync.Map

func cmdGrafanaFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("grafanafake cannot be negated")
	}
	srv, err := grafanafake.Start("")
	ts.Check(err)
	ts.Defer(srv.Close)
	if len(args) > 1 && args[0] == "-token" {
		srv.Token, args = args[1], args[2:]
	}
	for _, f := range args {
		shipped, err := dashboard.Provision([]byte(ts.ReadFile(f)), dashboard.UIDOf(func(string) bool { return true }, nil))
		ts.Check(err)
		body := `{"dashboard": ` + string(shipped) + `, "overwrite": true}`
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/dashboards/db", strings.NewReader(body))
		ts.Check(err)
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		resp, err := http.DefaultClient.Do(req)
		ts.Check(err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			ts.Fatalf("grafanafake: %s: %s", f, resp.Status)
		}
	}
	grafanas.Store(ts.Getenv("WORK"), srv)
	ts.Setenv("GRAFANA_URL", srv.URL)
}

func cmdGrafanaEdit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: grafana-edit UID KEY JSON")
	}
	v, ok := grafanas.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("grafana-edit: no grafanafake started")
	}
	var val any
	ts.Check(json.Unmarshal([]byte(args[2]), &val))
	v.(*grafanafake.Server).Edit(args[0], func(b map[string]any) { b[args[1]] = val })
}

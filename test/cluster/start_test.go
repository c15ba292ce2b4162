package cluster

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartFailureReportsLogs starts a "control plane" whose etcd dies at
// once, and checks that Start says which component died, shows its log,
// keeps the full logs and drops the rest of its temporary folder.
func TestStartFailureReportsLogs(t *testing.T) {
	binDir := t.TempDir()
	script := "#!/bin/sh\necho \"etcd: flag provided but not defined: $1\" >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(binDir, Etcd), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, Options{BinDir: binDir, Log: io.Discard})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start succeeded with a broken etcd")
	}
	msg := err.Error()
	for _, want := range []string{"wait for etcd", "etcd exited: exit status 3", "logs/etcd.log (last 30 lines)", "flag provided but not defined: --name=default"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	t.Log(msg)
	dir, _, ok := strings.Cut(strings.TrimPrefix(msg, "start cluster in "), ": ")
	if !ok || !strings.HasPrefix(dir, filepath.Join(os.TempDir(), "obsctl-cluster-")) {
		t.Fatalf("error does not name the cluster's folder: %s", msg)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if _, err := os.Stat(filepath.Join(dir, "logs", "etcd.log")); err != nil {
		t.Errorf("log of the failed start not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etcd")); !os.IsNotExist(err) {
		t.Errorf("etcd data of the failed start kept: %v", err)
	}
}

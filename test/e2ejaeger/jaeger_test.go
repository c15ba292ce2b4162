// Package e2ejaeger proves the Jaeger v2 configuration obsctl renders on the
// real program: Jaeger built from the module of the version the stack pins
// (test/programs) loads it, reports healthy, accepts an OTLP span over HTTP
// and over gRPC's HTTP sibling, and serves it back through its query API.
// The configuration's listen addresses (0.0.0.0, as a pod needs) are moved
// to loopback ports for the test, and nothing else is changed.
package e2ejaeger

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/programs"
)

// Both profiles' configurations are valid to the real program: the ha
// one stores traces in Elasticsearch, which cannot run here, so it is
// validated (every component known, every setting accepted) rather than
// run.
func TestRenderedConfigValidates(t *testing.T) {
	bin := programs.Bin(t, programs.Jaeger)
	for _, profile := range []string{"minimal", "ha"} {
		conf := e2ekit.JaegerConfig(t, profile)
		if profile == "ha" && !strings.Contains(conf, "elasticsearch") {
			t.Errorf("the ha profile's Jaeger does not store in Elasticsearch:\n%s", conf)
		}
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--config="+path)
		cmd.Env = append(os.Environ(), "ES_PASSWORD=not-a-secret")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("jaeger validate, %s profile: %v\n%s\nconfig:\n%s", profile, err, out, conf)
		}
	}
}

// The minimal profile's Jaeger runs: healthy, an OTLP span in, the trace
// out of the query API.
func TestJaegerTakesASpan(t *testing.T) {
	bin := programs.Bin(t, programs.Jaeger)
	conf, ports := e2ekit.JaegerOnLoopback(t, e2ekit.JaegerConfig(t, "minimal"))
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logf, err := os.Create(filepath.Join(dir, "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "--config="+path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		logf.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logf.Name())
			t.Logf("jaeger's log:\n%s", data)
		}
	})
	url := func(rendered int, path string) string {
		p, ok := ports[rendered]
		if !ok {
			t.Fatalf("the rendered configuration does not listen on %d (it does on %v)", rendered, ports)
		}
		return fmt.Sprintf("http://127.0.0.1:%d%s", p, path)
	}

	// Healthy, as the readiness probe asks.
	waitFor(t, exited, "healthy", func() (bool, string) {
		code, body := e2ekit.Get(url(13133, "/status"))
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})

	// A span over OTLP/HTTP, in OTLP's JSON encoding.
	const traceID = "5b8efff798038103d269b633813fc60c"
	span := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"obsctl-e2e"}}]},
"scopeSpans":[{"scope":{"name":"e2e"},"spans":[{"traceId":%q,"spanId":"eee19b7ec3c1b174","name":"checkout",
"kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, traceID, time.Now().Add(-time.Second).UnixNano(), time.Now().UnixNano())
	resp, err := http.Post(url(4318, "/v1/traces"), "application/json", strings.NewReader(span))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP export: %s\n%s", resp.Status, body)
	}

	// The batch processor holds spans up to a second; then the query API
	// has the trace.
	waitFor(t, exited, "the trace in the query API", func() (bool, string) {
		code, body := e2ekit.Get(url(16686, "/api/traces/"+traceID))
		if code != http.StatusOK {
			return false, fmt.Sprintf("%d %s", code, body)
		}
		var got struct {
			Data []struct {
				TraceID string `json:"traceID"`
				Spans   []struct {
					OperationName string `json:"operationName"`
				} `json:"spans"`
				Processes map[string]struct {
					ServiceName string `json:"serviceName"`
				} `json:"processes"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got.Data) != 1 || len(got.Data[0].Spans) != 1 {
			return false, body
		}
		d := got.Data[0]
		for _, p := range d.Processes {
			if p.ServiceName != "obsctl-e2e" {
				return false, body
			}
		}
		return d.TraceID == traceID && d.Spans[0].OperationName == "checkout", body
	})

	// Its own metrics, where the stack's ServiceMonitor scrapes them.
	code, metrics := e2ekit.Get(url(8888, "/metrics"))
	if code != http.StatusOK || !strings.Contains(metrics, "otelcol_receiver_accepted_spans") {
		t.Errorf("metrics endpoint: %d, accepted spans counter missing:\n%.2000s", code, metrics)
	}
}

// waitFor polls cond for up to a minute, failing at once when the program
// exits.
func waitFor(t *testing.T, exited <-chan error, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		select {
		case err := <-exited:
			t.Fatalf("waiting for %s: jaeger exited: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("waiting for %s: gave up after a minute; last answer: %.2000s", what, last)
}

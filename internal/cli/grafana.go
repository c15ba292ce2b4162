package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/grafana-tools/sdk"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/release"
	"github.com/obsctl/obsctl/internal/render"
)

// grafanaTimeout bounds each request to a Grafana.
const grafanaTimeout = 30 * time.Second

// pushGrafana puts the repo's dashboards, each in the Grafana folder of
// its repo folder, and the repo's datasources into the Grafana at
// --grafana-url or grafana.url, once the stack is applied: created,
// configured, unchanged, conflict (a dashboard of that uid obsctl did not
// push, unless --adopt) and, with --prune, the stack's dashboards gone
// from the repo pruned. Each change is a line given to emit; with
// showDiff, a configured dashboard's diff follows its line. With dryRun it
// only reads. It reports whether anything changes. Without a Grafana URL
// it does nothing.
func pushGrafana(ctx context.Context, deps *Deps, o *applyOptions, r *load.Repo, conn *clusterConn, dryRun bool, emit func(string), showDiff func(string)) (bool, error) {
	url := o.grafanaURL
	if url == "" && r.Config != nil {
		url = r.Config.Grafana.URL
	}
	if url == "" {
		return false, nil
	}
	if why := config.CheckGrafanaURL(url); why != "" {
		return false, usagef("--grafana-url: %s", why)
	}
	auth, err := grafanaAuth(ctx, deps, r.Config, conn, o.cluster.namespace)
	if err != nil {
		return false, err
	}
	uidOf := dashboard.ConfigUIDOf(r.Config)
	var boards []dashboard.Board
	for _, d := range r.Dashboards {
		src, err := dashboard.Provision(d.Src, uidOf)
		if err != nil {
			return false, fmt.Errorf("%s: %w", d.Path, err)
		}
		boards = append(boards, dashboard.Board{File: d.Path, Folder: render.DashboardFolderTitle(d), JSON: src})
	}
	var datasources []sdk.Datasource
	if r.Config != nil {
		secret := func(ref *config.SecretRef) (string, error) {
			return secretValue(ctx, deps, ref, conn, o.cluster.namespace)
		}
		if datasources, err = grafanaDatasources(r.Config.Grafana.Datasources, secret); err != nil {
			return false, err
		}
	}
	client, err := sdk.NewClient(url, auth, &http.Client{Timeout: grafanaTimeout})
	if err != nil {
		return false, usagef("--grafana-url: %v", err)
	}
	changes, err := dashboard.Push(ctx, client, boards, dashboard.PushOptions{
		Stack: o.cluster.stack, Datasources: datasources, Prune: o.prune, Adopt: o.adopt, DryRun: dryRun, Yes: o.yes,
	})
	var mass *dashboard.MassPruneError
	if errors.As(err, &mass) {
		// Nothing was pruned; the rest was pushed. Exit 7, as for the
		// cluster's mass prune.
		err = &release.ConfirmError{Stack: o.cluster.stack, Changes: []string{mass.Error()}}
	}
	changed := false
	conflicts := 0
	for _, c := range changes {
		changed = changed || c.Changes()
		line := c.Ref() + " " + c.Action + " (Grafana"
		if dryRun && c.Changes() {
			line += ", server dry run"
		}
		line += ")"
		if c.Note != "" {
			line += ": " + c.Note
		}
		emit(line)
		if showDiff != nil && c.Diff != "" {
			showDiff(c.Diff)
		}
		if c.Action == "conflict" {
			conflicts++
		}
	}
	if err != nil {
		var ce *release.ConfirmError
		if errors.As(err, &ce) {
			return changed, err
		}
		if errors.As(err, new(*neturl.Error)) {
			return changed, fmt.Errorf("cannot reach grafana at %s: %w", url, err)
		}
		return changed, fmt.Errorf("grafana at %s: %w", url, err)
	}
	if conflicts > 0 {
		return changed, &grafanaConflictError{fmt.Sprintf("grafana at %s: %d dashboard(s) or datasource(s) left alone, not the stack's (--adopt takes over dashboards obsctl did not push)", url, conflicts)}
	}
	return changed, nil
}

// grafanaConflictError says what the push to a Grafana left alone; the
// rest was pushed. apply fails with it, as with the cluster's conflicts;
// diff has shown them.
type grafanaConflictError struct{ msg string }

func (e *grafanaConflictError) Error() string { return e.msg }

func isGrafanaConflict(err error) bool { return errors.As(err, new(*grafanaConflictError)) }

// grafanaAuth returns the credentials obsctl reaches a Grafana with, as
// grafana-tools/sdk takes them: OBSCTL_GRAFANA_TOKEN, else grafana.token,
// else OBSCTL_GRAFANA_USERNAME and OBSCTL_GRAFANA_PASSWORD as
// "user:password", else none. A token in a Secret is read through conn,
// in namespace ns.
func grafanaAuth(ctx context.Context, deps *Deps, c *config.Config, conn *clusterConn, ns string) (string, error) {
	if tok := trimToken(deps.Getenv("OBSCTL_GRAFANA_TOKEN")); tok != "" {
		return tok, nil
	}
	if c != nil && c.Grafana.Token != nil {
		tok, err := secretValue(ctx, deps, c.Grafana.Token, conn, ns)
		if err != nil {
			return "", fmt.Errorf("grafana.token: %w (or set OBSCTL_GRAFANA_TOKEN)", err)
		}
		return trimToken(tok), nil
	}
	if user := deps.Getenv("OBSCTL_GRAFANA_USERNAME"); user != "" {
		return user + ":" + deps.Getenv("OBSCTL_GRAFANA_PASSWORD"), nil
	}
	return "", nil
}

// secretValue reads the value a SecretRef names: its environment
// variable, or its key of a Secret in namespace ns, through conn. The
// value is never printed.
func secretValue(ctx context.Context, deps *Deps, ref *config.SecretRef, conn *clusterConn, ns string) (string, error) {
	if ref.Secret == nil {
		v := deps.Getenv(ref.Env)
		if v == "" {
			return "", fmt.Errorf("environment variable %s is not set", ref.Env)
		}
		return v, nil
	}
	if conn == nil || conn.clients == nil {
		return "", fmt.Errorf("Secret %s/%s is read from the cluster, and there is none here", ns, ref.Secret.Name)
	}
	sec, err := kube.Secrets(conn.clients.Dynamic, ns).Get(ctx, ref.Secret.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("read Secret %s/%s: %w", ns, ref.Secret.Name, err)
	}
	v, ok := sec.Data[ref.Secret.Key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("Secret %s/%s has no key %q", ns, ref.Secret.Name, ref.Secret.Key)
	}
	return string(v), nil
}

// trimToken returns a token as a header takes it: without the newline
// that `kubectl create secret --from-file` or an echo leaves at its end.
func trimToken(tok string) string {
	return strings.TrimSpace(tok)
}

// grafanaDatasources returns the repo's datasources as Grafana's API takes
// them, their secrets read through secret: a basic-auth password, or a
// bearer token sent in the first custom header the repo's jsonData
// leaves free, as the stack's own Grafana is provisioned with them.
func grafanaDatasources(repo []config.GrafanaDatasource, secret func(*config.SecretRef) (string, error)) ([]sdk.Datasource, error) {
	var out []sdk.Datasource
	for _, d := range repo {
		ds := sdk.Datasource{UID: d.UID, Name: d.Name, Type: d.Type, URL: d.URL, Access: "proxy"}
		jsonData := map[string]any{}
		for k, v := range d.JSONData {
			jsonData[k] = v
		}
		switch {
		case d.BasicAuth != nil:
			pw, err := secret(&d.BasicAuth.Password)
			if err != nil {
				return nil, fmt.Errorf("grafana.datasources: %s: basicAuth.password: %w", d.UID, err)
			}
			yes, user := true, d.BasicAuth.Username
			ds.BasicAuth, ds.BasicAuthUser = &yes, &user
			ds.SecureJSONData = map[string]any{"basicAuthPassword": pw}
		case d.BearerToken != nil:
			tok, err := secret(d.BearerToken)
			if err != nil {
				return nil, fmt.Errorf("grafana.datasources: %s: bearerToken: %w", d.UID, err)
			}
			n := render.FreeHeader(jsonData)
			jsonData[fmt.Sprintf("httpHeaderName%d", n)] = "Authorization"
			ds.SecureJSONData = map[string]any{fmt.Sprintf("httpHeaderValue%d", n): "Bearer " + tok}
		}
		if len(jsonData) > 0 {
			ds.JSONData = jsonData
		}
		out = append(out, ds)
	}
	return out, nil
}

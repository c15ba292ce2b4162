package render

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apiyaml"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// Where Grafana finds what obsctl provisions.
const (
	grafanaPort          = 3000
	grafanaAdminSecret   = "grafana-admin"
	grafanaDashboardsDir = "/var/lib/grafana/dashboards/obsctl"
	// grafanaFoldersDir holds a folder of files for each folder of the
	// repo's dashboards folder, beside (not in) grafanaDashboardsDir,
	// whose provider reads its sub-folders too.
	grafanaFoldersDir = "/var/lib/grafana/dashboards/folders"
	grafanaFolder     = "obsctl"
	// maxConfigMapBytes is what the API server accepts in a ConfigMap's
	// values together (its keys do not count).
	maxConfigMapBytes = 1 << 20
)

// errDashboardTooLarge is returned for a dashboard file larger than a
// ConfigMap holds.
var errDashboardTooLarge = errors.New("dashboard is larger than the 1 MiB a ConfigMap holds")

// grafana shows the dashboards: a Deployment whose datasources and
// dashboards are provisioned from ConfigMaps, read-only in the UI, and
// whose admin credentials apply generates.
//
// Grafana keeps its database (users, sessions, preferences, anything made
// in the UI) in SQLite on an emptyDir: it is lost with the pod, and in
// the ha profile each replica has its own. What obsctl provisions is the
// same in every replica, but a login made on one replica is unknown to
// the other, so the ingress pins each browser to one replica (see
// ingresses). Sharing a database would need an external PostgreSQL or
// MySQL that obsctl.yaml cannot name yet.
func grafana(b *builder, r *resolved) error {
	const app = "grafana"
	ns := b.ns
	b.generate(r, ns, grafanaAdminSecret, map[string]string{"username": "admin"}, "password", "secret-key")

	repoDatasources, dsEnv := grafanaRepoDatasources(b, r)
	datasources, readsES, err := grafanaDatasources(b, repoDatasources)
	if err != nil {
		return err
	}
	dashboards, err := grafanaDashboards(b, r, app)
	if err != nil {
		return err
	}

	env := []corev1.EnvVar{
		envSecret("GF_SECURITY_ADMIN_USER", grafanaAdminSecret, "username"),
		envSecret("GF_SECURITY_ADMIN_PASSWORD", grafanaAdminSecret, "password"),
		// The key that encrypts the datasources' secrets in the database;
		// Grafana's built-in default is public.
		envSecret("GF_SECURITY_SECRET_KEY", grafanaAdminSecret, "secret-key"),
		envValue("GF_PATHS_DATA", "/var/lib/grafana"),
		envValue("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
		// The image also logs to a file under /var/log, which the
		// read-only root file system refuses.
		envValue("GF_LOG_MODE", "console"),
		envValue("GF_USERS_ALLOW_SIGN_UP", "false"),
		// No calls home: the stack may run air-gapped.
		envValue("GF_ANALYTICS_REPORTING_ENABLED", "false"),
		envValue("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
		envValue("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false"),
	}
	if u, ok := b.ingressURL("grafana"); ok {
		env = append(env, envValue("GF_SERVER_ROOT_URL", u))
	}
	if readsES {
		b.esCredentials()
		// The Elasticsearch datasource's password, which the provisioning
		// file names as ${ELASTICSEARCH_PASSWORD}.
		env = append(env, envSecret("ELASTICSEARCH_PASSWORD", esCredentialsSecret, "password"))
	}

	env = append(env, dsEnv...)
	c := r.container(app, nil, port("http", grafanaPort))
	c.Env = env
	c.LivenessProbe = httpProbe("/api/health", "http", 10, 10)
	c.ReadinessProbe = httpProbe("/api/health", "http", 5, 10)
	c.VolumeMounts = []corev1.VolumeMount{
		volMount("storage", "/var/lib/grafana", false),
		volMount("tmp", "/tmp", false),
		volMount("datasources", "/etc/grafana/provisioning/datasources", true),
	}
	volumes := []corev1.Volume{
		volEmptyDir("storage"),
		volEmptyDir("tmp"),
		volConfigMap("datasources", "grafana-datasources"),
	}
	configs := []string{datasources}
	if len(dashboards) > 0 {
		var folders []string
		top, inFolders := &corev1.ProjectedVolumeSource{}, &corev1.ProjectedVolumeSource{}
		for _, d := range dashboards {
			b.add(d.cm)
			proj := corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: d.cm.Name},
			}}
			if d.folder == "" {
				top.Sources = append(top.Sources, proj)
				continue
			}
			// The file at <folder>/<name>.json of the folders' volume.
			for key := range d.cm.Data {
				proj.ConfigMap.Items = append(proj.ConfigMap.Items, corev1.KeyToPath{Key: key, Path: d.folder + "/" + key})
			}
			inFolders.Sources = append(inFolders.Sources, proj)
			if !slices.Contains(folders, d.folder) {
				folders = append(folders, d.folder)
			}
		}
		provider := grafanaDashboardProvider(len(top.Sources) > 0, folders)
		configs = append(configs, provider)
		b.add(r.configMap("grafana-dashboard-provider", ns, app, map[string]string{"obsctl.yaml": provider}))
		c.VolumeMounts = append(c.VolumeMounts, volMount("dashboard-provider", "/etc/grafana/provisioning/dashboards", true))
		volumes = append(volumes, volConfigMap("dashboard-provider", "grafana-dashboard-provider"))
		if len(top.Sources) > 0 {
			c.VolumeMounts = append(c.VolumeMounts, volMount("dashboards", grafanaDashboardsDir, true))
			volumes = append(volumes, corev1.Volume{Name: "dashboards", VolumeSource: corev1.VolumeSource{Projected: top}})
		}
		if len(folders) > 0 {
			c.VolumeMounts = append(c.VolumeMounts, volMount("dashboard-folders", grafanaFoldersDir, true))
			volumes = append(volumes, corev1.Volume{Name: "dashboard-folders", VolumeSource: corev1.VolumeSource{Projected: inFolders}})
		}
	}

	tpl := b.podTemplate(r, app, "", false, c)
	tpl.Spec.Volumes = volumes
	// Datasources are read at start only; dashboards are re-read from
	// their mounted files while Grafana runs.
	setConfigHash(&tpl, configs...)

	svc := r.service(app, ns, app, servicePort("http", grafanaPort))
	if b.ha && r.replicas > 1 && b.cfg.Stack.Ingress.ClassName == "traefik" {
		// Traefik takes sticky sessions from the Service (see grafana's
		// comment on why Grafana needs them in ha).
		svc.Annotations = map[string]string{"traefik.ingress.kubernetes.io/service.sticky.cookie": "true"}
	}
	b.add(
		r.configMap("grafana-datasources", ns, app, map[string]string{"obsctl.yaml": datasources}),
		b.deployment(r, app, ns, app, tpl),
		svc,
	)
	b.addPDB(r, app, ns, app)
	return nil
}

// grafanaDatasource is a datasource in Grafana's provisioning file.
type grafanaDatasource struct {
	Name           string            `json:"name"`
	UID            string            `json:"uid"`
	Type           string            `json:"type"`
	Access         string            `json:"access"`
	URL            string            `json:"url"`
	IsDefault      bool              `json:"isDefault"`
	Editable       bool              `json:"editable"`
	BasicAuth      bool              `json:"basicAuth,omitempty"`
	BasicAuthUser  string            `json:"basicAuthUser,omitempty"`
	JSONData       map[string]any    `json:"jsonData,omitempty"`
	SecureJSONData map[string]string `json:"secureJsonData,omitempty"`
}

// grafanaDatasources returns the datasources provisioning file: one
// datasource per enabled component, under the uids the repo's dashboards
// name (prometheus, alertmanager, logs, jaeger), then the repo's. readsES
// reports whether the Elasticsearch datasource is there, which reads its
// password from the environment.
func grafanaDatasources(b *builder, repo []grafanaDatasource) (file string, readsES bool, err error) {
	var ds []grafanaDatasource
	if b.enabled("prometheus") {
		ds = append(ds, grafanaDatasource{
			Name: "Prometheus", UID: "prometheus", Type: "prometheus", Access: "proxy",
			URL: b.svcURL("prometheus", 9090), IsDefault: true,
			JSONData: map[string]any{
				"httpMethod": "POST",
				// $__rate_interval is at least four scrape intervals.
				"timeInterval": model.Duration(b.cfg.ScrapeInterval()).String(),
			},
		})
	}
	if b.enabled("alertmanager") {
		ds = append(ds, grafanaDatasource{
			Name: "Alertmanager", UID: "alertmanager", Type: "alertmanager", Access: "proxy",
			URL: b.svcURL("alertmanager", 9093),
			JSONData: map[string]any{
				"implementation": "prometheus",
				// Grafana's own alerts are not routed there: the repo's
				// rules and routing are the alerting.
				"handleGrafanaManagedAlerts": false,
			},
		})
	}
	if b.enabled("elasticsearch") {
		readsES = true
		ds = append(ds, grafanaDatasource{
			Name: "Logs", UID: "logs", Type: "elasticsearch", Access: "proxy",
			URL: b.esURL(), BasicAuth: true, BasicAuthUser: esUser,
			JSONData: map[string]any{
				"index":           "logs-*",
				"timeField":       "@timestamp",
				"logMessageField": "message",
				"logLevelField":   "level",
			},
			// Grafana expands ${VAR} from its environment when it reads the
			// file ($__env{VAR} too, but then expands the result once more).
			SecureJSONData: map[string]string{"basicAuthPassword": "${ELASTICSEARCH_PASSWORD}"},
		})
	}
	if b.enabled("jaeger") {
		ds = append(ds, grafanaDatasource{
			Name: "Jaeger", UID: "jaeger", Type: "jaeger", Access: "proxy",
			URL: b.svcURL("jaeger", jaegerQueryPort),
		})
	}
	ds = append(ds, repo...)
	out, err := yaml.Marshal(map[string]any{"apiVersion": 1, "datasources": ds})
	if err != nil {
		return "", false, fmt.Errorf("grafana datasources: %w", err)
	}
	head := "# Rendered by obsctl: Grafana's datasources, one per enabled component"
	if len(repo) > 0 {
		head += ", and the repo's (grafana.datasources)"
	}
	return head + ".\n" + string(out), readsES, nil
}

// grafanaDatasourceSecrets is the Secret apply writes the repo's
// datasources' secrets given as {env: VAR} into.
const grafanaDatasourceSecrets = "grafana-datasource-secrets"

// grafanaRepoDatasources returns the repo's datasources
// (grafana.datasources), as more entries of the provisioning file's list,
// and the environment variables their secrets come from: Grafana expands
// ${VAR} in the file from its environment, so no secret is in the
// ConfigMap.
func grafanaRepoDatasources(b *builder, r *resolved) ([]grafanaDatasource, []corev1.EnvVar) {
	var ds []grafanaDatasource
	var env []corev1.EnvVar
	secret := func(ref *config.SecretRef, v, key string) {
		if ref.Secret != nil {
			// apply checks that it is there before Grafana needs it.
			b.require(r, b.ns, ref.Secret.Name, ref.Secret.Key)
			env = append(env, envSecret(v, ref.Secret.Name, ref.Secret.Key))
			return
		}
		b.fromEnv(r, b.ns, grafanaDatasourceSecrets, key, ref.Env)
		env = append(env, envSecret(v, grafanaDatasourceSecrets, key))
	}
	for i, d := range b.cfg.Grafana.Datasources {
		// Grafana expands $VAR and ${VAR} in the file from its
		// environment: what the repo writes is written as it is ($$).
		g := grafanaDatasource{Name: d.Name, UID: d.UID, Type: d.Type, Access: "proxy", URL: strings.ReplaceAll(d.URL, "$", "$$")}
		if len(d.JSONData) > 0 {
			g.JSONData, _ = literalDollars(map[string]any(d.JSONData)).(map[string]any)
		}
		v := fmt.Sprintf("OBSCTL_DATASOURCE_%d", i)
		switch {
		case d.BasicAuth != nil:
			g.BasicAuth, g.BasicAuthUser = true, d.BasicAuth.Username
			g.SecureJSONData = map[string]string{"basicAuthPassword": "${" + v + "_PASSWORD}"}
			secret(&d.BasicAuth.Password, v+"_PASSWORD", d.UID+"-password")
		case d.BearerToken != nil:
			if g.JSONData == nil {
				g.JSONData = map[string]any{}
			}
			n := FreeHeader(g.JSONData)
			g.JSONData[fmt.Sprintf("httpHeaderName%d", n)] = "Authorization"
			g.SecureJSONData = map[string]string{fmt.Sprintf("httpHeaderValue%d", n): "Bearer ${" + v + "_TOKEN}"}
			secret(d.BearerToken, v+"_TOKEN", d.UID+"-token")
		}
		ds = append(ds, g)
	}
	return ds, env
}

// FreeHeader returns the number of the first custom header
// (httpHeaderNameN) a datasource's jsonData leaves free, for its bearer
// token.
func FreeHeader(jsonData map[string]any) int {
	n := 1
	for jsonData[fmt.Sprintf("httpHeaderName%d", n)] != nil {
		n++
	}
	return n
}

// literalDollars returns v (a string, or maps and lists of them as YAML
// decodes them) with each $ doubled, so that Grafana's provisioning reads
// it as written rather than expanding it from its environment. It makes
// new maps and lists: the repo's configuration is not changed.
func literalDollars(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "$", "$$")
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = literalDollars(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = literalDollars(x)
		}
		return out
	}
	return v
}

// grafanaDashboardProvider returns the dashboard provider file: the
// dashboards under grafanaDashboardsDir, in the obsctl folder, when top
// says there are, and those of each folder under grafanaFoldersDir, in a
// Grafana folder of its name; all changed only through the repo.
func grafanaDashboardProvider(top bool, folders []string) string {
	provider := func(name, folder, dir string) map[string]any {
		return map[string]any{
			"name":                  name,
			"folder":                folder,
			"type":                  "file",
			"disableDeletion":       true,
			"allowUiUpdates":        false,
			"updateIntervalSeconds": 30,
			"options":               map[string]any{"path": dir},
		}
	}
	var providers []map[string]any
	if top {
		providers = append(providers, provider("obsctl", grafanaFolder, grafanaDashboardsDir))
	}
	for _, f := range folders {
		providers = append(providers, provider("obsctl-folder-"+f, f, grafanaFoldersDir+"/"+f))
	}
	out, err := yaml.Marshal(map[string]any{
		"apiVersion": 1,
		"providers":  providers,
	})
	if err != nil {
		panic("stack: grafana dashboard provider: " + err.Error()) // static content
	}
	return "# Rendered by obsctl: the repo's dashboards, read-only in Grafana.\n" + string(out)
}

// DashboardFolderTitle returns the title of the Grafana folder the
// dashboard f goes in: its folder of the dashboards folder, else obsctl's.
func DashboardFolderTitle(f *source.File) string {
	if folder := DashboardFolder(f); folder != "" {
		return folder
	}
	return grafanaFolder
}

// DashboardFolder returns the folder of the dashboards folder that the
// dashboard f is in (dashboards/FOLDER/NAME.json in the repo), or "" for
// one at its top (dashboards/NAME.json) or given outside a repo. A folder
// named like obsctl's own Grafana folder is that folder.
func DashboardFolder(f *source.File) string {
	parts := strings.Split(dashboardRel(f), "/")
	if len(parts) == 3 && parts[0] == "dashboards" && parts[1] != grafanaFolder {
		return parts[1]
	}
	return ""
}

// withSource notes on cm the file, or the files, it was rendered from
// (obsctl.dev/source).
func withSource(cm *corev1.ConfigMap, src string) *corev1.ConfigMap {
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[promrule.SourceAnnotation] = src
	return cm
}

// dashboardRel returns f's path in the repo: what names its ConfigMap,
// the same wherever the repo is and whatever it is called.
func dashboardRel(f *source.File) string {
	if f.Rel != "" {
		return f.Rel
	}
	return f.Path
}

// DashboardConfigMap returns the name of the ConfigMap that ships the
// dashboard d (dashboards/NAME.json, or dashboards/FOLDER/NAME.json), of
// size bytes, under the key NAME.json: grafana-dashboard-NAME, or
// grafana-dashboard-FOLDER.NAME. It fails when Kubernetes would
// refuse that ConfigMap: a name that is not a DNS subdomain of at most 253
// characters, a key it does not take, or content over the 1 MiB a
// ConfigMap holds. Lint's dashboards/configmap reports the same.
func DashboardConfigMap(d *source.File, size int) (string, error) {
	p, f := d.Path, path.Base(dashboardRel(d))
	if size > maxConfigMapBytes {
		return "", fmt.Errorf("%s: %d bytes: %w; split it or drop unused panels", p, size, errDashboardTooLarge)
	}
	name := "grafana-dashboard-" + strings.TrimSuffix(f, ".json")
	if layer.IsDefault(dashboardRel(d)) {
		// The default content's, beside the repo's own of the same file
		// name.
		name = "grafana-dashboard-defaults." + strings.TrimSuffix(f, ".json")
	}
	folder := DashboardFolder(d)
	if folder != "" {
		name = "grafana-dashboard-" + folder + "." + strings.TrimSuffix(f, ".json")
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		what := "file name makes"
		if folder != "" {
			what = "folder and file names make"
		}
		return "", fmt.Errorf("%s: the %s ConfigMap name %q, which Kubernetes refuses (%s); use lower-case letters, digits and dashes", p, what, name, strings.Join(errs, "; "))
	}
	if errs := validation.IsConfigMapKey(f); len(errs) > 0 {
		return "", fmt.Errorf("%s: not a valid ConfigMap key: %s", p, strings.Join(errs, "; "))
	}
	return name, nil
}

// DashboardContent fails when the API server would refuse a ConfigMap
// holding the dashboard src: a character its YAML reader refuses (DEL or
// a C1 control, which JSON takes raw).
func DashboardContent(p string, src []byte) error {
	if r, refused := apiyaml.Refused(string(src)); refused {
		return fmt.Errorf("%s holds the control character U+%04X, which the API server refuses in the ConfigMap that ships it; remove it, or write it as a JSON escape (\\u%04x)", p, r, r)
	}
	return nil
}

// grafanaDashboards returns a ConfigMap per dashboard of the repo (the
// *.json files at the top of its dashboards folder, as load read them, an
// exported one with its inputs resolved to the stack's datasources), in
// name order.
func grafanaDashboards(b *builder, r *resolved, app string) ([]shippedDashboard, error) {
	var out []shippedDashboard
	names := map[string]string{}
	uidOf := dashboard.UIDOf(b.enabled, dashboard.Repo(b.cfg))
	for _, d := range b.in.Dashboards {
		src, err := dashboard.Provision(d.Src, uidOf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Path, err)
		}
		name, err := DashboardConfigMap(d, len(src))
		if err == nil {
			err = DashboardContent(d.Path, src)
		}
		if err != nil {
			return nil, err
		}
		if prev, ok := names[name]; ok {
			return nil, fmt.Errorf("%s: its ConfigMap, %s, is also %s's; rename one of them", d.Path, name, prev)
		}
		names[name] = d.Path
		out = append(out, shippedDashboard{
			cm:     withSource(r.configMap(name, b.ns, app, map[string]string{path.Base(d.Path): string(src)}), dashboardRel(d)),
			folder: DashboardFolder(d),
		})
	}
	slices.SortFunc(out, func(x, y shippedDashboard) int { return strings.Compare(x.cm.Name, y.cm.Name) })
	return out, nil
}

// shippedDashboard is a dashboard's ConfigMap and the folder of the
// dashboards folder it is in ("" for its top).
type shippedDashboard struct {
	cm     *corev1.ConfigMap
	folder string
}

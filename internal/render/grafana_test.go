package render

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/source"
)

func TestGrafana(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		replicas int32
	}{{"minimal", 1}, {"ha", 2}} {
		t.Run(tc.profile, func(t *testing.T) {
			res := render(t, "  profile: "+tc.profile+"\n")
			d := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana"))
			if *d.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", *d.Spec.Replicas, tc.replicas)
			}
			pod := d.Spec.Template.Spec
			c := containerNamed(t, pod, "grafana")
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 3000 {
				t.Errorf("ports %+v", c.Ports)
			}
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/api/health" || p.HTTPGet.Port.StrVal != "http" {
					t.Errorf("probe %+v", p)
				}
			}
			if c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Error("Grafana's root file system is writable")
			}
			for _, m := range []string{"/var/lib/grafana", "/tmp"} {
				i := slices.IndexFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == m })
				if i < 0 {
					t.Errorf("nothing mounted at %s", m)
					continue
				}
				j := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name })
				if j < 0 || pod.Volumes[j].EmptyDir == nil {
					t.Errorf("%s is not an emptyDir", m)
				}
			}
			wantSecretRef(t, envOf(t, c, "GF_SECURITY_ADMIN_USER"), "grafana-admin", "username")
			wantSecretRef(t, envOf(t, c, "GF_SECURITY_ADMIN_PASSWORD"), "grafana-admin", "password")
			wantSecretRef(t, envOf(t, c, "ELASTICSEARCH_PASSWORD"), "elasticsearch-credentials", "password")

			g := generated(t, res, "grafana-admin")
			if g.Namespace != "monitoring" || g.Fixed["username"] != "admin" || !slices.Contains(g.Keys, "password") {
				t.Errorf("generated %+v", g)
			}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "grafana"))
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 3000 {
				t.Errorf("service ports %+v", svc.Spec.Ports)
			}
			if got := find(res, "PodDisruptionBudget", "monitoring", "grafana") != nil; got != (tc.profile == "ha") {
				t.Errorf("PodDisruptionBudget rendered: %v", got)
			}
		})
	}
}

// datasourcesOf returns the provisioned datasources by uid.
func datasourcesOf(t *testing.T, res *Result) map[string]grafanaDatasource {
	t.Helper()
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring", "grafana-datasources"))
	var file struct {
		APIVersion  int                 `json:"apiVersion"`
		Datasources []grafanaDatasource `json:"datasources"`
	}
	if err := yaml.UnmarshalStrict([]byte(cm.Data["obsctl.yaml"]), &file); err != nil {
		t.Fatal(err)
	}
	if file.APIVersion != 1 {
		t.Errorf("apiVersion %d", file.APIVersion)
	}
	out := map[string]grafanaDatasource{}
	for _, d := range file.Datasources {
		out[d.UID] = d
	}
	return out
}

func TestGrafanaDatasources(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		uids        []string
	}{
		{"all", "", []string{"alertmanager", "jaeger", "logs", "prometheus"}},
		{"no logs or traces", "  components: {elasticsearch: {enabled: false}, jaeger: {enabled: false}}\n", []string{"alertmanager", "prometheus"}},
		{"no metrics", "  components: {prometheus: {enabled: false}, alertmanager: {enabled: false}}\n", []string{"jaeger", "logs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, tc.stack)
			ds := datasourcesOf(t, res)
			var uids []string
			for uid := range ds {
				uids = append(uids, uid)
			}
			slices.Sort(uids)
			if !slices.Equal(uids, tc.uids) {
				t.Fatalf("datasource uids %v, want %v", uids, tc.uids)
			}
			want := map[string]string{
				"prometheus":   "prometheus http://prometheus.monitoring.svc:9090",
				"alertmanager": "alertmanager http://alertmanager.monitoring.svc:9093",
				"logs":         "elasticsearch http://elasticsearch.monitoring.svc:9200",
				"jaeger":       "jaeger http://jaeger.monitoring.svc:16686",
			}
			// dashboard.Provisioned, which lint and the resolution of
			// exported dashboards go by, says the same.
			on := map[string]bool{}
			for _, nc := range defaultConfig(t, tc.stack).ComponentsByName() {
				on[nc.Name] = nc.On()
			}
			for _, p := range dashboard.Provisioned {
				d, ok := ds[p.UID]
				if ok != on[p.Component] || ok && d.Type != p.Type {
					t.Errorf("dashboard.Provisioned has %+v; render: %+v (%v)", p, d, ok)
				}
			}
			for uid, d := range ds {
				if got := d.Type + " " + d.URL; got != want[uid] {
					t.Errorf("%s: %s, want %s", uid, got, want[uid])
				}
				if d.Editable {
					t.Errorf("%s is editable", uid)
				}
			}
			if d, ok := ds["logs"]; ok {
				if d.JSONData["index"] != "logs-*" || d.JSONData["timeField"] != "@timestamp" ||
					!d.BasicAuth || d.BasicAuthUser != "elastic" || d.SecureJSONData["basicAuthPassword"] != "${ELASTICSEARCH_PASSWORD}" {
					t.Errorf("logs datasource %+v", d)
				}
			}
			if d, ok := ds["alertmanager"]; ok && d.JSONData["implementation"] != "prometheus" {
				t.Errorf("alertmanager datasource %+v", d)
			}
			if d, ok := ds["prometheus"]; ok && (!d.IsDefault || d.JSONData["timeInterval"] != "30s") {
				t.Errorf("prometheus datasource %+v", d)
			}
			c := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana")).Spec.Template.Spec.Containers[0]
			if _, logs := ds["logs"]; hasEnv(c, "ELASTICSEARCH_PASSWORD") != logs {
				t.Errorf("ELASTICSEARCH_PASSWORD set: %v, logs datasource: %v", !logs, logs)
			}
		})
	}
}

func TestGrafanaDatasourceChangeRollsPods(t *testing.T) {
	hash := func(stack string) string {
		d := typed[appsv1.Deployment](t, mustFind(t, render(t, stack), "Deployment", "monitoring", "grafana"))
		return d.Spec.Template.Annotations[annotationConfigHash]
	}
	all, noJaeger := hash(""), hash("  components: {jaeger: {enabled: false}}\n")
	if all == "" || all == noJaeger {
		t.Errorf("config hash %q with Jaeger, %q without", all, noJaeger)
	}
}

// dashboardConfigMaps returns the dashboard ConfigMaps by name.
func dashboardConfigMaps(t *testing.T, res *Result) map[string]*corev1.ConfigMap {
	t.Helper()
	out := map[string]*corev1.ConfigMap{}
	for _, o := range res.Objects {
		if o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "grafana-dashboard-") && o.GetName() != "grafana-dashboard-provider" {
			out[o.GetName()] = typed[corev1.ConfigMap](t, o)
		}
	}
	return out
}

func TestGrafanaDashboards(t *testing.T) {
	dash := func(uid string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"uid": "` + uid + `", "title": "` + uid + `"}`)}
	}
	in := compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, fstest.MapFS{
		"b.json":     dash("b"),
		"a.json":     dash("a"),
		"README.md":  {Data: []byte("# not a dashboard\n")},
		"sub/c.json": dash("c"),
	})}
	res := renderInput(t, in)
	cms := dashboardConfigMaps(t, res)
	if len(cms) != 2 || cms["grafana-dashboard-a"] == nil || cms["grafana-dashboard-b"] == nil {
		t.Fatalf("dashboard ConfigMaps %v", cms)
	}
	if got := cms["grafana-dashboard-a"].Data; len(got) != 1 || got["a.json"] != string(dash("a").Data) {
		t.Errorf("grafana-dashboard-a data %v", got)
	}

	pod := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana")).Spec.Template.Spec
	i := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "dashboards" })
	if i < 0 || pod.Volumes[i].Projected == nil {
		t.Fatalf("no projected dashboards volume: %+v", pod.Volumes)
	}
	var sources []string
	for _, s := range pod.Volumes[i].Projected.Sources {
		sources = append(sources, s.ConfigMap.Name)
	}
	if !slices.Equal(sources, []string{"grafana-dashboard-a", "grafana-dashboard-b"}) {
		t.Errorf("projected sources %v", sources)
	}
	c := containerNamed(t, pod, "grafana")
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "dashboards" && m.MountPath == "/var/lib/grafana/dashboards/obsctl" && m.ReadOnly
	}) {
		t.Errorf("dashboards not mounted: %+v", c.VolumeMounts)
	}

	provider := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring", "grafana-dashboard-provider"))
	var file struct {
		APIVersion int `json:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			DisableDeletion    bool `json:"disableDeletion"`
			AllowUIUpdates     bool `json:"allowUiUpdates"`
			Options            struct{ Path string }
		} `json:"providers"`
	}
	if err := yaml.Unmarshal([]byte(provider.Data["obsctl.yaml"]), &file); err != nil {
		t.Fatal(err)
	}
	if p := file.Providers; file.APIVersion != 1 || len(p) != 1 || p[0].Folder != "obsctl" || p[0].Type != "file" ||
		!p[0].DisableDeletion || p[0].AllowUIUpdates || p[0].Options.Path != "/var/lib/grafana/dashboards/obsctl" {
		t.Errorf("provider %+v", file)
	}
}

func TestGrafanaWithoutDashboards(t *testing.T) {
	res := render(t, "")
	if cms := dashboardConfigMaps(t, res); len(cms) != 0 {
		t.Errorf("dashboard ConfigMaps without a dashboards folder: %v", cms)
	}
	if find(res, "ConfigMap", "monitoring", "grafana-dashboard-provider") != nil {
		t.Error("a dashboard provider without dashboards")
	}
	mustFind(t, res, "ConfigMap", "monitoring", "grafana-datasources")
}

func TestGrafanaRepoDashboards(t *testing.T) {
	files, err := filepath.Glob("../../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in ../../dashboards: %v", err)
	}
	res := renderInput(t, compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, os.DirFS("../../dashboards"))})
	cms := dashboardConfigMaps(t, res)
	if len(cms) != len(files) {
		t.Errorf("%d dashboard ConfigMaps for %d files", len(cms), len(files))
	}
	for _, f := range files {
		base := filepath.Base(f)
		cm := cms["grafana-dashboard-"+strings.TrimSuffix(base, ".json")]
		if cm == nil {
			t.Errorf("no ConfigMap for %s", base)
			continue
		}
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data[base] != string(want) {
			t.Errorf("ConfigMap of %s does not hold the file under key %s", base, base)
		}
	}
}

func TestGrafanaDashboardLimits(t *testing.T) {
	big := func(n int) *fstest.MapFile { return &fstest.MapFile{Data: []byte(strings.Repeat(" ", n))} }
	res := renderInput(t, compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, fstest.MapFS{"exact.json": big(1 << 20)})})
	if len(dashboardConfigMaps(t, res)) != 1 {
		t.Error("a dashboard of exactly 1 MiB is refused")
	}

	for _, tc := range []struct {
		name  string
		fs    fstest.MapFS
		is    error
		inMsg string
	}{
		{"too large", fstest.MapFS{"huge.json": big(1<<20 + 1)}, errDashboardTooLarge, "dashboards/huge.json: 1048577 bytes"},
		{"bad name", fstest.MapFS{"My Dashboard.json": big(2)}, nil, `ConfigMap name "grafana-dashboard-My Dashboard"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(&compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, tc.fs)}, "")
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("error %q lacks %q", err, tc.inMsg)
			}
		})
	}
}

// An exported dashboard is shipped with its inputs resolved to the
// stack's datasources; one it cannot resolve stops render.
func TestGrafanaExportedDashboard(t *testing.T) {
	export := `{"__inputs": [{"name": "DS_P", "type": "datasource", "pluginId": "prometheus"}], "id": 3, "uid": "x", "title": "X",
"panels": [{"datasource": {"type": "prometheus", "uid": "${DS_P}"}, "targets": [{"expr": "up"}]}]}`
	res := renderInput(t, compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, fstest.MapFS{"x.json": {Data: []byte(export)}})})
	got := dashboardConfigMaps(t, res)["grafana-dashboard-x"].Data["x.json"]
	if strings.Contains(got, "DS_P") || strings.Contains(got, "__inputs") || !strings.Contains(got, `"uid": "prometheus"`) {
		t.Errorf("shipped:\n%s", got)
	}
	loki := `{"__inputs": [{"name": "DS_L", "type": "datasource", "pluginId": "loki"}], "panels": []}`
	_, err := Render(&compile.Compiled{Config: defaultConfig(t, ""), Dashboards: dashboardFiles(t, fstest.MapFS{"l.json": {Data: []byte(loki)}})}, "")
	if err == nil || !strings.Contains(err.Error(), `dashboards/l.json: input DS_L is a "loki" datasource`) {
		t.Errorf("err = %v", err)
	}
}

// A folder of dashboards/ is a Grafana folder: its dashboards are files of
// a volume of their own, at <folder>/<name>.json, read by a provider of
// that folder; those at the top stay in obsctl's folder.
func TestGrafanaDashboardFolders(t *testing.T) {
	dash := func(uid string) []byte { return []byte(`{"uid": "` + uid + `", "title": "T", "panels": []}`) }
	files := []*source.File{
		source.NewFile("dashboards/top.json", dash("top")),
		source.NewFile("dashboards/team-a/api.json", dash("a-api")),
		source.NewFile("dashboards/team-a/db.json", dash("a-db")),
		source.NewFile("dashboards/team-b/api.json", dash("b-api")),
	}
	res := renderInput(t, compile.Compiled{Config: defaultConfig(t, ""), Dashboards: files})
	cms := dashboardConfigMaps(t, res)
	for _, name := range []string{"grafana-dashboard-top", "grafana-dashboard-team-a.api", "grafana-dashboard-team-a.db", "grafana-dashboard-team-b.api"} {
		if cms[name] == nil {
			t.Errorf("no ConfigMap %s among %v", name, slices.Sorted(maps.Keys(cms)))
		}
	}
	pod := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana")).Spec.Template.Spec
	paths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ConfigMap == nil {
				continue
			}
			paths[s.ConfigMap.Name] = v.Name
			for _, it := range s.ConfigMap.Items {
				paths[s.ConfigMap.Name] = v.Name + ":" + it.Path
			}
		}
	}
	want := map[string]string{
		"grafana-dashboard-top":        "dashboards",
		"grafana-dashboard-team-a.api": "dashboard-folders:team-a/api.json",
		"grafana-dashboard-team-a.db":  "dashboard-folders:team-a/db.json",
		"grafana-dashboard-team-b.api": "dashboard-folders:team-b/api.json",
	}
	if !maps.Equal(paths, want) {
		t.Errorf("volumes %v, want %v", paths, want)
	}
	mounts := map[string]string{}
	for _, m := range pod.Containers[0].VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["dashboards"] != grafanaDashboardsDir || mounts["dashboard-folders"] != grafanaFoldersDir || strings.HasPrefix(grafanaFoldersDir, grafanaDashboardsDir+"/") {
		t.Errorf("mounts %v", mounts)
	}
	var provider struct {
		Providers []struct {
			Name, Folder string
			Options      struct{ Path string }
		}
	}
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring", "grafana-dashboard-provider"))
	if err := yaml.Unmarshal([]byte(cm.Data["obsctl.yaml"]), &provider); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range provider.Providers {
		got = append(got, p.Name+" "+p.Folder+" "+p.Options.Path)
	}
	if w := []string{
		"obsctl obsctl /var/lib/grafana/dashboards/obsctl",
		"obsctl-folder-team-a team-a /var/lib/grafana/dashboards/folders/team-a",
		"obsctl-folder-team-b team-b /var/lib/grafana/dashboards/folders/team-b",
	}; !slices.Equal(got, w) {
		t.Errorf("providers %q, want %q", got, w)
	}

	// a.b.json beside a/b.json: one ConfigMap name for both.
	_, err := Render(&compile.Compiled{Config: defaultConfig(t, ""), Dashboards: []*source.File{
		source.NewFile("dashboards/a.b.json", dash("x")), source.NewFile("dashboards/a/b.json", dash("y")),
	}}, "")
	if err == nil || !strings.Contains(err.Error(), "its ConfigMap, grafana-dashboard-a.b, is also dashboards/a.b.json's") {
		t.Errorf("err = %v", err)
	}
}

// The repo's datasources are provisioned after the stack's, their secrets
// read by Grafana from its environment: a Secret's key as it is, an
// environment variable of apply's written into a Secret apply keeps.
func TestGrafanaRepoDatasources(t *testing.T) {
	src := defaultConfigSource("") + `
grafana:
  datasources:
    - name: Loki
      type: loki
      uid: loki
      url: http://loki.logging.svc:3100
      basicAuth: {username: grafana, password: {secret: {name: loki-auth, key: password}}}
      jsonData: {maxLines: 1000}
    - name: Thanos
      type: prometheus
      uid: thanos
      url: https://thanos.example.com
      bearerToken: {env: THANOS_TOKEN}
      jsonData: {httpHeaderName1: X-Scope-OrgID, derivedFields: [{url: '${__value.raw}'}]}
`
	c, fs := config.Parse(source.NewFile(config.FileName, []byte(src)))
	if len(fs) > 0 {
		t.Fatalf("config: %v", fs)
	}
	res := renderInput(t, compile.Compiled{Config: c})
	ds := datasourcesOf(t, res)
	loki, thanos := ds["loki"], ds["thanos"]
	if loki.Type != "loki" || loki.URL != "http://loki.logging.svc:3100" || !loki.BasicAuth || loki.BasicAuthUser != "grafana" ||
		loki.SecureJSONData["basicAuthPassword"] != "${OBSCTL_DATASOURCE_0_PASSWORD}" || fmt.Sprint(loki.JSONData["maxLines"]) != "1000" {
		t.Errorf("loki %+v", loki)
	}
	// The repo's first header stays; the token takes the next one.
	if thanos.Type != "prometheus" || thanos.JSONData["httpHeaderName1"] != "X-Scope-OrgID" || thanos.JSONData["httpHeaderName2"] != "Authorization" ||
		thanos.SecureJSONData["httpHeaderValue2"] != "Bearer ${OBSCTL_DATASOURCE_1_TOKEN}" || thanos.IsDefault {
		t.Errorf("thanos %+v", thanos)
	}
	// A $ of the repo's is written $$, which Grafana reads as $.
	if got := fmt.Sprint(thanos.JSONData["derivedFields"]); got != "[map[url:$${__value.raw}]]" {
		t.Errorf("derivedFields %s", got)
	}
	if _, changed := c.Grafana.Datasources[1].JSONData["httpHeaderName2"]; changed {
		t.Error("render wrote into the repo's configuration")
	}
	required := false
	for _, q := range res.Requires {
		required = required || q.Name == "loki-auth" && slices.Contains(q.Keys, "password")
	}
	if !required {
		t.Errorf("apply is not told to check loki-auth: %+v", res.Requires)
	}
	if !ds["prometheus"].IsDefault {
		t.Error("the stack's Prometheus is no longer the default")
	}
	ctr := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana")).Spec.Template.Spec.Containers[0]
	refs := map[string]string{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			refs[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if refs["OBSCTL_DATASOURCE_0_PASSWORD"] != "loki-auth/password" || refs["OBSCTL_DATASOURCE_1_TOKEN"] != "grafana-datasource-secrets/thanos-token" {
		t.Errorf("env %v", refs)
	}
	found := false
	for _, g := range res.Generated {
		if g.Name == "grafana-datasource-secrets" && g.Env["thanos-token"] == "THANOS_TOKEN" {
			found = true
		}
	}
	if !found {
		t.Errorf("apply is not told to write THANOS_TOKEN: %+v", res.Generated)
	}
}

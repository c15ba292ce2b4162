package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/config"
)

// The repo's datasources reach a Grafana's API as the stack's own Grafana
// is provisioned with them: a bearer token in the first custom header the
// repo's jsonData leaves free, a password as basicAuthPassword.
func TestGrafanaDatasources(t *testing.T) {
	repo := []config.GrafanaDatasource{
		{Name: "Thanos", Type: "prometheus", UID: "thanos", URL: "https://thanos.example.com",
			BearerToken: &config.SecretRef{Env: "THANOS_TOKEN"}, JSONData: config.JSONData{"httpHeaderName1": "X-Scope-OrgID"}},
		{Name: "Loki", Type: "loki", UID: "loki", URL: "http://127.0.0.1:3100",
			BasicAuth: &config.BasicAuth{Username: "grafana", Password: config.SecretRef{Env: "LOKI_PASSWORD"}}},
	}
	values := map[string]string{"THANOS_TOKEN": "t0k", "LOKI_PASSWORD": "pw"}
	secret := func(ref *config.SecretRef) (string, error) {
		if v, ok := values[ref.Env]; ok {
			return v, nil
		}
		return "", errors.New("environment variable " + ref.Env + " is not set")
	}
	ds, err := grafanaDatasources(repo, secret)
	if err != nil {
		t.Fatal(err)
	}
	jd := ds[0].JSONData.(map[string]any)
	if jd["httpHeaderName1"] != "X-Scope-OrgID" || jd["httpHeaderName2"] != "Authorization" ||
		ds[0].SecureJSONData.(map[string]any)["httpHeaderValue2"] != "Bearer t0k" {
		t.Errorf("thanos: %+v", ds[0])
	}
	if _, ok := repo[0].JSONData["httpHeaderName2"]; ok {
		t.Error("the repo's jsonData was changed")
	}
	if !*ds[1].BasicAuth || *ds[1].BasicAuthUser != "grafana" || ds[1].SecureJSONData.(map[string]any)["basicAuthPassword"] != "pw" || ds[1].JSONData != nil {
		t.Errorf("loki: %+v", ds[1])
	}

	delete(values, "LOKI_PASSWORD")
	_, err = grafanaDatasources(repo, secret)
	if err == nil || !strings.Contains(err.Error(), "grafana.datasources: loki: basicAuth.password: environment variable LOKI_PASSWORD is not set") {
		t.Errorf("missing secret: %v", err)
	}
}

// The version obsctl init's CI jobs install is a release go install can
// fetch, else latest.
func TestReleaseVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3": true, "v1.2.3-rc.1": true, "v0.9.0": true,
		"v1.2.0-3-gabc1234": false, "v1.2.0-dirty": false, "v1.2.0+dirty": false, "dev": false, "abc1234": false, "": false,
	} {
		if got := releaseVersion.MatchString(v); got != want {
			t.Errorf("releaseVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestTrimToken(t *testing.T) {
	if got := trimToken("glsa_abc\n"); got != "glsa_abc" {
		t.Errorf("trimToken = %q", got)
	}
}

package logs

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/test/esfake"
)

func TestSetupKibana(t *testing.T) {
	ctx := context.Background()
	kb, err := esfake.StartKibana("")
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	kb.User, kb.Password = "elastic", "right"
	k := &Kibana{URL: kb.URL, User: "elastic", Password: "right"}
	apps := pipeline("apps", "logs-apps")
	web := pipeline("web", "logs-web")
	web.Output.DateSuffix = new(bool) // one undated index

	got, err := SetupKibana(ctx, k, "shop", Patterns("shop", []*fluentd.Pipeline{apps, web}), true, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "IndexPattern obsctl-shop-apps created\nIndexPattern obsctl-shop-web created\nIndexPattern obsctl-shop-all-logs created"
	if changes(got) != want {
		t.Errorf("first:\n%s\nwant\n%s", changes(got), want)
	}
	if p := kb.Pattern("obsctl-shop-all-logs"); fmt.Sprint(p["title"]) != "logs-apps-*,logs-web" || p["timeFieldName"] != "@timestamp" {
		t.Errorf("all-logs pattern: %v", p)
	}
	writes := kb.Writes()
	got, err = SetupKibana(ctx, k, "shop", Patterns("shop", []*fluentd.Pipeline{apps, web}), true, false)
	if err != nil || strings.Count(changes(got), "unchanged") != 3 || kb.Writes() != writes {
		t.Errorf("again: %v\n%s (%d writes)", err, changes(got), kb.Writes()-writes)
	}
	got, err = SetupKibana(ctx, k, "shop", Patterns("shop", []*fluentd.Pipeline{apps}), true, true)
	if err != nil || !strings.Contains(changes(got), "IndexPattern obsctl-shop-web deleted") || kb.Pattern("obsctl-shop-web") == nil {
		t.Errorf("dry run of web's removal: %v\n%s", err, changes(got))
	}
	if _, err := SetupKibana(ctx, &Kibana{URL: kb.URL, User: "elastic", Password: "wrong"}, "shop", nil, true, false); err == nil || !strings.Contains(err.Error(), "kibana refused the credentials (401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
}

package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestConflictError(t *testing.T) {
	ref := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "m", Name: "settings"}
	// The causes as the API server writes them: for a manager that applied,
	// its name alone; for one that updated, its name and API version.
	api := apierrors.NewApplyConflict([]metav1.StatusCause{
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "manual" using v1`, Field: ".data.level"},
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-edit"`, Field: ".data.mode"},
		{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-edit" with subresource "scale"`, Field: ".data.a"},
	}, "Apply failed with 3 conflicts")
	err := fmt.Errorf("wrapped: %w", newConflictError(ref, api))

	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatal("not a *ConflictError")
	}
	want := []FieldConflict{
		{Manager: "kubectl-edit", Field: ".data.a"},
		{Manager: "kubectl-edit", Field: ".data.mode"},
		{Manager: "manual", Field: ".data.level"},
	}
	if !reflect.DeepEqual(ce.Conflicts, want) {
		t.Errorf("conflicts %+v, want %+v", ce.Conflicts, want)
	}
	if got := ce.Managers(); !reflect.DeepEqual(got, []string{"kubectl-edit", "manual"}) {
		t.Errorf("managers %v", got)
	}
	wantMsg := `ConfigMap m/settings: conflict with field manager "kubectl-edit" over .data.a, .data.mode; ` +
		`field manager "manual" over .data.level (apply with --conflicts=take, the default, to take these fields back)`
	if ce.Error() != wantMsg {
		t.Errorf("message\n%s\nwant\n%s", ce.Error(), wantMsg)
	}
	if !apierrors.IsConflict(err) {
		t.Error("apierrors.IsConflict is false through the wrapping")
	}

	// A conflict without causes still names the object and the way out.
	bare := newConflictError(ref, apierrors.NewConflict(schemaGR("", "configmaps"), "settings", errors.New("boom")))
	if msg := bare.Error(); !strings.HasPrefix(msg, "ConfigMap m/settings: ") || !strings.Contains(msg, "--conflicts=take") {
		t.Errorf("bare conflict message %q", msg)
	}
}

func TestManagerOf(t *testing.T) {
	for msg, want := range map[string]string{
		`conflict with "kubectl-edit"`:                    "kubectl-edit",
		`conflict with "helm" using apps/v1`:              "helm",
		`conflict with "a \"quoted\" one" using v1 at 12`: `a "quoted" one`,
		`conflict with unquoted`:                          "unquoted",
		`something else`:                                  "something else",
	} {
		if got := managerOf(msg); got != want {
			t.Errorf("managerOf(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestFailedError(t *testing.T) {
	e := &FailedError{
		Failed: []ObjectResult{
			{Object: ObjectRef{Kind: "Namespace", Name: "m"}, Action: Failed, Err: fmt.Errorf("Namespace m: %w", context.DeadlineExceeded)},
			{Object: ObjectRef{Kind: "ConfigMap", Namespace: "m", Name: "c"}, Action: Failed, Err: errors.New("ConfigMap m/c: forbidden\nsecond line")},
		},
		Skipped: 4,
	}
	if !errors.Is(e, context.DeadlineExceeded) {
		t.Error("errors.Is does not reach an object's error")
	}
	want := "apply: 2 objects failed, 4 not applied:\n  Namespace m: context deadline exceeded\n  ConfigMap m/c: forbidden\n  second line"
	if e.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", e.Error(), want)
	}
}

func TestNotReadyError(t *testing.T) {
	e := &NotReadyError{Timeout: 3 * time.Second, Waited: 3140 * time.Millisecond, Objects: []NotReady{{
		Object:     ObjectRef{Kind: "Deployment", Namespace: "m", Name: "web"},
		Status:     "0 of 2 updated replicas are available",
		Conditions: []string{"Available=False MinimumReplicasUnavailable: no"},
		Pods:       []string{"pod web-1: Pending; Unschedulable: 0/3 nodes are available"},
		Events:     []string{"FailedScheduling on Pod web-1: 0/3 nodes are available"},
	}}}
	want := `1 object is not ready after 3.1s (timeout 3s):
  Deployment m/web: 0 of 2 updated replicas are available
    condition Available=False MinimumReplicasUnavailable: no
    pod web-1: Pending; Unschedulable: 0/3 nodes are available
    event FailedScheduling on Pod web-1: 0/3 nodes are available`
	if e.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", e.Error(), want)
	}
}

func TestObjectRef(t *testing.T) {
	if s := (ObjectRef{Kind: "Namespace", Name: "m"}).String(); s != "Namespace m" {
		t.Errorf("cluster-scoped: %q", s)
	}
	if s := (ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "m", Name: "web"}).String(); s != "Deployment m/web" {
		t.Errorf("namespaced: %q", s)
	}
	r := ObjectResult{Action: Created, DryRun: true}
	if r.Verb() != "created (server dry run)" {
		t.Errorf("verb %q", r.Verb())
	}
	r.Action = Failed
	if r.Verb() != "failed" {
		t.Errorf("verb %q", r.Verb())
	}
}

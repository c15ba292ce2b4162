package release

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/inventory"
)

// whoAmI returns the Kubernetes user the release runs as and its groups,
// as the API server sees them (a SelfSubjectReview), once per run; empty
// when the server cannot say. History records it: "root@ci-runner-7" says
// little about who changed a production stack, the identity does.
func (r *run) whoAmI() (string, []string) {
	if r.kubeUser != nil {
		return r.kubeUser[0], r.kubeUser[1:]
	}
	user, groups := r.c.whoAmI()
	r.kubeUser = append([]string{user}, groups...)
	return user, groups
}

var selfSubjectReviews = schema.GroupVersionResource{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"}

func (c *Cluster) whoAmI() (string, []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	review := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}}
	got, err := c.Dynamic.Resource(selfSubjectReviews).Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return "", nil
	}
	user, _, _ := unstructured.NestedString(got.Object, "status", "userInfo", "username")
	groups, _, _ := unstructured.NestedStringSlice(got.Object, "status", "userInfo", "groups")
	slices.Sort(groups)
	return user, groups
}

// GitInfoOf returns the commit the repo in dir is at, whether its work
// tree has changes, and the commit's author and subject; nil when dir is
// not in a git work tree or git is not installed. History records it, so
// that a revision names the change that made it.
func GitInfoOf(ctx context.Context, dir string) *inventory.GitInfo {
	git := func(args ...string) (string, bool) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err == nil
	}
	commit, ok := git("rev-parse", "HEAD")
	if !ok || commit == "" {
		return nil
	}
	info := &inventory.GitInfo{Commit: commit}
	if status, ok := git("status", "--porcelain", "--untracked-files=no", "--", "."); ok {
		info.Dirty = status != ""
	}
	info.Author, _ = git("log", "-1", "--format=%an <%ae>")
	info.Subject, _ = git("log", "-1", "--format=%s")
	return info
}

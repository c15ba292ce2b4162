package lock

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/obsctl/obsctl/test/cluster"
)

var kube cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, cluster.Options{Nodes: 1}))
}

// testCtx bounds one test's cluster calls, so a stuck call fails the test
// instead of hanging the package.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clusterClient returns a client of the shared cluster, skipping t when
// cluster tests do not run.
func clusterClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(kube.Cluster(t).RESTConfig())
}

// newNamespace creates a namespace for one test and deletes it afterwards.
func newNamespace(t *testing.T, cs kubernetes.Interface) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(testCtx(t), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "lock-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	return ns.Name
}

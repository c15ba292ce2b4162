package apply

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDescribePod(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want string // "" for a pod that is fine
	}{
		{
			name: "ready",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
		},
		{
			name: "terminating",
			pod:  corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", DeletionTimestamp: &metav1.Time{Time: time.Now()}}},
		},
		{
			name: "unschedulable",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
				Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available"}}}},
			want: "pod p: Pending; Unschedulable: 0/3 nodes are available",
		},
		{
			name: "image pull",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodPending,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}}}}},
			want: "pod p: Pending; container app waiting: ImagePullBackOff: not found",
		},
		{
			name: "crash loop",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 4,
					State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}}}}}},
			want: "pod p: Running; container app restarted 4 times, last: Error (exit code 2)",
		},
		{
			name: "running not ready",
			pod:  corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			want: "pod p: Running; not ready",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := describePod(&tt.pod)
			if bad != (tt.want != "") || got != tt.want {
				t.Errorf("describePod = %q, %v; want %q", got, bad, tt.want)
			}
		})
	}
}

func TestMatchEvents(t *testing.T) {
	at := func(s int) metav1.Time { return metav1.Time{Time: time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC)} }
	ev := func(kind, name, reason, msg string, sec int, count int32) corev1.Event {
		return corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "m"},
			Reason: reason, Message: msg, LastTimestamp: at(sec), Count: count, Type: corev1.EventTypeWarning}
	}
	evs := []corev1.Event{
		ev("Pod", "web-1", "FailedScheduling", "0/3 nodes", 10, 1),
		ev("Pod", "web-2", "FailedScheduling", "0/3 nodes", 12, 3), // same message, newer
		ev("ReplicaSet", "web-5d4f", "FailedCreate", "quota exceeded", 11, 1),
		ev("Deployment", "web", "Odd", "something", 5, 1),
		ev("Pod", "other-1", "BackOff", "not ours", 20, 1),
		ev("ReplicaSet", "webhook-1", "FailedCreate", "not ours either", 20, 1),
		ev("Pod", "web-3", "Unhealthy", "probe failed", 3, 1),
		{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-3", Namespace: "m"}, Reason: "New", Message: "event API",
			EventTime: metav1.MicroTime{Time: at(15).Time}},
	}
	got := matchEvents(evs, ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "m", Name: "web"},
		map[string]bool{"web-1": true, "web-2": true, "web-3": true})
	want := []string{
		"New on Pod web-3: event API",
		"FailedScheduling on Pod web-2: 0/3 nodes (x3)",
		"FailedCreate on ReplicaSet web-5d4f: quota exceeded",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("matchEvents =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

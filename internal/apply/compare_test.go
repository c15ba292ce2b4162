package apply

import (
	"testing"
)

// TestSatisfies checks the subset comparison against live objects as the
// API server returns them: defaulted, normalized, with server metadata.
func TestSatisfies(t *testing.T) {
	tests := []struct {
		name          string
		desired, live string
		want          bool
	}{
		{
			name:    "defaults and server metadata",
			desired: `{apiVersion: v1, kind: Service, metadata: {name: web, namespace: m, creationTimestamp: null}, spec: {ports: [{port: 80, targetPort: http}]}, status: {}}`,
			live: `{apiVersion: v1, kind: Service, metadata: {name: web, namespace: m, uid: u, resourceVersion: "9", creationTimestamp: "2026-01-01T00:00:00Z", managedFields: [{manager: obsctl}]},
			        spec: {type: ClusterIP, clusterIP: 10.96.0.10, ports: [{port: 80, targetPort: http, protocol: TCP}]}, status: {loadBalancer: {}}}`,
			want: true,
		},
		{
			name:    "cpu quantity",
			desired: `{spec: {containers: [{name: a, resources: {requests: {cpu: "0.5", memory: 1024Mi}, limits: {cpu: 1}}}]}}`,
			live:    `{spec: {containers: [{name: a, resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: "1"}}}]}}`,
			want:    true,
		},
		{
			name:    "quota quantity",
			desired: `{spec: {hard: {requests.storage: 10240Mi, pods: "50"}}}`,
			live:    `{spec: {hard: {requests.storage: 10Gi, pods: "50"}}}`,
			want:    true,
		},
		{
			name:    "quantity changed",
			desired: `{spec: {containers: [{name: a, resources: {requests: {cpu: "0.5"}}}]}}`,
			live:    `{spec: {containers: [{name: a, resources: {requests: {cpu: 250m}}}]}}`,
			want:    false,
		},
		{
			// Outside quantity fields a string is a string: "1000" and "1k"
			// are different environment values.
			name:    "quantity-like string elsewhere",
			desired: `{spec: {env: [{name: LIMIT, value: "1000"}]}}`,
			live:    `{spec: {env: [{name: LIMIT, value: 1k}]}}`,
			want:    false,
		},
		{
			name:    "number forms",
			desired: `{spec: {replicas: 3, ratio: 1.0, port: "8080"}}`,
			live:    `{spec: {replicas: 3.0, ratio: 1, port: 8080}}`,
			want:    true,
		},
		{
			name:    "changed scalar",
			desired: `{data: {level: debug}}`,
			live:    `{data: {level: info}}`,
			want:    false,
		},
		{
			name:    "missing field",
			desired: `{data: {level: debug, mode: fast}}`,
			live:    `{data: {level: debug}}`,
			want:    false,
		},
		{
			name:    "empty values and absent fields",
			desired: `{spec: {paused: false, strategy: {}, template: {metadata: {creationTimestamp: null}}, args: [], note: ""}}`,
			live:    `{spec: {strategy: {type: RollingUpdate}, template: {metadata: {}}}}`,
			want:    true,
		},
		{
			name:    "list longer live",
			desired: `{spec: {containers: [{name: a}]}}`,
			live:    `{spec: {containers: [{name: a}, {name: injected}]}}`,
			want:    false,
		},
		{
			name:    "list reordered",
			desired: `{spec: {args: [a, b]}}`,
			live:    `{spec: {args: [b, a]}}`,
			want:    false,
		},
		{
			name:    "type changed",
			desired: `{spec: {selector: {app: web}}}`,
			live:    `{spec: {selector: "app=web"}}`,
			want:    false,
		},
		{
			name:    "own annotations ignored, others compared",
			desired: `{metadata: {name: x, annotations: {obsctl.dev/applied-hash: abc, note: a}}}`,
			live:    `{metadata: {name: x, annotations: {note: a, deployment.kubernetes.io/revision: "2"}}}`,
			want:    true,
		},
		{
			name:    "other annotation changed",
			desired: `{metadata: {name: x, annotations: {note: a}}}`,
			live:    `{metadata: {name: x, annotations: {note: b}}}`,
			want:    false,
		},
		{
			name:    "label removed live",
			desired: `{metadata: {name: x, labels: {app: web, tier: front}}}`,
			live:    `{metadata: {name: x, labels: {app: web}}}`,
			want:    false,
		},
		{
			name:    "status ignored",
			desired: `{status: {phase: Ready}}`,
			live:    `{status: {phase: Pending}}`,
			want:    true,
		},
		{
			name:    "secret stringData",
			desired: `{apiVersion: v1, kind: Secret, stringData: {password: hunter2}, data: {user: YWRtaW4=}}`,
			live:    `{apiVersion: v1, kind: Secret, type: Opaque, data: {password: aHVudGVyMg==, user: YWRtaW4=}}`,
			want:    true,
		},
		{
			name:    "secret stringData changed",
			desired: `{apiVersion: v1, kind: Secret, stringData: {password: hunter3}}`,
			live:    `{apiVersion: v1, kind: Secret, data: {password: aHVudGVyMg==}}`,
			want:    false,
		},
		{
			name:    "explicit null against a value",
			desired: `{spec: {selector: null}}`,
			live:    `{spec: {selector: {app: web}}}`,
			want:    false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := satisfies(fields(t, tt.desired), fields(t, tt.live)); got != tt.want {
				t.Errorf("satisfies = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnchanged(t *testing.T) {
	src := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: m}, data: {a: "1"}}`)
	p, err := prepare(src, "main", true, "default")
	if err != nil {
		t.Fatal(err)
	}
	live := func(hash, value string, deleting bool) string {
		s := `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: m, resourceVersion: "5", labels: {app.kubernetes.io/managed-by: obsctl, obsctl.dev/stack: main}, annotations: {obsctl.dev/applied-hash: ` + hash + `}`
		if deleting {
			s += `, deletionTimestamp: "2026-01-01T00:00:00Z"`
		}
		return s + `}, data: {a: "` + value + `"}}`
	}
	tests := []struct {
		name string
		live string
		want bool
	}{
		{"same", live(p.hash, "1", false), true},
		// Equal fields but another hash: obsctl last applied something else,
		// e.g. with a field since removed from the desired object.
		{"other hash", live("0123", "1", false), false},
		// Same hash, but someone changed a field since.
		{"drift", live(p.hash, "2", false), false},
		{"being deleted", live(p.hash, "1", true), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unchanged(p, obj(t, tt.live)); got != tt.want {
				t.Errorf("unchanged = %v, want %v", got, tt.want)
			}
		})
	}
	if unchanged(p, nil) {
		t.Error("unchanged with no live object")
	}
}

func TestSameScalar(t *testing.T) {
	res := []string{"spec", "resources", "limits", "cpu"}
	other := []string{"data", "x"}
	tests := []struct {
		path      []string
		want, got any
		equal     bool
	}{
		{other, "a", "a", true},
		{other, int64(1), float64(1), true},
		{other, float64(0.5), float64(0.5), true},
		{other, int64(8080), "8080", true},
		{other, "8080", int64(8080), true},
		{other, "8080", int64(8081), false},
		{other, "0.5", "500m", false},
		{other, true, "true", false},
		{res, "0.5", "500m", true},
		{res, float64(0.5), "500m", true},
		{res, int64(2), "2", true},
		{res, "2Gi", "2048Mi", true},
		{res, "2Gi", "2G", false},
		{res, "abc", "abc", true},
		{res, "abc", "abd", false},
	}
	for _, tt := range tests {
		if got := sameScalar(tt.path, tt.want, tt.got); got != tt.equal {
			t.Errorf("sameScalar(%v, %#v, %#v) = %v, want %v", tt.path, tt.want, tt.got, got, tt.equal)
		}
	}
}

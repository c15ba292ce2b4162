package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/obsctl/obsctl/internal/parallel"
)

// Resource is one resource a cluster serves, in one version of its group.
type Resource struct {
	schema.GroupVersionResource
	// Kind is the kind of the resource's objects.
	Kind string
	// Singular is the singular name ("deployment").
	Singular   string
	Namespaced bool
	Verbs      []string
	// Preferred says the version is its group's preferred version.
	Preferred bool
}

// Discovery learns which API groups, versions and resources a cluster
// serves, and maps kinds to resources from that. It asks once and keeps the
// answer until Reset: call Reset after applying CustomResourceDefinitions so
// that their kinds can be mapped. It implements meta.ResettableRESTMapper
// and is safe for concurrent use.
//
// Servers that have aggregated discovery (Kubernetes 1.26 and later) answer
// in two requests, /api and /apis; older ones are asked group version by
// group version.
type Discovery struct {
	client rest.Interface

	mu   sync.Mutex
	snap *discoverySnapshot // nil until loaded, and after Reset
}

// NewDiscovery returns a Discovery that asks through client, a REST client
// without a group version (rest.UnversionedRESTClientFor).
func NewDiscovery(client rest.Interface) *Discovery {
	return &Discovery{client: client}
}

// discoverySnapshot is one answer to discovery.
type discoverySnapshot struct {
	resources []Resource                            // groups in the server's order, versions in preference order
	byGVK     map[schema.GroupVersionKind]*Resource // the top-level resources
	versions  map[schema.GroupKind][]string         // in preference order
	// failed holds the group versions the server could not describe (an
	// aggregated API that is down, say): their kinds are unknown, not
	// missing.
	failed map[schema.GroupVersion]error
}

// Reset forgets what discovery said; the next question asks again.
func (d *Discovery) Reset() {
	d.mu.Lock()
	d.snap = nil
	d.mu.Unlock()
}

// Resources returns every resource the cluster serves, subresources left
// out, groups in the server's order and each group's versions preferred
// first.
func (d *Discovery) Resources(ctx context.Context) ([]Resource, error) {
	s, err := d.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Clone(s.resources), nil
}

func (d *Discovery) snapshot(ctx context.Context) (*discoverySnapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.snap != nil {
		return d.snap, nil
	}
	s, err := d.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover the cluster's API resources: %w", err)
	}
	d.snap = s
	return s, nil
}

// acceptDiscovery asks for aggregated discovery and takes the older,
// per-group answer from servers that lack it.
const acceptDiscovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

func (d *Discovery) load(ctx context.Context) (*discoverySnapshot, error) {
	s := &discoverySnapshot{
		byGVK:    map[schema.GroupVersionKind]*Resource{},
		versions: map[schema.GroupKind][]string{},
		failed:   map[schema.GroupVersion]error{},
	}
	for _, root := range []string{"/api", "/apis"} {
		body, aggregated, err := d.get(ctx, root, acceptDiscovery)
		if err != nil {
			return nil, err
		}
		if aggregated {
			err = s.addAggregated(root, body)
		} else {
			err = d.addLegacy(ctx, s, root, body)
		}
		if err != nil {
			return nil, err
		}
	}
	for i := range s.resources {
		r := &s.resources[i]
		gvk := r.GroupVersion().WithKind(r.Kind)
		if _, dup := s.byGVK[gvk]; dup {
			continue // a kind served by two resources: the first one listed maps it
		}
		s.byGVK[gvk] = r
		gk := gvk.GroupKind()
		s.versions[gk] = append(s.versions[gk], r.Version)
	}
	return s, nil
}

// get fetches path and says whether the answer is aggregated discovery.
func (d *Discovery) get(ctx context.Context, path, accept string) ([]byte, bool, error) {
	var contentType string
	body, err := d.client.Get().AbsPath(path).SetHeader("Accept", accept).Do(ctx).ContentType(&contentType).Raw()
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	_, params, _ := mime.ParseMediaType(contentType)
	return body, params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList", nil
}

// The parts of aggregated discovery (apidiscovery.k8s.io/v2
// APIGroupDiscoveryList) that mapping needs.
type (
	groupDiscoveryList struct {
		Items []groupDiscovery `json:"items"`
	}
	groupDiscovery struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Versions []versionDiscovery `json:"versions"`
	}
	versionDiscovery struct {
		Version   string              `json:"version"`
		Resources []resourceDiscovery `json:"resources"`
		Freshness string              `json:"freshness"`
	}
	resourceDiscovery struct {
		Resource     string `json:"resource"`
		ResponseKind *struct {
			Kind string `json:"kind"`
		} `json:"responseKind"`
		Scope            string   `json:"scope"`
		SingularResource string   `json:"singularResource"`
		Verbs            []string `json:"verbs"`
	}
)

func (s *discoverySnapshot) addAggregated(root string, body []byte) error {
	var list groupDiscoveryList
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("read the answer to GET %s: %w", root, err)
	}
	for _, g := range list.Items {
		for i, v := range g.Versions {
			gv := schema.GroupVersion{Group: g.Metadata.Name, Version: v.Version}
			if v.Freshness == "Stale" {
				s.failed[gv] = fmt.Errorf("the server's description of %s is stale (is its API service down?)", gv)
				continue
			}
			for _, r := range v.Resources {
				if r.ResponseKind == nil || r.ResponseKind.Kind == "" {
					continue // not a resource of objects
				}
				s.resources = append(s.resources, Resource{
					GroupVersionResource: gv.WithResource(r.Resource),
					Kind:                 r.ResponseKind.Kind,
					Singular:             r.SingularResource,
					Namespaced:           r.Scope == "Namespaced",
					Verbs:                r.Verbs,
					Preferred:            i == 0,
				})
			}
		}
	}
	return nil
}

// addLegacy reads the older discovery: the group versions from root, then
// each group version's resources.
func (d *Discovery) addLegacy(ctx context.Context, s *discoverySnapshot, root string, body []byte) error {
	type groupVersions struct {
		group     string
		versions  []string
		preferred string
	}
	var groups []groupVersions
	if root == "/api" {
		var v metav1.APIVersions
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("read the answer to GET %s: %w", root, err)
		}
		if len(v.Versions) > 0 {
			groups = append(groups, groupVersions{versions: v.Versions, preferred: v.Versions[0]})
		}
	} else {
		var l metav1.APIGroupList
		if err := json.Unmarshal(body, &l); err != nil {
			return fmt.Errorf("read the answer to GET %s: %w", root, err)
		}
		for _, g := range l.Groups {
			gvs := groupVersions{group: g.Name, preferred: g.PreferredVersion.Version}
			for _, v := range g.Versions {
				gvs.versions = append(gvs.versions, v.Version)
			}
			groups = append(groups, gvs)
		}
	}
	type answer struct {
		list *metav1.APIResourceList
		err  error
	}
	type job struct {
		gv        schema.GroupVersion
		preferred bool
	}
	var jobs []job
	for _, g := range groups {
		// The preferred version first, then the rest in the server's order.
		order := slices.Clone(g.versions)
		if i := slices.Index(order, g.preferred); i > 0 {
			order = slices.Insert(slices.Delete(order, i, i+1), 0, g.preferred)
		}
		for _, v := range order {
			jobs = append(jobs, job{schema.GroupVersion{Group: g.group, Version: v}, v == g.preferred})
		}
	}
	answers := make([]answer, len(jobs))
	parallel.EachUpTo(len(jobs), 8, func(i int) {
		j := jobs[i]
		path := "/apis/" + j.gv.String()
		if j.gv.Group == "" {
			path = "/api/" + j.gv.Version
		}
		body, _, err := d.get(ctx, path, "application/json")
		if err != nil {
			answers[i].err = err
			return
		}
		var l metav1.APIResourceList
		if err := json.Unmarshal(body, &l); err != nil {
			answers[i].err = fmt.Errorf("read the answer to GET %s: %w", path, err)
			return
		}
		answers[i].list = &l
	})
	failures := 0
	for _, a := range answers {
		if a.err != nil {
			failures++
		}
	}
	if failures > 0 && (failures == len(answers) || ctx.Err() != nil) {
		return answers[slices.IndexFunc(answers, func(a answer) bool { return a.err != nil })].err // the server, not a group, is in trouble
	}
	for i, j := range jobs {
		a := answers[i]
		if a.err != nil {
			s.failed[j.gv] = a.err // an aggregated API that is down, say
			continue
		}
		for _, r := range a.list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource
			}
			s.resources = append(s.resources, Resource{
				GroupVersionResource: j.gv.WithResource(r.Name),
				Kind:                 r.Kind,
				Singular:             r.SingularName,
				Namespaced:           r.Namespaced,
				Verbs:                r.Verbs,
				Preferred:            j.preferred,
			})
		}
	}
	return nil
}

// mappingFor turns r into a RESTMapping.
func mappingFor(r *Resource) *meta.RESTMapping {
	scope := meta.RESTScopeRoot
	if r.Namespaced {
		scope = meta.RESTScopeNamespace
	}
	return &meta.RESTMapping{Resource: r.GroupVersionResource, GroupVersionKind: r.GroupVersion().WithKind(r.Kind), Scope: scope}
}

// RESTMapping maps gk to its resource in the first of versions the cluster
// serves it in, or, with no versions, in its preferred version. A kind the
// cluster does not serve is a *meta.NoKindMatchError, unless its group
// could not be described: that is an error of its own, since the kind may
// well exist.
func (d *Discovery) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	ms, err := d.mappings(gk, versions, true)
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// RESTMappings maps gk in each of versions the cluster serves it in, or in
// every version it serves, preferred first.
func (d *Discovery) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	return d.mappings(gk, versions, false)
}

func (d *Discovery) mappings(gk schema.GroupKind, versions []string, first bool) ([]*meta.RESTMapping, error) {
	s, err := d.snapshot(context.Background())
	if err != nil {
		return nil, err
	}
	asked := slices.DeleteFunc(slices.Clone(versions), func(v string) bool { return v == "" || v == "__internal" })
	if len(asked) == 0 {
		asked = s.versions[gk]
	}
	var out []*meta.RESTMapping
	for _, v := range asked {
		if r, ok := s.byGVK[gk.WithVersion(v)]; ok {
			out = append(out, mappingFor(r))
			if first {
				break
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	var failed []error
	for gv, err := range s.failed {
		if gv.Group == gk.Group {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("no mapping for %s: its API group could not be discovered: %w", gk, errors.Join(failed...))
	}
	return nil, &meta.NoKindMatchError{GroupKind: gk, SearchedVersions: versions}
}

// ResourcesFor returns the resources matching input, whose group and
// version may be empty and whose resource may be plural or singular, in
// preference order.
func (d *Discovery) ResourcesFor(input schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	rs, err := d.match(input)
	if err != nil {
		return nil, err
	}
	out := make([]schema.GroupVersionResource, len(rs))
	for i, r := range rs {
		out[i] = r.GroupVersionResource
	}
	return out, nil
}

// ResourceFor returns the first of ResourcesFor.
func (d *Discovery) ResourceFor(input schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	rs, err := d.match(input)
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return rs[0].GroupVersionResource, nil
}

// KindsFor returns the kinds of the resources matching input, in
// preference order.
func (d *Discovery) KindsFor(input schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	rs, err := d.match(input)
	if err != nil {
		return nil, err
	}
	out := make([]schema.GroupVersionKind, len(rs))
	for i, r := range rs {
		out[i] = r.GroupVersion().WithKind(r.Kind)
	}
	return out, nil
}

// KindFor returns the first of KindsFor.
func (d *Discovery) KindFor(input schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	ks, err := d.KindsFor(input)
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return ks[0], nil
}

// ResourceSingularizer returns the singular name of a plural resource.
func (d *Discovery) ResourceSingularizer(resource string) (string, error) {
	rs, err := d.match(schema.GroupVersionResource{Resource: resource})
	if err != nil {
		return "", err
	}
	if rs[0].Singular == "" {
		return rs[0].Resource, nil
	}
	return rs[0].Singular, nil
}

// match finds the resources input names, preferred versions first.
func (d *Discovery) match(input schema.GroupVersionResource) ([]*Resource, error) {
	s, err := d.snapshot(context.Background())
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(input.Resource)
	var preferred, other []*Resource
	for i := range s.resources {
		r := &s.resources[i]
		switch {
		case input.Group != "" && r.Group != input.Group,
			input.Version != "" && r.Version != input.Version,
			r.Resource != name && r.Singular != name:
			continue
		case r.Preferred:
			preferred = append(preferred, r)
		default:
			other = append(other, r)
		}
	}
	if all := append(preferred, other...); len(all) > 0 {
		return all, nil
	}
	return nil, &meta.NoResourceMatchError{PartialResource: input}
}

var _ meta.ResettableRESTMapper = (*Discovery)(nil)

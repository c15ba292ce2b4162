package cli

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/release"
	"github.com/obsctl/obsctl/internal/render"
)

// embeddedRepo names the embedded default repo in history.
const embeddedRepo = "the embedded default repo"

// readSource returns what apply and diff release: the repo's stack
// rendered (with --profile), or the manifests of -f. Manifests that carry
// a stack's identity (obsctl render output) are that stack's release,
// generated Secrets and all; other manifests must be given a stack by
// name, so that a stray file never prunes the repo's stack (releases is
// false for a client dry run, which releases nothing). what names the
// command in messages.
func readSource(ctx context.Context, deps *Deps, g *globalOptions, c *clusterOptions, files []string, profile, what string, releases bool) (release.Source, error) {
	src, _, err := readSourceRepo(ctx, deps, g, c, files, profile, what, releases)
	return src, err
}

// readSourceRepo is readSource that also returns the repo the stack was
// rendered from (nil for manifests).
func readSourceRepo(ctx context.Context, deps *Deps, g *globalOptions, c *clusterOptions, files []string, profile, what string, releases bool) (release.Source, *load.Repo, error) {
	if len(files) == 0 {
		r, res, err := renderStack(deps, g, profile, what)
		if err != nil {
			return release.Source{}, nil, err
		}
		src := release.Source{
			Objects: res.Objects, Generated: res.Generated, Requires: res.Requires,
			// The profile rendered: --profile's, else obsctl.yaml's.
			Profile: cmp.Or(profile, r.Config.StackProfile()), ProfileNamed: profile != "",
			Defaults: r.DefaultItems,
		}
		if r.Embedded() {
			src.Repo, src.Implicit = embeddedRepo, g.repo == "" && !c.stackNamed
		} else {
			src.Repo = absRepo(deps, r.Dir)
			gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			src.Git = release.GitInfoOf(gctx, src.Repo)
			cancel()
		}
		return src, r, nil
	}
	ms, err := manifest.Read(files, manifest.Options{Stdin: deps.Stdin, WorkDir: deps.WorkDir})
	if err != nil {
		return release.Source{}, nil, fmt.Errorf("read manifests: %w", err)
	}
	objs := manifest.Objects(ms)
	if len(objs) == 0 {
		// Most likely a render that went wrong; released with prune, an
		// empty set would delete the whole stack.
		return release.Source{}, nil, fmt.Errorf("no objects in %s: nothing to %s", strings.Join(files, ", "), what)
	}
	src := release.Source{Objects: objs, Repo: "manifests " + strings.Join(files, ", ")}
	id, ok, err := render.IdentityOf(objs)
	if err != nil {
		return release.Source{}, nil, fmt.Errorf("read manifests: %w", err)
	}
	if !ok && profile != "" {
		return release.Source{}, nil, usagef("--profile names the profile of a stack: the manifests in %s are no stack's render output", strings.Join(files, ", "))
	}
	if !ok {
		if !c.stackNamed && releases {
			return release.Source{}, nil, usagef("the manifests in %s carry no stack identity (they are not obsctl render output): name the stack they form with --stack NAME, a release of its own; to release the repo's stack, run obsctl %s without -f, or render it (obsctl render -o DIR) and %s that",
				strings.Join(files, ", "), what, what)
		}
		return src, nil, nil
	}
	if c.stackNamed && c.stack != id.Stack {
		return release.Source{}, nil, usagef("--stack %s, but the manifests are obsctl render output of stack %s", c.stack, id.Stack)
	}
	if c.namespaceNamed && c.namespace != id.Namespace {
		return release.Source{}, nil, usagef("-n %s, but the manifests are obsctl render output of stack %s in namespace %s", c.namespace, id.Stack, id.Namespace)
	}
	if profile != "" && profile != id.Profile {
		return release.Source{}, nil, usagef("--profile %s, but the manifests were rendered with profile %s: render them again with --profile %s", profile, id.Profile, profile)
	}
	c.stack, c.namespace = id.Stack, id.Namespace
	src.Generated, src.Requires, src.Profile = id.Generated, id.Requires, id.Profile
	// Naming the profile the manifests were rendered with confirms a
	// change of profile, as --profile does for the repo's stack.
	src.ProfileNamed = profile != ""
	return src, nil, nil
}

// absRepo returns the repo's folder as history records it: absolute.
func absRepo(deps *Deps, dir string) string {
	if !filepath.IsAbs(dir) {
		wd := deps.WorkDir
		if wd == "" {
			wd, _ = filepath.Abs(".")
		}
		dir = filepath.Join(wd, dir)
	}
	return filepath.Clean(dir)
}

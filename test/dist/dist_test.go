// Package dist keeps the Dockerfile true to what `make dist` writes: the
// image cannot be built on these machines, so this checks, from make's
// own dry run, that each Linux binary the Dockerfile copies is one the
// dist target builds, statically (no cgo), for that platform.
package dist

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// dockerfile returns the Dockerfile's COPY sources and its ARG defaults.
func dockerfile(t *testing.T) (copies []string, args map[string]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(root(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 2 && fields[0] == "ARG":
			k, v, _ := strings.Cut(fields[1], "=")
			args[k] = v
		case len(fields) >= 3 && fields[0] == "COPY":
			copies = append(copies, fields[1:len(fields)-1]...)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return copies, args
}

var buildLine = regexp.MustCompile(`CGO_ENABLED=(\S+) GOOS=(\S+) GOARCH=(\S+) \S+ build .* -o (\S+) \./cmd/obsctl`)

func TestDockerfileCopiesWhatDistBuilds(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is needed: the dist target is what this checks")
	}
	copies, args := dockerfile(t)
	if len(copies) != 1 {
		t.Fatalf("the Dockerfile copies %q, want the obsctl binary alone", copies)
	}
	const version = "v0.0.0-test"
	cmd := exec.Command("make", "-n", "-s", "dist", "GO=go", "VERSION="+version, "DIST_PLATFORMS=linux/amd64 linux/arm64")
	cmd.Dir = root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n dist: %v\n%s", err, out)
	}
	// make -n prints the recipe's shell loop; expand it as the shell would
	// for each platform.
	script := string(out)
	for _, arch := range []string{"amd64", "arm64"} {
		src := copies[0]
		for k, v := range map[string]string{"VERSION": version, "TARGETOS": "linux", "TARGETARCH": arch} {
			src = strings.ReplaceAll(src, "${"+k+"}", v)
		}
		if strings.Contains(src, "${") {
			t.Fatalf("COPY %s: an ARG the test does not know", src)
		}
		// go says how it was called and makes the folder of its -o.
		stubs := `go() {
			echo "CGO_ENABLED=$CGO_ENABLED GOOS=$GOOS GOARCH=$GOARCH go $*"
			local prev=
			for a in "$@"; do [ "$prev" = -o ] && mkdir -p "$(dirname "$a")"; prev=$a; done
		}
		tar() { :; }; gzip() { :; }; sha256sum() { :; }; rm() { :; }
		`
		sh := exec.Command("bash", "-c", "set -e\n"+stubs+script)
		sh.Dir = t.TempDir()
		got, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("running make -n dist's recipe with go stubbed: %v\n%s", err, got)
		}
		found := false
		for _, m := range buildLine.FindAllStringSubmatch(string(got), -1) {
			if m[4] != src {
				continue
			}
			found = true
			if m[1] != "0" || m[2] != "linux" || m[3] != arch {
				t.Errorf("%s is built with CGO_ENABLED=%s GOOS=%s GOARCH=%s, want a static linux/%s binary", src, m[1], m[2], m[3], arch)
			}
		}
		if !found {
			t.Errorf("the Dockerfile copies %s (TARGETARCH=%s), which make dist does not build:\n%s", src, arch, got)
		}
	}
	if args["TARGETOS"] != "linux" || args["VERSION"] != "" {
		t.Errorf("ARG defaults %v: TARGETOS is linux, and VERSION must be given", args)
	}
}

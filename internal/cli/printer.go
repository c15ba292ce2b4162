package cli

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/release"
)

// printer prints a release as it goes: one line per object on stdout and,
// on a terminal, a live progress line on stderr. It is the release's
// Observer. The lines of the objects the engine applies are held until
// their wave is done and then printed in input order, so the output does
// not depend on which request answered first; the plan's other decisions
// (conflicts, keeps, prunes) print as they come.
type printer struct {
	mu   sync.Mutex
	out  io.Writer // stdout; nil with -o json
	err  io.Writer // stderr
	term bool      // stderr is a terminal: show the progress line
	// waitWorkloads says workloads are waited for after they are applied.
	waitWorkloads bool

	waves []kube.Wave
	size  map[kube.Wave]int
	order map[kube.Ref]int
	held  map[kube.Wave][]heldLine

	total, done, waiting int
	wave                 int // 1-based position in waves of the wave last heard of
	shown                int // length of the progress line on screen; 0 if none
}

type heldLine struct {
	order int
	text  string
}

func newPrinter(deps *Deps, output string, waitWorkloads bool) *printer {
	p := &printer{
		err:           deps.Stderr,
		term:          deps.IsTerminal(deps.Stderr),
		waitWorkloads: waitWorkloads,
		size:          map[kube.Wave]int{},
		order:         map[kube.Ref]int{},
		held:          map[kube.Wave][]heldLine{},
	}
	if output == "text" {
		p.out = deps.Stdout
	}
	return p
}

// setObjects tells the printer what the engine applies, for the progress
// line and the order of lines within a wave.
func (p *printer) setObjects(objs []*unstructured.Unstructured) {
	p.total = len(objs)
	p.waves = p.waves[:0]
	clear(p.size)
	clear(p.order)
	for _, obj := range objs {
		w := kube.WaveOf(obj.GroupVersionKind().GroupKind())
		if p.size[w] == 0 {
			p.waves = append(p.waves, w)
		}
		p.size[w]++
	}
	slices.Sort(p.waves)
	for i, obj := range objs {
		id := kube.RefOf(obj).ID()
		if _, dup := p.order[id]; !dup {
			p.order[id] = i
		}
	}
}

// Observe hears the release.
func (p *printer) Observe(e release.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Type {
	case release.EventObjects:
		p.setObjects(e.Objects)
		return
	case release.EventNote:
		p.clear()
		fmt.Fprintln(p.err, e.Text)
		p.redraw()
		return
	case release.EventReady:
		p.waiting = max(0, p.waiting-1)
		p.redraw()
		return
	}
	o := e.Object
	i, engine := p.order[o.Ref.ID()]
	if !engine {
		p.emit(format(o))
		p.redraw()
		return
	}
	p.done++
	if p.waits(o) {
		p.waiting++
	}
	if w := slices.Index(p.waves, o.Wave); w >= 0 {
		p.wave = max(p.wave, w+1)
	}
	p.held[o.Wave] = append(p.held[o.Wave], heldLine{i, format(o)})
	if len(p.held[o.Wave]) >= p.size[o.Wave] {
		p.flushWave(o.Wave)
	}
	p.redraw()
}

// waits says whether the release waits for o after applying it.
func (p *printer) waits(o release.ObjectResult) bool {
	if o.DryRun {
		return false
	}
	switch o.Action {
	case release.Created, release.Configured, release.Unchanged, release.Replaced:
	default:
		return false
	}
	switch o.Ref.GroupKind() {
	case kube.GKCRD:
		return true
	case kube.GKDeployment, kube.GKStatefulSet, kube.GKDaemonSet:
		return p.waitWorkloads
	}
	return false
}

// format is an object's line: "Kind ns/name action (details)".
func format(o release.ObjectResult) string {
	switch o.Action {
	case release.Failed:
		msg := "unknown error"
		if o.Err != nil {
			msg = reason(o.Ref, o.Err)
		}
		return fmt.Sprintf("%s %s: %s", o.Ref, o.Action, msg)
	case release.Conflict:
		return fmt.Sprintf("%s %s: left alone, %s", o.Ref, o.Action, o.Note)
	}
	var detail []string
	if o.DryRun {
		detail = append(detail, "server dry run")
	}
	if o.Note != "" {
		detail = append(detail, o.Note)
	}
	if o.Destructive != "" {
		detail = append(detail, "destructive: "+o.Destructive)
	}
	if o.Duration > 0 {
		detail = append(detail, formatDuration(o.Duration))
	}
	if len(detail) == 0 {
		return fmt.Sprintf("%s %s", o.Ref, o.Action)
	}
	return fmt.Sprintf("%s %s (%s)", o.Ref, o.Action, strings.Join(detail, "; "))
}

// flushWave prints the held lines of wave w in input order. The caller
// holds mu.
func (p *printer) flushWave(w kube.Wave) {
	lines := p.held[w]
	delete(p.held, w)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].order < lines[j].order })
	for _, l := range lines {
		p.emit(l.text)
	}
}

// flush prints every held line: the engine stopped before some waves were
// complete.
func (p *printer) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.waves {
		if len(p.held[w]) > 0 {
			p.flushWave(w)
		}
	}
	p.redraw()
}

// note prints a message on stderr.
func (p *printer) note(text string) {
	p.Observe(release.Event{Type: release.EventNote, Text: text})
}

// emit prints an object line on stdout, above the progress line. The
// caller holds mu.
func (p *printer) emit(text string) {
	if p.out == nil {
		return
	}
	p.clear()
	fmt.Fprintln(p.out, text)
}

// redraw rewrites the progress line. The caller holds mu.
func (p *printer) redraw() {
	if !p.term || p.done == 0 {
		return
	}
	text := fmt.Sprintf("[wave %d/%d] %d/%d applied", p.wave, len(p.waves), p.done, p.total)
	if p.waiting > 0 {
		text += fmt.Sprintf(", %d waiting", p.waiting)
	}
	text += "…"
	pad := ""
	if n := p.shown - len(text); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(p.err, "\r"+text+pad)
	p.shown = len(text)
}

// clear removes the progress line. The caller holds mu.
func (p *printer) clear() {
	if p.shown == 0 {
		return
	}
	fmt.Fprint(p.err, "\r"+strings.Repeat(" ", p.shown)+"\r")
	p.shown = 0
}

// finish clears the progress line for good.
func (p *printer) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.term = false
}

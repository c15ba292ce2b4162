package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is one running component. Each runs in its own process group, so that
// stopping it also stops anything it started.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been reaped
	err     error         // Wait's result, valid once done is closed
}

// startProc starts bin with args, appending its output to logPath.
func startProc(name, bin string, args []string, env []string, logPath string) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitErr describes how the process ended, for a start that failed because
// of it.
func (p *proc) exitErr() error {
	if p.err == nil {
		return fmt.Errorf("%s exited with status 0", p.name)
	}
	return fmt.Errorf("%s exited: %w", p.name, p.err)
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	_ = syscall.Kill(-p.pid(), sig)
}

// stopProcs stops procs tier by tier: each tier gets SIGTERM and up to grace
// to exit before the next is signalled, so servers can shut down cleanly
// while what they depend on is still up. Whatever is left then gets SIGKILL.
// It returns an error naming any process still alive afterwards, which
// would be a bug.
func stopProcs(grace time.Duration, tiers ...[]*proc) error {
	var all []*proc
	for _, tier := range tiers {
		for _, p := range tier {
			p.signal(syscall.SIGTERM)
		}
		deadline := time.After(grace)
		for _, p := range tier {
			select {
			case <-p.done:
			case <-deadline:
			}
		}
		all = append(all, tier...)
	}
	for _, p := range all {
		p.signal(syscall.SIGKILL) // the group may outlive its leader
	}
	for _, p := range all {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	}
	var alive []string
	for _, p := range all {
		if pidAlive(p.pid()) || groupAlive(p.pid()) {
			alive = append(alive, fmt.Sprintf("%s (pid %d)", p.name, p.pid()))
		}
	}
	if len(alive) > 0 {
		return fmt.Errorf("still running after stop: %s", strings.Join(alive, ", "))
	}
	return nil
}

// pidAlive reports whether a process with this pid exists (a zombie counts).
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// groupAlive reports whether any process is left in process group pgid.
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// PIDsAlive returns those of pids that still name a process or a process
// group; it is how tests and `kubecluster down` check that a stop left
// nothing behind.
func PIDsAlive(pids []int) []int {
	var alive []int
	for _, pid := range pids {
		if pidAlive(pid) || groupAlive(pid) {
			alive = append(alive, pid)
		}
	}
	return alive
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	data = bytes.TrimRight(data, "\n")
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

const pollInterval = 50 * time.Millisecond

package cluster

import "syscall"

// sysProcAttr puts each component in its own process group, and has the
// kernel kill it if the process that started it dies (a test binary that
// times out or is killed), so no component outlives its owner.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

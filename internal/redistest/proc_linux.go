package redistest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// Pdeathsig: a test binary killed by its timeout runs no cleanups;
	// the kernel then ends its redis-servers.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

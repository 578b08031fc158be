package upstream

import "syscall"

// setParentDeathSignal stops the server if the hub dies without cleaning up.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }

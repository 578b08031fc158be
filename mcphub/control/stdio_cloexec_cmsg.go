//go:build dragonfly || linux || netbsd || openbsd

package control

import "syscall"

// cmsgCloexec makes recvmsg open received descriptors close-on-exec.
const cmsgCloexec = syscall.MSG_CMSG_CLOEXEC

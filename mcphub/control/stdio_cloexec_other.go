//go:build unix && !(dragonfly || linux || netbsd || openbsd)

package control

// cmsgCloexec is 0 where recvmsg has no MSG_CMSG_CLOEXEC; recvRights sets
// the flag itself under the fork lock.
const cmsgCloexec = 0

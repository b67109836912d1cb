/*
 * The control socket between the runtime and the init: fixed-size messages
 * (struct msg; the types are MSG_* in plan-abi.h), and fds passed with
 * SCM_RIGHTS.
 */
#ifndef TSRUN_MSG_H
#define TSRUN_MSG_H

#include <stddef.h>
#include <stdint.h>

struct msg {
	uint32_t type;
	uint32_t step;
	int32_t err;
	uint32_t val;
};

/* Sends a message on fd (nothing when fd < 0). */
void send_msg(int fd, uint32_t type, uint32_t step, int32_t err, uint32_t val);
/* Reads exactly n bytes: 0, or -1 at end of file or on an error. */
int read_full(int fd, void *buf, size_t n);
/* Receives the GO message; fds attached to it land in Slot.PASSED,
 * PASSED+1, ... in order. 0, or -1. */
int recv_go(int fd, struct msg *m);
/* Sends len bytes of data with one fd attached: 0, or -1 and errno. */
int send_fd(int sock, const void *data, size_t len, int fd);
/* Reports the failing step and exits. Once the control socket is gone
 * (ctrl_fd < 0: the container was started), the only witness left is the
 * container's stderr. */
void __attribute__((noreturn)) fail(int ctrl_fd, uint32_t step, int err, uint32_t val);

#endif

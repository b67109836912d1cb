/* The control socket's messages; see msg.h. */
#define _GNU_SOURCE
#include "msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plan-abi.h"
#include "slots.h"

void send_msg(int fd, uint32_t type, uint32_t step, int32_t err, uint32_t val)
{
	struct msg m = {type, step, err, val};
	if (fd < 0)
		return;
	ssize_t r;
	do
		r = write(fd, &m, sizeof(m));
	while (r < 0 && errno == EINTR);
}

int read_full(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int recv_go(int fd, struct msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * (SLOT_PASSED_END - SLOT_PASSED))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && SLOT_PASSED + i < SLOT_PASSED_END; i++) {
			int passed;
			memcpy(&passed, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			slot_set(SLOT_PASSED + i, passed);
		}
	}
	if ((size_t)n < sizeof(*m))
		return read_full(fd, (char *)m + n, sizeof(*m) - (size_t)n);
	return 0;
}

int send_fd(int sock, const void *data, size_t len, int fd)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

void fail(int ctrl_fd, uint32_t step, int err, uint32_t val)
{
	if (ctrl_fd >= 0) {
		send_msg(ctrl_fd, MSG_ERROR, step, err, val);
	} else {
		char buf[128];
		int n = snprintf(buf, sizeof(buf), "tsrun-init: step %u failed: %s\n", step, strerror(err));
		if (n > 0 && write(2, buf, (size_t)n) < 0) {
		}
	}
	_exit(127);
}

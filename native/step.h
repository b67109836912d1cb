/*
 * What every step handler gets besides its fields (see plan-abi.h for
 * those): the step being run, and the process-wide context of the init.
 */
#ifndef TSRUN_STEP_H
#define TSRUN_STEP_H

#include <stddef.h>
#include <stdint.h>

#include "plan-abi.h"

/* The init's state across steps. */
struct init_ctx {
	int ctrl_fd; /* the control socket; -1 once READY closed it */
	int early;   /* started by the tsrun command: the runtime is not our parent */
	/* With GO the runtime sends two blobs, each u32 length + bytes: the
	 * state JSON hooks get on stdin, and the message for a seccomp agent. */
	const char *hook_state;
	size_t hook_state_len;
	const char *agent_msg; /* NULL: none came */
	size_t agent_msg_len;
	const char *exec_path; /* chosen by execCheck */
	int chdir_put_off;     /* a chdir of mode 1 was refused: mode 2 runs */
	int null_attached;     /* the null device's bind (Slot.NULLDEV) masks a file */
};

struct step {
	uint32_t index;
	uint32_t aux; /* reported with a failure (a hook's wait status) */
	struct init_ctx *ctx;
};

/* Syscall numbers older headers lack. */
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

#endif

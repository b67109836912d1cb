/*
 * The init's fd slots: a table of MAX_SLOTS fds that steps fill and use by
 * number (the numbers, fixed ones and ranges, are in plan-abi.h). Every
 * access goes through these functions, which check the number: a plan can
 * never reach outside the table, nor use an empty slot as an fd.
 */
#ifndef TSRUN_SLOTS_H
#define TSRUN_SLOTS_H

#include <stdint.h>

/* Every slot empty. */
void slots_init(void);
/* The fd in slot, or -1 when the number is out of range or the slot empty. */
int slot_fd(uint64_t slot);
/* The same, and the slot is empty afterwards (the fd is the caller's). */
int slot_take(uint64_t slot);
/* Puts fd in slot (which must be empty or be left): 0, or -EINVAL when the
 * number is out of range (fd is closed then). */
int slot_set(uint64_t slot, int fd);
/* Closes the fd in slot, if any; the slot is empty afterwards. */
void slot_close(uint64_t slot);
/* slot_close on every slot of [from, to). */
void slots_close(uint64_t from, uint64_t to);

#endif

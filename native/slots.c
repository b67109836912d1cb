/* The fd slot table; see slots.h. */
#include "slots.h"

#include <errno.h>
#include <unistd.h>

#include "plan-abi.h"

static int slots[MAX_SLOTS];

void slots_init(void)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		slots[i] = -1;
}

int slot_fd(uint64_t slot)
{
	return slot < MAX_SLOTS ? slots[slot] : -1;
}

int slot_take(uint64_t slot)
{
	int fd = slot_fd(slot);
	if (fd >= 0)
		slots[slot] = -1;
	return fd;
}

int slot_set(uint64_t slot, int fd)
{
	if (slot >= MAX_SLOTS) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	slots[slot] = fd;
	return 0;
}

void slot_close(uint64_t slot)
{
	int fd = slot_take(slot);
	if (fd >= 0)
		close(fd);
}

void slots_close(uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to; i++)
		slot_close(i);
}

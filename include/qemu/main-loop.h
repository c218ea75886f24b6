/* The main loop of the tools: the main AioContext, polled by one thread. */
#ifndef QEMU_MAIN_LOOP_H
#define QEMU_MAIN_LOOP_H

#include "qemu/aio.h"

/* Create the main AioContext; returns 0 or -errno. */
int qemu_init_main_loop(Error **errp);
/* The main AioContext (valid after qemu_init_main_loop). */
AioContext *qemu_get_aio_context(void);
/* One main-loop iteration: aio_poll on the main context. */
void main_loop_wait(int nonblocking);
/* Is the calling thread the main-loop thread? */
bool qemu_in_main_thread(void);

#endif

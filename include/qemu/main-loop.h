/*
 * The main loop of the tools: the main AioContext, where block I/O
 * completes, plus iohandler_ctx for fd handlers (such as qemu-io's stdin)
 * that must run from main_loop_wait() but not from the nested aio_poll()
 * calls of synchronous I/O.  Both are attached to glib's default
 * GMainContext.
 */
#ifndef QEMU_MAIN_LOOP_H
#define QEMU_MAIN_LOOP_H

#include "qemu/aio.h"

/*
 * Create the main AioContext and make it the calling thread's context.
 * Returns 0 or -errno.
 */
int qemu_init_main_loop(Error **errp);
/* The main AioContext (valid after qemu_init_main_loop). */
AioContext *qemu_get_aio_context(void);
/* One main-loop iteration: wait (unless nonblocking) and dispatch. */
void main_loop_wait(int nonblocking);
/* Is the calling thread the main-loop thread? */
bool qemu_in_main_thread(void);

/* Register (or, with both NULL, remove) a handler in iohandler_ctx. */
void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write,
                         void *opaque);

#endif

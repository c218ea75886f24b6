/*
 * The tools' main loop: the main AioContext and iohandler_ctx, driven
 * through glib's default GMainContext by main_loop_wait().
 */
#include "qemu/osdep.h"

#include "qemu/error.h"
#include "qemu/main-loop.h"

static AioContext *qemu_aio_context;
static AioContext *iohandler_ctx;

static void attach_to_glib(AioContext *ctx, const char *name)
{
    GSource *src = aio_get_g_source(ctx);

    g_source_set_name(src, name);
    g_source_attach(src, NULL);
    g_source_unref(src);
}

int qemu_init_main_loop(Error **errp)
{
    if (qemu_aio_context) {
        return 0;
    }
    qemu_aio_context = aio_context_new(errp);
    if (!qemu_aio_context) {
        return -EMFILE;
    }
    iohandler_ctx = aio_context_new(errp);
    if (!iohandler_ctx) {
        aio_context_unref(qemu_aio_context);
        qemu_aio_context = NULL;
        return -EMFILE;
    }
    qemu_set_current_aio_context(qemu_aio_context);
    attach_to_glib(qemu_aio_context, "aio-context");
    attach_to_glib(iohandler_ctx, "io-handler");
    return 0;
}

AioContext *qemu_get_aio_context(void)
{
    return qemu_aio_context;
}

bool qemu_in_main_thread(void)
{
    return qemu_aio_context &&
           qemu_get_current_aio_context() == qemu_aio_context;
}

void main_loop_wait(int nonblocking)
{
    assert(qemu_in_main_thread());
    g_main_context_iteration(NULL, !nonblocking);
}

void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write,
                         void *opaque)
{
    aio_set_fd_handler(iohandler_ctx, fd, false, fd_read, fd_write,
                       NULL, NULL, opaque);
}

/*
 * EventNotifier on an eventfd: a counter that is "set" while non-zero.
 */
#include "qemu/osdep.h"

#include <sys/eventfd.h>

#include "qemu/event_notifier.h"

int event_notifier_init(EventNotifier *e, int active)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (fd < 0) {
        return -errno;
    }
    e->rfd = e->wfd = fd;
    e->initialized = true;
    if (active) {
        event_notifier_set(e);
    }
    return 0;
}

void event_notifier_cleanup(EventNotifier *e)
{
    if (!e->initialized) {
        return;
    }
    if (e->rfd != e->wfd) {
        close(e->rfd);
    }
    close(e->wfd);
    e->rfd = e->wfd = -1;
    e->initialized = false;
}

int event_notifier_get_fd(const EventNotifier *e)
{
    return e->rfd;
}

int event_notifier_set(EventNotifier *e)
{
    uint64_t value = 1;
    ssize_t ret;

    do {
        ret = write(e->wfd, &value, sizeof(value));
    } while (ret < 0 && errno == EINTR);

    /* EAGAIN: the counter is saturated, which still means "set". */
    if (ret < 0 && errno != EAGAIN) {
        return -errno;
    }
    return 0;
}

int event_notifier_test_and_clear(EventNotifier *e)
{
    uint64_t value;
    ssize_t ret;

    /* One read resets an eventfd counter to zero. */
    do {
        ret = read(e->rfd, &value, sizeof(value));
    } while (ret < 0 && errno == EINTR);

    return ret == sizeof(value) && value > 0;
}

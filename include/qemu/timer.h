/*
 * Clocks and timers.  Timers belong to an AioContext (see aio_timer_new in
 * qemu/aio.h) and fire from aio_poll() once their deadline has passed.
 */
#ifndef QEMU_TIMER_H
#define QEMU_TIMER_H

#define SCALE_MS 1000000
#define SCALE_US 1000
#define SCALE_NS 1

#define NANOSECONDS_PER_SECOND 1000000000LL

typedef enum {
    QEMU_CLOCK_REALTIME = 0,
    QEMU_CLOCK_VIRTUAL = 1,     /* follows real time in the tools */
    QEMU_CLOCK_HOST = 2,
    QEMU_CLOCK_VIRTUAL_RT = 3,
    QEMU_CLOCK_MAX
} QEMUClockType;

typedef void QEMUTimerCB(void *opaque);
typedef struct QEMUTimerList QEMUTimerList;

typedef struct QEMUTimer {
    int64_t expire_time;        /* in nanoseconds; -1 when not pending */
    QEMUTimerList *timer_list;
    QEMUTimerCB *cb;
    void *opaque;
    struct QEMUTimer *next;
    int scale;
} QEMUTimer;

int64_t qemu_clock_get_ns(QEMUClockType type);

static inline int64_t qemu_clock_get_us(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_US;
}

static inline int64_t qemu_clock_get_ms(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_MS;
}

/* Arm ts to fire at expire_time, in units of the timer's scale. */
void timer_mod(QEMUTimer *ts, int64_t expire_time);
void timer_mod_ns(QEMUTimer *ts, int64_t expire_time);
/* Arm only if not pending or if the new deadline is earlier. */
void timer_mod_anticipate_ns(QEMUTimer *ts, int64_t expire_time);
void timer_del(QEMUTimer *ts);
/* timer_del, then release the memory of a timer from aio_timer_new. */
void timer_free(QEMUTimer *ts);
bool timer_pending(QEMUTimer *ts);
/* Deadline in ns, or -1. */
int64_t timer_expire_time_ns(QEMUTimer *ts);

#endif

/* A wakeup primitive backed by an eventfd. */
#ifndef QEMU_EVENT_NOTIFIER_H
#define QEMU_EVENT_NOTIFIER_H

typedef struct EventNotifier {
    int rfd;
    int wfd;
    bool initialized;
} EventNotifier;

typedef void EventNotifierHandler(EventNotifier *);

/* Returns 0 or -errno. */
int event_notifier_init(EventNotifier *e, int active);
void event_notifier_cleanup(EventNotifier *e);
int event_notifier_set(EventNotifier *e);
/* Clear the notifier; returns whether it was set. */
int event_notifier_test_and_clear(EventNotifier *e);
int event_notifier_get_fd(const EventNotifier *e);

#endif

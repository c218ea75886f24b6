/*
 * Intrusive list macros: singly linked lists (QSLIST), lists (QLIST),
 * simple queues (QSIMPLEQ) and tail queues (QTAILQ), with the names QEMU
 * code uses.  Elements embed a *_ENTRY field; heads are separate structs.
 */
#ifndef QEMU_QUEUE_H
#define QEMU_QUEUE_H

/* ---- QLIST: doubly linked list, O(1) removal, insertion at the head ---- */

#define QLIST_HEAD(name, type) \
    struct name { struct type *lh_first; }
#define QLIST_HEAD_INITIALIZER(head) { NULL }
#define QLIST_ENTRY(type) \
    struct { struct type *le_next; struct type **le_prev; }

#define QLIST_INIT(head) ((head)->lh_first = NULL)
#define QLIST_EMPTY(head) ((head)->lh_first == NULL)
#define QLIST_FIRST(head) ((head)->lh_first)
#define QLIST_NEXT(elm, field) ((elm)->field.le_next)
#define QLIST_IS_INSERTED(elm, field) ((elm)->field.le_prev != NULL)

#define QLIST_INSERT_HEAD(head, elm, field) do {                             \
    if (((elm)->field.le_next = (head)->lh_first) != NULL) {                 \
        (head)->lh_first->field.le_prev = &(elm)->field.le_next;             \
    }                                                                        \
    (head)->lh_first = (elm);                                                \
    (elm)->field.le_prev = &(head)->lh_first;                                \
} while (0)

#define QLIST_INSERT_AFTER(listelm, elm, field) do {                         \
    if (((elm)->field.le_next = (listelm)->field.le_next) != NULL) {         \
        (listelm)->field.le_next->field.le_prev = &(elm)->field.le_next;     \
    }                                                                        \
    (listelm)->field.le_next = (elm);                                        \
    (elm)->field.le_prev = &(listelm)->field.le_next;                        \
} while (0)

#define QLIST_INSERT_BEFORE(listelm, elm, field) do {                        \
    (elm)->field.le_prev = (listelm)->field.le_prev;                         \
    (elm)->field.le_next = (listelm);                                        \
    *(listelm)->field.le_prev = (elm);                                       \
    (listelm)->field.le_prev = &(elm)->field.le_next;                        \
} while (0)

#define QLIST_REMOVE(elm, field) do {                                        \
    if ((elm)->field.le_next != NULL) {                                      \
        (elm)->field.le_next->field.le_prev = (elm)->field.le_prev;          \
    }                                                                        \
    *(elm)->field.le_prev = (elm)->field.le_next;                            \
    (elm)->field.le_next = NULL;                                             \
    (elm)->field.le_prev = NULL;                                             \
} while (0)

/* Remove if inserted; safe to call twice. */
#define QLIST_SAFE_REMOVE(elm, field) do {                                   \
    if ((elm)->field.le_prev != NULL) {                                      \
        QLIST_REMOVE(elm, field);                                            \
    }                                                                        \
} while (0)

#define QLIST_FOREACH(var, head, field)                                      \
    for ((var) = (head)->lh_first; (var); (var) = (var)->field.le_next)

#define QLIST_FOREACH_SAFE(var, head, field, next_var)                       \
    for ((var) = (head)->lh_first;                                           \
         (var) && ((next_var) = (var)->field.le_next, 1);                    \
         (var) = (next_var))

/* ---- QSLIST: singly linked list ---- */

#define QSLIST_HEAD(name, type) \
    struct name { struct type *slh_first; }
#define QSLIST_HEAD_INITIALIZER(head) { NULL }
#define QSLIST_ENTRY(type) \
    struct { struct type *sle_next; }

#define QSLIST_INIT(head) ((head)->slh_first = NULL)
#define QSLIST_EMPTY(head) ((head)->slh_first == NULL)
#define QSLIST_FIRST(head) ((head)->slh_first)
#define QSLIST_NEXT(elm, field) ((elm)->field.sle_next)

#define QSLIST_INSERT_HEAD(head, elm, field) do {                            \
    (elm)->field.sle_next = (head)->slh_first;                               \
    (head)->slh_first = (elm);                                               \
} while (0)

#define QSLIST_INSERT_AFTER(slistelm, elm, field) do {                       \
    (elm)->field.sle_next = (slistelm)->field.sle_next;                      \
    (slistelm)->field.sle_next = (elm);                                      \
} while (0)

/* Lock-free push; safe with concurrent pushers and one QSLIST_MOVE_ATOMIC. */
#define QSLIST_INSERT_HEAD_ATOMIC(head, elm, field) do {                     \
    typeof(elm) qsl_old_ = __atomic_load_n(&(head)->slh_first,               \
                                            __ATOMIC_RELAXED);               \
    do {                                                                     \
        (elm)->field.sle_next = qsl_old_;                                    \
    } while (!__atomic_compare_exchange_n(&(head)->slh_first, &qsl_old_,     \
                                          (elm), true, __ATOMIC_SEQ_CST,     \
                                          __ATOMIC_RELAXED));                \
} while (0)

/* Atomically take the whole list from src into dest. */
#define QSLIST_MOVE_ATOMIC(dest, src) do {                                   \
    (dest)->slh_first = __atomic_exchange_n(&(src)->slh_first, NULL,         \
                                            __ATOMIC_SEQ_CST);               \
} while (0)

#define QSLIST_REMOVE_HEAD(head, field) do {                                 \
    typeof((head)->slh_first) qsl_elm_ = (head)->slh_first;                  \
    (head)->slh_first = qsl_elm_->field.sle_next;                            \
    qsl_elm_->field.sle_next = NULL;                                         \
} while (0)

#define QSLIST_REMOVE_AFTER(slistelm, field) do {                            \
    typeof(slistelm) qsl_next_ = (slistelm)->field.sle_next;                 \
    (slistelm)->field.sle_next = qsl_next_->field.sle_next;                  \
    qsl_next_->field.sle_next = NULL;                                        \
} while (0)

#define QSLIST_REMOVE(head, elm, type, field) do {                           \
    if ((head)->slh_first == (elm)) {                                        \
        QSLIST_REMOVE_HEAD((head), field);                                   \
    } else {                                                                 \
        struct type *qsl_cur_ = (head)->slh_first;                           \
        while (qsl_cur_->field.sle_next != (elm)) {                          \
            qsl_cur_ = qsl_cur_->field.sle_next;                             \
        }                                                                    \
        QSLIST_REMOVE_AFTER(qsl_cur_, field);                                \
    }                                                                        \
} while (0)

#define QSLIST_FOREACH(var, head, field)                                     \
    for ((var) = (head)->slh_first; (var); (var) = (var)->field.sle_next)

#define QSLIST_FOREACH_SAFE(var, head, field, next_var)                      \
    for ((var) = (head)->slh_first;                                          \
         (var) && ((next_var) = (var)->field.sle_next, 1);                   \
         (var) = (next_var))

/* ---- QSIMPLEQ: singly linked queue with O(1) tail insertion ---- */

#define QSIMPLEQ_HEAD(name, type) \
    struct name { struct type *sqh_first; struct type **sqh_last; }
#define QSIMPLEQ_HEAD_INITIALIZER(head) { NULL, &(head).sqh_first }
#define QSIMPLEQ_ENTRY(type) \
    struct { struct type *sqe_next; }

#define QSIMPLEQ_INIT(head) do {                                             \
    (head)->sqh_first = NULL;                                                \
    (head)->sqh_last = &(head)->sqh_first;                                   \
} while (0)
#define QSIMPLEQ_EMPTY(head) ((head)->sqh_first == NULL)
#define QSIMPLEQ_FIRST(head) ((head)->sqh_first)
#define QSIMPLEQ_NEXT(elm, field) ((elm)->field.sqe_next)

#define QSIMPLEQ_INSERT_HEAD(head, elm, field) do {                          \
    if (((elm)->field.sqe_next = (head)->sqh_first) == NULL) {               \
        (head)->sqh_last = &(elm)->field.sqe_next;                           \
    }                                                                        \
    (head)->sqh_first = (elm);                                               \
} while (0)

#define QSIMPLEQ_INSERT_TAIL(head, elm, field) do {                          \
    (elm)->field.sqe_next = NULL;                                            \
    *(head)->sqh_last = (elm);                                               \
    (head)->sqh_last = &(elm)->field.sqe_next;                               \
} while (0)

#define QSIMPLEQ_INSERT_AFTER(head, listelm, elm, field) do {                \
    if (((elm)->field.sqe_next = (listelm)->field.sqe_next) == NULL) {       \
        (head)->sqh_last = &(elm)->field.sqe_next;                           \
    }                                                                        \
    (listelm)->field.sqe_next = (elm);                                       \
} while (0)

#define QSIMPLEQ_REMOVE_HEAD(head, field) do {                               \
    typeof((head)->sqh_first) sq_elm_ = (head)->sqh_first;                   \
    if (((head)->sqh_first = sq_elm_->field.sqe_next) == NULL) {             \
        (head)->sqh_last = &(head)->sqh_first;                               \
    }                                                                        \
    sq_elm_->field.sqe_next = NULL;                                          \
} while (0)

#define QSIMPLEQ_REMOVE(head, elm, type, field) do {                         \
    if ((head)->sqh_first == (elm)) {                                        \
        QSIMPLEQ_REMOVE_HEAD((head), field);                                 \
    } else {                                                                 \
        struct type *sq_cur_ = (head)->sqh_first;                            \
        while (sq_cur_->field.sqe_next != (elm)) {                           \
            sq_cur_ = sq_cur_->field.sqe_next;                               \
        }                                                                    \
        if ((sq_cur_->field.sqe_next =                                       \
             sq_cur_->field.sqe_next->field.sqe_next) == NULL) {             \
            (head)->sqh_last = &sq_cur_->field.sqe_next;                     \
        }                                                                    \
        (elm)->field.sqe_next = NULL;                                        \
    }                                                                        \
} while (0)

/* Append all of head2 to head1, leaving head2 empty. */
#define QSIMPLEQ_CONCAT(head1, head2) do {                                   \
    if (!QSIMPLEQ_EMPTY((head2))) {                                          \
        *(head1)->sqh_last = (head2)->sqh_first;                             \
        (head1)->sqh_last = (head2)->sqh_last;                               \
        QSIMPLEQ_INIT((head2));                                              \
    }                                                                        \
} while (0)

/* Prepend all of head2 to head1, leaving head2 empty. */
#define QSIMPLEQ_PREPEND(head1, head2) do {                                  \
    if (!QSIMPLEQ_EMPTY((head2))) {                                          \
        *(head2)->sqh_last = (head1)->sqh_first;                             \
        if (QSIMPLEQ_EMPTY((head1))) {                                       \
            (head1)->sqh_last = (head2)->sqh_last;                           \
        }                                                                    \
        (head1)->sqh_first = (head2)->sqh_first;                             \
        QSIMPLEQ_INIT((head2));                                              \
    }                                                                        \
} while (0)

#define QSIMPLEQ_FOREACH(var, head, field)                                   \
    for ((var) = (head)->sqh_first; (var); (var) = (var)->field.sqe_next)

#define QSIMPLEQ_FOREACH_SAFE(var, head, field, next_var)                    \
    for ((var) = (head)->sqh_first;                                          \
         (var) && ((next_var) = (var)->field.sqe_next, 1);                   \
         (var) = (next_var))

/*
 * ---- QTAILQ: doubly linked tail queue ----
 *
 * Every link (in the head and in each element) has the same layout, so the
 * last element and the previous element can be found without knowing the
 * element type: tql_prev of a link points at the previous link.
 */
typedef struct QTailQLink {
    void *tql_next;
    struct QTailQLink *tql_prev;
} QTailQLink;

#define QTAILQ_HEAD(name, type)                                              \
    union name {                                                             \
        struct type *tqh_first;                                              \
        QTailQLink tqh_circ; /* tql_prev points at the last link */          \
    }
#define QTAILQ_HEAD_INITIALIZER(head) { .tqh_circ = { NULL, &(head).tqh_circ } }
#define QTAILQ_ENTRY(type)                                                   \
    union {                                                                  \
        struct type *tqe_next;                                               \
        QTailQLink tqe_circ;                                                 \
    }

#define QTAILQ_INIT(head) do {                                               \
    (head)->tqh_first = NULL;                                                \
    (head)->tqh_circ.tql_prev = &(head)->tqh_circ;                           \
} while (0)
#define QTAILQ_EMPTY(head) ((head)->tqh_first == NULL)
#define QTAILQ_FIRST(head) ((head)->tqh_first)
#define QTAILQ_NEXT(elm, field) ((elm)->field.tqe_next)
#define QTAILQ_IN_USE(elm, field) ((elm)->field.tqe_circ.tql_prev != NULL)

#define QTAILQ_LAST(head)                                                    \
    ((typeof((head)->tqh_first))(head)->tqh_circ.tql_prev->tql_prev->tql_next)
#define QTAILQ_PREV(elm, field)                                              \
    ((typeof(elm))(elm)->field.tqe_circ.tql_prev->tql_prev->tql_next)

#define QTAILQ_INSERT_HEAD(head, elm, field) do {                            \
    if (((elm)->field.tqe_next = (head)->tqh_first) != NULL) {               \
        (head)->tqh_first->field.tqe_circ.tql_prev = &(elm)->field.tqe_circ; \
    } else {                                                                 \
        (head)->tqh_circ.tql_prev = &(elm)->field.tqe_circ;                  \
    }                                                                        \
    (head)->tqh_first = (elm);                                               \
    (elm)->field.tqe_circ.tql_prev = &(head)->tqh_circ;                      \
} while (0)

#define QTAILQ_INSERT_TAIL(head, elm, field) do {                            \
    (elm)->field.tqe_next = NULL;                                            \
    (elm)->field.tqe_circ.tql_prev = (head)->tqh_circ.tql_prev;              \
    (head)->tqh_circ.tql_prev->tql_next = (elm);                             \
    (head)->tqh_circ.tql_prev = &(elm)->field.tqe_circ;                      \
} while (0)

#define QTAILQ_INSERT_AFTER(head, listelm, elm, field) do {                  \
    if (((elm)->field.tqe_next = (listelm)->field.tqe_next) != NULL) {       \
        (elm)->field.tqe_next->field.tqe_circ.tql_prev =                     \
            &(elm)->field.tqe_circ;                                          \
    } else {                                                                 \
        (head)->tqh_circ.tql_prev = &(elm)->field.tqe_circ;                  \
    }                                                                        \
    (listelm)->field.tqe_next = (elm);                                       \
    (elm)->field.tqe_circ.tql_prev = &(listelm)->field.tqe_circ;             \
} while (0)

#define QTAILQ_INSERT_BEFORE(listelm, elm, field) do {                       \
    (elm)->field.tqe_circ.tql_prev = (listelm)->field.tqe_circ.tql_prev;     \
    (elm)->field.tqe_next = (listelm);                                       \
    (listelm)->field.tqe_circ.tql_prev->tql_next = (elm);                    \
    (listelm)->field.tqe_circ.tql_prev = &(elm)->field.tqe_circ;             \
} while (0)

#define QTAILQ_REMOVE(head, elm, field) do {                                 \
    if ((elm)->field.tqe_next != NULL) {                                     \
        (elm)->field.tqe_next->field.tqe_circ.tql_prev =                     \
            (elm)->field.tqe_circ.tql_prev;                                  \
    } else {                                                                 \
        (head)->tqh_circ.tql_prev = (elm)->field.tqe_circ.tql_prev;          \
    }                                                                        \
    (elm)->field.tqe_circ.tql_prev->tql_next = (elm)->field.tqe_next;        \
    (elm)->field.tqe_circ.tql_prev = NULL;                                   \
    (elm)->field.tqe_circ.tql_next = NULL;                                   \
} while (0)

#define QTAILQ_FOREACH(var, head, field)                                     \
    for ((var) = (head)->tqh_first; (var); (var) = (var)->field.tqe_next)

#define QTAILQ_FOREACH_SAFE(var, head, field, next_var)                      \
    for ((var) = (head)->tqh_first;                                          \
         (var) && ((next_var) = (var)->field.tqe_next, 1);                   \
         (var) = (next_var))

#define QTAILQ_FOREACH_REVERSE(var, head, field)                             \
    for ((var) = QTAILQ_LAST(head); (var); (var) = QTAILQ_PREV(var, field))

#endif

/*
 * Synchronous wrappers around coroutine functions (block-core.md §3.6),
 * and the coroutine-only internals shared by io.c and block-backend.c.
 *
 * CO_WRAPPER(name, co_name, ctx, (type, arg), ...) defines
 *
 *     int name(type arg, ...)
 *
 * which calls co_name(arg, ...) directly when it already runs in a
 * coroutine.  Otherwise it packs the arguments, runs co_name in a new
 * coroutine entered in AioContext ctx (an expression over the arguments)
 * and polls ctx until that coroutine has finished.  There is one I/O path:
 * the synchronous API is only this.
 */
#ifndef BLOCK_COROUTINES_H
#define BLOCK_COROUTINES_H

#include "block/block_int.h"

/* ---- Coroutine-only functions without a public declaration ---- */

/*
 * Block status of bs down to base (included with include_base); *depth is
 * the number of layers asked.  See block-core.md §2.11.
 */
int coroutine_fn
bdrv_co_common_block_status_above(BlockDriverState *bs,
                                  BlockDriverState *base,
                                  bool include_base, bool want_zero,
                                  int64_t offset, int64_t bytes,
                                  int64_t *pnum, int64_t *map,
                                  BlockDriverState **file, int *depth);
int bdrv_common_block_status_above(BlockDriverState *bs,
                                   BlockDriverState *base,
                                   bool include_base, bool want_zero,
                                   int64_t offset, int64_t bytes,
                                   int64_t *pnum, int64_t *map,
                                   BlockDriverState **file, int *depth);

int bdrv_readv_vmstate(BlockDriverState *bs, QEMUIOVector *qiov, int64_t pos);
int bdrv_writev_vmstate(BlockDriverState *bs, QEMUIOVector *qiov,
                        int64_t pos);

/* ---- The wrapper machinery ---- */

/* What the polling caller and the coroutine share. */
typedef struct BdrvPollCo {
    bool in_progress;
    int ret;
} BdrvPollCo;

/* Run entry(opaque) in a new coroutine in ctx and wait until it is done. */
static inline void bdrv_poll_co(BdrvPollCo *p, AioContext *ctx,
                                CoroutineEntry *entry, void *opaque)
{
    p->in_progress = true;
    aio_co_enter(ctx, qemu_coroutine_create(entry, opaque));
    AIO_WAIT_WHILE(ctx, qatomic_load_acquire(&p->in_progress));
}

/* Called by the coroutine as its last action. */
static inline void bdrv_poll_co_done(BdrvPollCo *p, int ret)
{
    p->ret = ret;
    qatomic_store_release(&p->in_progress, false);
    aio_wait_kick();
}

/*
 * Argument lists are written as parenthesised (type, name) pairs; these
 * apply a macro to each pair, juxtaposed (CW_EACH) or comma-separated
 * (CW_LIST).  Up to ten arguments.
 */
#define CW_NARGS(...) CW_NARGS_(__VA_ARGS__, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define CW_NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, n, ...) n
#define CW_CAT(a, b) CW_CAT_(a, b)
#define CW_CAT_(a, b) a##b

#define CW_EACH(m, ...) CW_CAT(CW_EACH_, CW_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define CW_EACH_1(m, p) m p
#define CW_EACH_2(m, p, ...) m p CW_EACH_1(m, __VA_ARGS__)
#define CW_EACH_3(m, p, ...) m p CW_EACH_2(m, __VA_ARGS__)
#define CW_EACH_4(m, p, ...) m p CW_EACH_3(m, __VA_ARGS__)
#define CW_EACH_5(m, p, ...) m p CW_EACH_4(m, __VA_ARGS__)
#define CW_EACH_6(m, p, ...) m p CW_EACH_5(m, __VA_ARGS__)
#define CW_EACH_7(m, p, ...) m p CW_EACH_6(m, __VA_ARGS__)
#define CW_EACH_8(m, p, ...) m p CW_EACH_7(m, __VA_ARGS__)
#define CW_EACH_9(m, p, ...) m p CW_EACH_8(m, __VA_ARGS__)
#define CW_EACH_10(m, p, ...) m p CW_EACH_9(m, __VA_ARGS__)

#define CW_LIST(m, ...) CW_CAT(CW_LIST_, CW_NARGS(__VA_ARGS__))(m, __VA_ARGS__)
#define CW_LIST_1(m, p) m p
#define CW_LIST_2(m, p, ...) m p, CW_LIST_1(m, __VA_ARGS__)
#define CW_LIST_3(m, p, ...) m p, CW_LIST_2(m, __VA_ARGS__)
#define CW_LIST_4(m, p, ...) m p, CW_LIST_3(m, __VA_ARGS__)
#define CW_LIST_5(m, p, ...) m p, CW_LIST_4(m, __VA_ARGS__)
#define CW_LIST_6(m, p, ...) m p, CW_LIST_5(m, __VA_ARGS__)
#define CW_LIST_7(m, p, ...) m p, CW_LIST_6(m, __VA_ARGS__)
#define CW_LIST_8(m, p, ...) m p, CW_LIST_7(m, __VA_ARGS__)
#define CW_LIST_9(m, p, ...) m p, CW_LIST_8(m, __VA_ARGS__)
#define CW_LIST_10(m, p, ...) m p, CW_LIST_9(m, __VA_ARGS__)

#define CW_PARAM_(type, name) type name
#define CW_FIELD_(type, name) type name;
#define CW_SAVE_(type, name) args_.name = name;
#define CW_ARG_(type, name) args_->name
#define CW_NAME_(type, name) name

#define CO_WRAPPER(name, co_name, ctx, ...)                                   \
    typedef struct name##_CoArgs {                                            \
        BdrvPollCo poll_;                                                     \
        CW_EACH(CW_FIELD_, __VA_ARGS__)                                       \
    } name##_CoArgs;                                                          \
                                                                              \
    static void coroutine_fn name##_co_entry(void *opaque)                    \
    {                                                                         \
        name##_CoArgs *args_ = opaque;                                        \
        bdrv_poll_co_done(&args_->poll_,                                      \
                          co_name(CW_LIST(CW_ARG_, __VA_ARGS__)));            \
    }                                                                         \
                                                                              \
    int name(CW_LIST(CW_PARAM_, __VA_ARGS__))                                 \
    {                                                                         \
        name##_CoArgs args_;                                                  \
                                                                              \
        if (qemu_in_coroutine()) {                                            \
            return co_name(CW_LIST(CW_NAME_, __VA_ARGS__));                   \
        }                                                                     \
        CW_EACH(CW_SAVE_, __VA_ARGS__)                                        \
        bdrv_poll_co(&args_.poll_, (ctx), name##_co_entry, &args_);           \
        return args_.poll_.ret;                                               \
    }

#endif

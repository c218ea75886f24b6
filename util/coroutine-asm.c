/*
 * Coroutine context switch in hand-written assembly (x86-64 and aarch64).
 *
 * A switch pushes the callee-saved registers on the current stack, stores
 * the stack pointer in the outgoing coroutine, loads the incoming one's
 * stack pointer, pops its registers and returns into it.  The C compiler
 * already assumes that a call clobbers every other register, and nothing
 * here touches the signal mask, so a switch costs a couple of dozen
 * instructions and no system call.  Floating-point control registers
 * (MXCSR, x87 control word, FPCR) are not switched: the block layer never
 * changes them.
 *
 * Without AddressSanitizer, qemu_coroutine_switch() itself is assembly: it
 * records the incoming coroutine as the thread's current one and falls
 * into qemu_co_swap.  With ASan a C version wraps qemu_co_swap with the
 * fiber annotations.
 */
#include "qemu/osdep.h"

#include "qemu/atomic.h"
#include "qemu/coroutine_int.h"

typedef struct {
    void *sp;                   /* saved stack pointer while switched out */
    Coroutine base;             /* the assembly finds sp just before base */
    CoroutineStack stack;
} CoroutineAsm;

QEMU_BUILD_BUG_ON(offsetof(CoroutineAsm, base) != sizeof(void *));

/*
 * The running coroutine of this thread, and the pseudo-coroutine standing
 * for the thread's own stack.  Only functions that do not span a switch
 * touch them directly: code that runs after a switch may be in another
 * thread and must not reuse a thread-local address computed before it.
 * The assembly refers to `current` by its fixed symbol name.
 */
static __thread Coroutine *current __asm__("qemu_co_current")
    __attribute__((used));
static __thread CoroutineAsm leader;

/*
 * qemu_co_swap(save_sp, new_sp, value): save the callee-saved registers and
 * the stack pointer into *save_sp, switch to new_sp and restore from there.
 * Returns `value` as passed by whoever switches back to us.
 *
 * qemu_co_start: where a new coroutine's first switch returns to.  The
 * initial frame built by qemu_coroutine_new() puts the coroutine pointer and
 * the trampoline address in callee-saved registers.
 */
void *qemu_co_swap(void **save_sp, void *new_sp, void *value)
    __attribute__((visibility("hidden")));
void qemu_co_start(void) __attribute__((visibility("hidden")));

#if defined(__x86_64__)

/* Saved frame, from the stack pointer upwards. */
enum {
    FRAME_R15, FRAME_R14, FRAME_R13, FRAME_R12, FRAME_RBX, FRAME_RBP,
    FRAME_RET, FRAME_WORDS
};
#define FRAME_ARG FRAME_R12
#define FRAME_FUNC FRAME_R13

#ifdef CONFIG_ASAN
#define SWITCH_ENTRY ""
#else
#define SWITCH_ENTRY                                                        \
    ".globl qemu_coroutine_switch\n"                                      \
    ".type qemu_coroutine_switch, @function\n"                            \
    /* rdi = from, rsi = to (Coroutine *), edx = action */                 \
    "qemu_coroutine_switch:\n"                                            \
    "    movq qemu_co_current@gottpoff(%rip), %rax\n"                     \
    "    movq %rsi, %fs:(%rax)\n"                                         \
    "    leaq -8(%rdi), %rdi\n"                                           \
    "    movq -8(%rsi), %rsi\n"                                           \
    "    movl %edx, %edx\n"                                               \
    /* and on into qemu_co_swap */                                         \
    ".size qemu_coroutine_switch, .-qemu_coroutine_switch\n"
#endif

__asm__(
    ".text\n"
    ".p2align 4\n"
    SWITCH_ENTRY
    ".globl qemu_co_swap\n"
    ".hidden qemu_co_swap\n"
    ".type qemu_co_swap, @function\n"
    "qemu_co_swap:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    movq %rdx, %rax\n"
    /*
     * Not "ret": the return-address predictor holds the other stack's
     * return addresses, so a ret here would always be mispredicted.  An
     * indirect jump goes through the branch target predictor instead.
     */
    "    popq %rcx\n"
    "    jmpq *%rcx\n"
    ".size qemu_co_swap, .-qemu_co_swap\n"
    "\n"
    ".p2align 4\n"
    ".globl qemu_co_start\n"
    ".hidden qemu_co_start\n"
    ".type qemu_co_start, @function\n"
    "qemu_co_start:\n"
    /*
     * A jump, not a call: the trampoline sees the zero return address that
     * sits above us and a stack aligned as right after a call.
     */
    "    movq %r12, %rdi\n"
    "    jmpq *%r13\n"
    ".size qemu_co_start, .-qemu_co_start\n"
);

#elif defined(__aarch64__)

/* Saved frame, from the stack pointer upwards (in 8-byte words). */
enum {
    FRAME_X19, FRAME_X20, FRAME_X21, FRAME_X22, FRAME_X23, FRAME_X24,
    FRAME_X25, FRAME_X26, FRAME_X27, FRAME_X28, FRAME_X29, FRAME_RET,
    FRAME_D8, FRAME_D9, FRAME_D10, FRAME_D11, FRAME_D12, FRAME_D13,
    FRAME_D14, FRAME_D15, FRAME_WORDS
};
#define FRAME_ARG FRAME_X19
#define FRAME_FUNC FRAME_X20

#ifdef CONFIG_ASAN
#define SWITCH_ENTRY ""
#else
#define SWITCH_ENTRY                                                        \
    ".globl qemu_coroutine_switch\n"                                      \
    ".type qemu_coroutine_switch, %function\n"                            \
    /* x0 = from, x1 = to (Coroutine *), w2 = action */                    \
    "qemu_coroutine_switch:\n"                                            \
    "    mrs x9, tpidr_el0\n"                                             \
    "    adrp x10, :gottprel:qemu_co_current\n"                           \
    "    ldr x10, [x10, #:gottprel_lo12:qemu_co_current]\n"               \
    "    str x1, [x9, x10]\n"                                             \
    "    sub x0, x0, #8\n"                                                \
    "    ldur x1, [x1, #-8]\n"                                            \
    "    mov w2, w2\n"                                                    \
    /* and on into qemu_co_swap */                                         \
    ".size qemu_coroutine_switch, .-qemu_coroutine_switch\n"
#endif

__asm__(
    ".text\n"
    ".p2align 4\n"
    SWITCH_ENTRY
    ".globl qemu_co_swap\n"
    ".hidden qemu_co_swap\n"
    ".type qemu_co_swap, %function\n"
    "qemu_co_swap:\n"
    "    sub sp, sp, #160\n"
    "    stp x19, x20, [sp, #0]\n"
    "    stp x21, x22, [sp, #16]\n"
    "    stp x23, x24, [sp, #32]\n"
    "    stp x25, x26, [sp, #48]\n"
    "    stp x27, x28, [sp, #64]\n"
    "    stp x29, x30, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    mov x3, sp\n"
    "    str x3, [x0]\n"
    "    mov sp, x1\n"
    "    ldp x19, x20, [sp, #0]\n"
    "    ldp x21, x22, [sp, #16]\n"
    "    ldp x23, x24, [sp, #32]\n"
    "    ldp x25, x26, [sp, #48]\n"
    "    ldp x27, x28, [sp, #64]\n"
    "    ldp x29, x30, [sp, #80]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d14, d15, [sp, #144]\n"
    "    add sp, sp, #160\n"
    "    mov x0, x2\n"
    "    ret\n"
    ".size qemu_co_swap, .-qemu_co_swap\n"
    "\n"
    ".p2align 4\n"
    ".globl qemu_co_start\n"
    ".hidden qemu_co_start\n"
    ".type qemu_co_start, %function\n"
    "qemu_co_start:\n"
    "    mov x0, x19\n"
    "    blr x20\n"
    "    brk #0\n"
    ".size qemu_co_start, .-qemu_co_start\n"
);

#else
#error "coroutine_backend=asm supports x86-64 and aarch64 only; use ucontext"
#endif

static QEMU_NOINLINE G_GNUC_UNUSED CoroutineStack *leader_stack(void)
{
    barrier();
    return &leader.stack;
}

static void G_NORETURN_FN COROUTINE_NO_SANITIZE
coroutine_trampoline(CoroutineAsm *self)
{
    Coroutine *co = &self->base;

    coroutine_fiber_finish(NULL, leader_stack);

    /* Terminated coroutines are pooled and reused from here. */
    for (;;) {
        co->entry(co->entry_arg);
        qemu_coroutine_switch(co, co->caller, COROUTINE_TERMINATE);
    }
}

Coroutine *qemu_coroutine_new(void)
{
    CoroutineAsm *co = g_new0(CoroutineAsm, 1);
    uintptr_t *frame;

    qemu_coroutine_stack_alloc(&co->stack);

    /*
     * Build the frame that qemu_co_swap() pops on the first switch.  Its
     * return slot sends the coroutine to qemu_co_start.  On x86-64 a zero
     * word above it ends backtraces and aligns the stack as after a call.
     */
    frame = (uintptr_t *)((char *)co->stack.bottom + co->stack.size);
#if defined(__x86_64__)
    *--frame = 0;
#endif
    frame -= FRAME_WORDS;
    memset(frame, 0, FRAME_WORDS * sizeof(*frame));
    frame[FRAME_ARG] = (uintptr_t)co;
    frame[FRAME_FUNC] = (uintptr_t)coroutine_trampoline;
    frame[FRAME_RET] = (uintptr_t)qemu_co_start;
    co->sp = frame;

    return &co->base;
}

void qemu_coroutine_delete(Coroutine *co_)
{
    CoroutineAsm *co = container_of(co_, CoroutineAsm, base);

    qemu_coroutine_stack_free(&co->stack);
    g_free(co);
}

#ifdef CONFIG_ASAN
/* Not inlined: callers must re-read thread-local state after it returns. */
CoroutineAction QEMU_NOINLINE COROUTINE_NO_SANITIZE
qemu_coroutine_switch(Coroutine *from_, Coroutine *to_, CoroutineAction action)
{
    CoroutineAsm *from = container_of(from_, CoroutineAsm, base);
    CoroutineAsm *to = container_of(to_, CoroutineAsm, base);
    void *fake_stack_save = NULL;
    void *ret;

    current = to_;
    coroutine_fiber_start(action == COROUTINE_TERMINATE ?
                          NULL : &fake_stack_save, &to->stack);
    ret = qemu_co_swap(&from->sp, to->sp, (void *)(uintptr_t)action);
    coroutine_fiber_finish(fake_stack_save, leader_stack);

    return (CoroutineAction)(uintptr_t)ret;
}
#endif

Coroutine *qemu_coroutine_self(void)
{
    if (!current) {
        current = &leader.base;
    }
    return current;
}

bool qemu_in_coroutine(void)
{
    return current && current->caller;
}

/*
 * Error reporting, with QEMU's rules:
 *  - a function that can fail takes Error **errp as its last argument,
 *    sets at most one error and also signals failure in its return value;
 *  - errp may be NULL (ignore), &error_abort (abort on error) or
 *    &error_fatal (print and exit(1));
 *  - messages are one clause, no trailing period or newline; hints are
 *    added with error_append_hint; callers add context with error_prepend.
 */
#ifndef QEMU_ERROR_H
#define QEMU_ERROR_H

typedef enum ErrorClass {
    ERROR_CLASS_GENERIC_ERROR = 0,
    ERROR_CLASS_COMMAND_NOT_FOUND,
    ERROR_CLASS_DEVICE_NOT_ACTIVE,
    ERROR_CLASS_DEVICE_NOT_FOUND,
} ErrorClass;

extern Error *error_abort;
extern Error *error_fatal;

const char *error_get_pretty(const Error *err);
ErrorClass error_get_class(const Error *err);

void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
void error_setg_errno_internal(Error **errp, const char *src, int line,
                               const char *func, int os_errno,
                               const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);
void error_set_internal(Error **errp, const char *src, int line,
                        const char *func, ErrorClass err_class,
                        const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

#define error_setg(errp, fmt, ...) \
    error_setg_internal((errp), __FILE__, __LINE__, __func__, \
                        (fmt), ## __VA_ARGS__)
/* Appends ": <strerror(os_errno)>" to the message. */
#define error_setg_errno(errp, os_errno, fmt, ...) \
    error_setg_errno_internal((errp), __FILE__, __LINE__, __func__, \
                              (os_errno), (fmt), ## __VA_ARGS__)
#define error_set(errp, err_class, fmt, ...) \
    error_set_internal((errp), __FILE__, __LINE__, __func__, \
                       (err_class), (fmt), ## __VA_ARGS__)

/* Prefix the message of *errp (no-op if errp is NULL or no error). */
void error_prepend(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
void error_vprepend(Error *const *errp, const char *fmt, va_list ap)
    G_GNUC_PRINTF(2, 0);

/* Add a hint, printed after the message on its own line(s). */
void error_append_hint(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/* Move local_err into dst_errp (freeing it if dst_errp already has one). */
void error_propagate(Error **dst_errp, Error *local_err);
void error_propagate_prepend(Error **dst_errp, Error *local_err,
                             const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

Error *error_copy(const Error *err);
void error_free(Error *err);
void error_free_or_abort(Error **errp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Error, error_free)

/*
 * ERRP_GUARD(): lets a function dereference errp (to test *errp) even when
 * the caller passed NULL or &error_fatal, by routing through a local Error
 * that is propagated on return.
 */
typedef struct {
    Error *local_err;
    Error **errp;
} ErrorPropagator;

static inline void error_propagator_cleanup(ErrorPropagator *prop)
{
    error_propagate(prop->errp, prop->local_err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ErrorPropagator, error_propagator_cleanup)

#define ERRP_GUARD()                                                     \
    g_auto(ErrorPropagator) errp_guard_ = { .errp = errp };             \
    do {                                                                 \
        if (!errp || errp == &error_fatal) {                             \
            errp = &errp_guard_.local_err;                               \
        }                                                                \
    } while (0)

/* ---- Reporting (to stderr, prefixed with "<program>: ") ---- */

/* Remember the program name printed as prefix (basename of argv0). */
void error_init(const char *argv0);
const char *error_get_progname(void);

void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void info_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void error_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);
void warn_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/* Print err (message and hint) and free it. */
void error_report_err(Error *err);
void warn_report_err(Error *err);
void error_reportf_err(Error *err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Plain printing to stderr, without prefix. */
void error_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void error_vprintf(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

#endif

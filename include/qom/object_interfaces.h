/*
 * User-creatable objects (--object) for the tools.
 *
 * QEMU 7.2's tools accept "--object TYPE,id=ID,prop=value,..." (or a JSON
 * object) and create QOM objects from it.  qblock has no QOM; it knows the
 * one type its tools need, "secret" (see crypto/secret.h), and rejects
 * every other type with QEMU's message.
 */
#ifndef QOM_OBJECT_INTERFACES_H
#define QOM_OBJECT_INTERFACES_H

/*
 * Create the object described by cmdline.  Errors are reported with
 * error_report() and end the program with status 1; "help" requests
 * ("--object help", "--object secret,help") print the list asked for and
 * end it with status 0, as QEMU's do.
 */
void user_creatable_process_cmdline(const char *cmdline);

/* Delete every object created so far (at exit). */
void user_creatable_cleanup(void);

#endif

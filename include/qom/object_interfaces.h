/*
 * --object for the tools: user-creatable objects given on the command
 * line.  qblock has one type, "secret" (passwords and keys for encrypted
 * images, see crypto/secret.h); its syntax, defaults and messages are
 * QEMU 7.2's.  Other QEMU types are unknown here, as in a QEMU build
 * without them.
 */
#ifndef QOM_OBJECT_INTERFACES_H
#define QOM_OBJECT_INTERFACES_H

/*
 * Create the object described by "type,id=...,prop=value,...": on error
 * print it and exit(1); for "help" print the type list or the type's
 * properties and exit(0).
 */
void user_creatable_process_cmdline(const char *cmdline);

/* Delete every object created so far. */
void user_creatable_cleanup(void);

#endif

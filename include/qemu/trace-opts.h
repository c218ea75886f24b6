/*
 * The -T/--trace option of the tools.  qblock has no trace points, so
 * the option is parsed and checked exactly as QEMU 7.2 does (same syntax,
 * warnings and errors) but enables nothing.
 */
#ifndef QEMU_TRACE_OPTS_H
#define QEMU_TRACE_OPTS_H

/*
 * Handle "[[enable=]<pattern>][,events=<file>][,file=<file>]": warn about
 * event names that do not exist, read patterns from the events file,
 * print the (empty) event list and exit for "help".  Exits with status 1
 * on a malformed argument or an unreadable events file.
 */
void trace_opt_parse(const char *optarg);

#endif

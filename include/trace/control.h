/*
 * -T/--trace for the tools.  qblock defines no trace events, so this is
 * QEMU 7.2's option handling with an empty event list: names that match
 * no event get QEMU's warning, patterns match nothing silently, "help"
 * lists nothing, and file= creates the (empty) trace log.
 */
#ifndef TRACE_CONTROL_H
#define TRACE_CONTROL_H

/*
 * Parse one "[[enable=]<pattern>][,events=<file>][,file=<file>]"
 * argument.  Parse errors and unreadable events files end the program
 * with status 1, "help" with status 0.
 */
void trace_opt_parse(const char *optarg);

/*
 * Create the log file named by the last file= option, if any (exit 1 if
 * it cannot be created).  Call after option parsing.
 */
void trace_init_file(void);

#endif

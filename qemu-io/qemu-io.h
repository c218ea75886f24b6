/*
 * qemu-io's command table and dispatcher, shared by the program
 * (qemu-io.c: options, open/close/quit, the input loop) and the commands
 * (qemu-io-cmds.c).
 */
#ifndef QEMU_IO_H
#define QEMU_IO_H

#include "block/block-backend.h"

/*
 * A command gets the open BlockBackend (NULL if none and the command may
 * run without one) and its words, argv[0] being the name as typed.  It
 * returns 0 or a negative errno; any negative return makes qemu-io's exit
 * status 1.
 */
typedef int (*cfunc_t)(BlockBackend *blk, int argc, char **argv);

enum {
    CMD_FLAG_GLOBAL = 0x1,  /* help and quit: never need an image */
    CMD_NOFILE_OK   = 0x2,  /* may run without an image */
};

typedef struct cmdinfo {
    const char *name;
    const char *altname;    /* short alias (e.g. "r"), or NULL */
    cfunc_t cfunc;
    int argmin;             /* words after the name; -1: no limit */
    int argmax;
    int flags;              /* CMD_* */
    const char *args;       /* synopsis after the name, or NULL */
    const char *oneline;    /* one-line summary */
    const char *help;       /* extended help for "help <name>", or NULL */
    uint64_t perm;          /* BLK_PERM_* taken before running */
} cmdinfo_t;

/* -m: misalign I/O buffers by 16 bytes. */
extern bool qemuio_misalign;

/* Register the commands of qemu-io-cmds.c (once, at start-up). */
void qemuio_init_commands(void);
/* Add one more command; ci must stay valid. */
void qemuio_add_command(const cmdinfo_t *ci);
/* Tokenise and run one command line; 0 or a negative errno. */
int qemuio_command(BlockBackend *blk, const char *cmd);
/* "<name> <args> -- <oneline>" on stdout. */
void qemuio_command_usage(const cmdinfo_t *ci);
/* Call fn for each command name that starts with input. */
void qemuio_complete_command(const char *input,
                             void (*fn)(const char *cmd, void *opaque),
                             void *opaque);

#endif

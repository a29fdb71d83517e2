/*
 * cli_runner.h - the minilink command run as the real program
 * ($MINILINK_CLI, set by the Makefile's unit targets), its output and exit
 * status captured: what the suites that drive the command share.
 */
#ifndef CLI_RUNNER_H
#define CLI_RUNNER_H

#include <stdarg.h>
#include "unit_helpers.h"

/* What a run of the command left. */
typedef struct {
    int status;     /* exit status; -1 if it did not exit normally */
    char *out;      /* standard output, NUL-terminated (malloc'd) */
    char *err;      /* standard error, NUL-terminated (malloc'd) */
} ut_cli_result;

/*
 * Runs "$MINILINK_CLI --db db ARGS..." - the arguments in args, up to a
 * NULL - with input on its standard input (through a file in the scratch
 * directory; NULL: nothing), into *result, freeing what it held.  Returns
 * the exit status, or -1 if it could not be run.
 */
int ut_cli_run(const ut_scratch *scratch, const char *db, const char *input,
               va_list args, ut_cli_result *result);

/* ut_cli_run() with the arguments listed after result, NULL last. */
int ut_cli(const ut_scratch *scratch, const char *db, const char *input,
           ut_cli_result *result, ...);

/* Frees what a result holds. */
void ut_cli_result_free(ut_cli_result *result);

#endif /* CLI_RUNNER_H */

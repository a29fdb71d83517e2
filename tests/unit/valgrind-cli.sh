#!/bin/sh
# Runs the minilink CLI under valgrind for the CLI suites: any memory error
# or definite leak makes it exit 99, which no test expects.
exec valgrind -q --error-exitcode=99 --leak-check=full \
     --errors-for-leak-kinds=definite "$MINILINK_REAL_CLI" "$@"

// cmd_serve.c: `ktrdr serve`: the backend (placeholder until the
// embedding API lands).
#include "cli.h"

int
cmd_serve(cli_ctx *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error(c, "serve: not built yet");
}

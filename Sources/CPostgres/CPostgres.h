// libpq, PostgreSQL's C client library (libpq-dev): the gateway's shared store when it runs as
// several instances (docs/SCALING.md).
#include <libpq-fe.h>

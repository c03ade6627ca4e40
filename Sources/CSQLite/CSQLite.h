// SQLite's C API (libsqlite3-dev), for the gateway's durable store.
#include <sqlite3.h>

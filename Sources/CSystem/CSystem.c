#ifdef __linux__
#define _GNU_SOURCE
#include <netdb.h>
#include <sched.h>
#include "CSystem.h"

int netlab_accept4(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void netlab_set_thread_name(pthread_t thread, const char *name) {
    (void)pthread_setname_np(thread, name);
}

int netlab_available_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

int netlab_eai_nodata(void) { return EAI_NODATA; }
#endif

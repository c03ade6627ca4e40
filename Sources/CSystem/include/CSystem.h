// C that Swift cannot reach through its Glibc module: epoll and eventfd headers, and the GNU
// extensions (accept4, thread names, CPU affinity) that need _GNU_SOURCE, which the module is
// built without. TCPSocket's Linux platform files are the only users.
#ifndef NETLAB_CSYSTEM_H
#define NETLAB_CSYSTEM_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <pthread.h>

/// accept4(2): accept a connection that is already non-blocking and close-on-exec.
int netlab_accept4(int fd, struct sockaddr *address, socklen_t *length);
/// pthread_setname_np(3): name a thread (visible in top -H, gdb, perf).
void netlab_set_thread_name(pthread_t thread, const char *name);
/// sched_getaffinity(2): how many CPUs this process may run on (0 if unknown).
int netlab_available_cpus(void);
/// getaddrinfo's EAI_NODATA ("no address for this name"), a GNU extension.
int netlab_eai_nodata(void);
#endif

#endif

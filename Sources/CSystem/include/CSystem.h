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
#include <stdint.h>

/// accept4(2): accept a connection that is already non-blocking and close-on-exec.
int netlab_accept4(int fd, struct sockaddr *address, socklen_t *length);
/// pthread_setname_np(3): name a thread (visible in top -H, gdb, perf).
void netlab_set_thread_name(pthread_t thread, const char *name);
/// sched_getaffinity(2): how many CPUs this process may run on (0 if unknown).
int netlab_available_cpus(void);
/// getaddrinfo's EAI_NODATA ("no address for this name"), a GNU extension.
int netlab_eai_nodata(void);

#endif

#include <stdint.h>
#include <spawn.h>

/// The fields of Linux's `struct tcp_info` (linux/tcp.h) that NetLab shows, copied into a
/// struct of its own: glibc's netinet/tcp.h declares an older, shorter one, and the two
/// headers cannot be included together. Times are microseconds; rates bytes per second.
struct netlab_tcp_info {
    uint8_t state, ca_state, retransmits, probes, backoff;
    uint32_t rto, snd_mss, rcv_mss, unacked, lost, retrans, pmtu;
    uint32_t rtt, rttvar, snd_ssthresh, snd_cwnd, reordering, rcv_rtt, rcv_space, total_retrans, min_rtt;
    uint32_t segs_out, segs_in, snd_wnd;
    uint64_t pacing_rate, bytes_acked, bytes_received, delivery_rate, bytes_sent, bytes_retrans;
};
/// getsockopt(TCP_INFO) into `out` (zeroed first: an older kernel fills fewer fields).
/// Returns 0, or -1 with errno set.
int netlab_tcp_info(int fd, struct netlab_tcp_info *out);
/// setns(2) into the network namespace open at `fd`, for the calling thread only.
int netlab_enter_network_namespace(int fd);

/// A pipe whose ends are both close-on-exec from the start (pipe2). 0 or -1.
int netlab_pipe_cloexec(int fds[2]);
/// Makes a spawned child close every descriptor from `lowest` up before it runs (glibc 2.34+;
/// elsewhere nothing). 0 or an error number.
int netlab_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

/// A packet(7) socket (AF_PACKET, SOCK_RAW, every protocol) bound to interface `name` of the
/// calling thread's network namespace: whole Ethernet frames, both directions. Close-on-exec.
/// Returns the descriptor, or -1 with errno set; `index` gets the interface's number.
int netlab_packet_socket(const char *name, int *index);
/// One frame from a packet socket into `buffer` (at most `length` bytes of it). `kind` is 0 for a
/// frame sent to this interface's own address (PACKET_HOST), 1 for one this host sent
/// (PACKET_OUTGOING), 2 for any other (broadcast, multicast, another host's). Blocks up to
/// `timeout_ms` (-1: forever); returns the frame's whole length (more than `length` when it was
/// cut short), 0 on timeout, or -1 with errno set.
long netlab_packet_receive(int fd, void *buffer, unsigned long length, int *kind, int timeout_ms);
/// Sends one whole Ethernet frame out of interface `index`. Returns bytes sent or -1.
long netlab_packet_send(int fd, int index, const void *frame, unsigned long length);
/// Switches off the interface's transmit offloads (checksum, segmentation: ethtool -K IF tx off
/// tso off gso off gro off) in the calling thread's namespace, so every frame leaves whole and
/// with its TCP/UDP checksum computed — what a router reading frames with a packet socket needs.
/// Returns 0, or -1 with errno set by the first setting that failed.
int netlab_disable_offloads(const char *name);
/// The interface's hardware (MAC) address, 6 bytes, in the calling thread's namespace. 0 or -1.
int netlab_interface_mac(const char *name, unsigned char mac[6]);

#endif

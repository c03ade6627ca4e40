#ifdef __linux__
#define _GNU_SOURCE
#include <netdb.h>
#include <sched.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <unistd.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <fcntl.h>
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

int netlab_tcp_info(int fd, struct netlab_tcp_info *out) {
    struct tcp_info info;
    memset(&info, 0, sizeof info);
    memset(out, 0, sizeof *out);
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    out->state = info.tcpi_state;
    out->ca_state = info.tcpi_ca_state;
    out->retransmits = info.tcpi_retransmits;
    out->probes = info.tcpi_probes;
    out->backoff = info.tcpi_backoff;
    out->rto = info.tcpi_rto;
    out->snd_mss = info.tcpi_snd_mss;
    out->rcv_mss = info.tcpi_rcv_mss;
    out->unacked = info.tcpi_unacked;
    out->lost = info.tcpi_lost;
    out->retrans = info.tcpi_retrans;
    out->pmtu = info.tcpi_pmtu;
    out->rtt = info.tcpi_rtt;
    out->rttvar = info.tcpi_rttvar;
    out->snd_ssthresh = info.tcpi_snd_ssthresh;
    out->snd_cwnd = info.tcpi_snd_cwnd;
    out->reordering = info.tcpi_reordering;
    out->rcv_rtt = info.tcpi_rcv_rtt;
    out->rcv_space = info.tcpi_rcv_space;
    out->total_retrans = info.tcpi_total_retrans;
    out->min_rtt = info.tcpi_min_rtt;
    out->segs_out = info.tcpi_segs_out;
    out->segs_in = info.tcpi_segs_in;
    out->snd_wnd = info.tcpi_snd_wnd;
    out->pacing_rate = info.tcpi_pacing_rate;
    out->bytes_acked = info.tcpi_bytes_acked;
    out->bytes_received = info.tcpi_bytes_received;
    out->delivery_rate = info.tcpi_delivery_rate;
    out->bytes_sent = info.tcpi_bytes_sent;
    out->bytes_retrans = info.tcpi_bytes_retrans;
    return 0;
}

int netlab_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }

int netlab_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int netlab_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions; (void)lowest;
    return 0;
#endif
}

int netlab_packet_socket(const char *name, int *index) {
    // Protocol 0 until bound: a socket made with ETH_P_ALL would queue every interface's frames
    // until bind() narrows it to one.
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    unsigned int ifindex = if_nametoindex(name);
    if (ifindex == 0) { int saved = errno; close(fd); errno = saved; return -1; }
    struct sockaddr_ll address;
    memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = (int)ifindex;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { int saved = errno; close(fd); errno = saved; return -1; }
    *index = (int)ifindex;
    return fd;
}

long netlab_packet_receive(int fd, void *buffer, unsigned long length, int *kind, int timeout_ms) {
    struct pollfd wait = { .fd = fd, .events = POLLIN };
    int ready;
    do { ready = poll(&wait, 1, timeout_ms); } while (ready < 0 && errno == EINTR);
    if (ready <= 0) return ready;
    struct sockaddr_ll from;
    socklen_t size = sizeof from;
    ssize_t n;
    do { n = recvfrom(fd, buffer, length, MSG_TRUNC, (struct sockaddr *)&from, &size); } while (n < 0 && errno == EINTR);
    if (n >= 0) *kind = from.sll_pkttype == PACKET_HOST ? 0 : from.sll_pkttype == PACKET_OUTGOING ? 1 : 2;
    return (long)n;
}

long netlab_packet_send(int fd, int index, const void *frame, unsigned long length) {
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = index;
    to.sll_halen = ETH_ALEN;
    if (length >= ETH_ALEN) memcpy(to.sll_addr, frame, ETH_ALEN);
    ssize_t n;
    do { n = sendto(fd, frame, length, 0, (struct sockaddr *)&to, sizeof to); } while (n < 0 && errno == EINTR);
    return (long)n;
}

int netlab_disable_offloads(const char *name) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    // Segmentation first (it depends on checksumming), then checksumming itself.
    const unsigned int commands[] = { ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM };
    int result = 0, saved = 0;
    for (unsigned long i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        struct ethtool_value value = { .cmd = commands[i], .data = 0 };
        struct ifreq request;
        memset(&request, 0, sizeof request);
        strncpy(request.ifr_name, name, IFNAMSIZ - 1);
        request.ifr_data = (char *)&value;
        if (ioctl(fd, SIOCETHTOOL, &request) != 0 && result == 0) { result = -1; saved = errno; }
    }
    close(fd);
    if (result != 0) errno = saved;
    return result;
}

int netlab_interface_mac(const char *name, unsigned char mac[6]) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFHWADDR, &request);
    int saved = errno;
    close(fd);
    if (rc != 0) { errno = saved; return -1; }
    memcpy(mac, request.ifr_hwaddr.sa_data, 6);
    return 0;
}
#else
// Not Linux: no TCP_INFO of Linux's shape, no network namespaces, no packet(7) sockets. Each
// call fails with ENOTSUP, so the layers above say "Linux only" instead of not building.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "CSystem.h"

int netlab_tcp_info(int fd, struct netlab_tcp_info *out) { (void)fd; memset(out, 0, sizeof *out); errno = ENOTSUP; return -1; }
int netlab_enter_network_namespace(int fd) { (void)fd; errno = ENOTSUP; return -1; }
int netlab_pipe_cloexec(int fds[2]) {
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}
int netlab_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) { (void)actions; (void)lowest; return 0; }
int netlab_packet_socket(const char *name, int *index) { (void)name; (void)index; errno = ENOTSUP; return -1; }
long netlab_packet_receive(int fd, void *buffer, unsigned long length, int *kind, int timeout_ms) {
    (void)fd; (void)buffer; (void)length; (void)kind; (void)timeout_ms; errno = ENOTSUP; return -1;
}
long netlab_packet_send(int fd, int index, const void *frame, unsigned long length) {
    (void)fd; (void)index; (void)frame; (void)length; errno = ENOTSUP; return -1;
}
int netlab_disable_offloads(const char *name) { (void)name; errno = ENOTSUP; return -1; }
int netlab_interface_mac(const char *name, unsigned char mac[6]) { (void)name; (void)mac; errno = ENOTSUP; return -1; }
#endif

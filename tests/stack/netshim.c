/*
 * The one thing a container's network namespace gives that plain processes sharing one loopback
 * do not: its own 127.0.0.1 and its own wildcard address. Preloaded into every dynamically linked
 * process the stack harness starts for a container (LD_PRELOAD), it makes
 *   bind(0.0.0.0:P)    -> bind(STACK_ADDR:P)     (each replica listens on its own address)
 *   connect(127.0.0.1:P) -> connect(STACK_ADDR:P) (a HEALTHCHECK reaches its own container)
 * Everything else, including the Host header a client sends, is left as the program made it, so
 * a health check still says `Host: 127.0.0.1:8000` exactly as it would inside the container.
 * Statically linked programs (the Go tools, nginx) ignore it; the harness gives them their
 * address through their own flags instead.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int own_address(struct in_addr *out) {
    const char *addr = getenv("STACK_ADDR");
    return addr != NULL && inet_pton(AF_INET, addr, out) == 1;
}

static const struct sockaddr *rewrite(const struct sockaddr *addr, socklen_t len,
                                      struct sockaddr_in *copy, in_addr_t from) {
    struct in_addr own;
    if (addr == NULL || addr->sa_family != AF_INET || len < sizeof(struct sockaddr_in))
        return addr;
    memcpy(copy, addr, sizeof(*copy));
    if (copy->sin_addr.s_addr != from || !own_address(&own))
        return addr;
    copy->sin_addr = own;
    return (const struct sockaddr *)copy;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    struct sockaddr_in copy;
    if (real == NULL)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    return real(fd, rewrite(addr, len, &copy, htonl(INADDR_ANY)), len);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    struct sockaddr_in copy;
    if (real == NULL)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    return real(fd, rewrite(addr, len, &copy, htonl(INADDR_LOOPBACK)), len);
}

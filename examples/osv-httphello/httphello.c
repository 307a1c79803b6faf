/* httphello.c — a tiny HTTP server for OSv tests (examples/osv-httphello):
 * every request gets 200 "hello from osv\n". argv: [port (8000)]
 * [exit after N requests (0: never)]; prints "httphello: listening on PORT". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    long limit = argc > 2 ? atol(argv[2]) : 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { perror("socket"); return 1; }
    int one = 1;
    if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) perror("setsockopt");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(s, 16) < 0) { perror("listen"); return 1; }
    printf("httphello: listening on %d\n", port);
    fflush(stdout);
    for (long n = 0; limit == 0 || n < limit; n++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) { perror("accept"); continue; }
        char buf[2048];
        ssize_t r = read(c, buf, sizeof buf);
        (void)r;
        const char *body = "hello from osv\n";
        char resp[256];
        int len = snprintf(resp, sizeof resp,
            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
            strlen(body), body);
        if (write(c, resp, (size_t)len) < 0) perror("write");
        close(c);
    }
    printf("httphello: done\n");
    return 0;
}

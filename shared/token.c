/*
 * token.c — the bearer token file (see token.h). Creation writes a
 * temporary file beside the target (O_EXCL, 0600), fsyncs it and link(2)s
 * it into place: the token appears whole or not at all, and a token that
 * another process made meanwhile is kept (link fails with EEXIST; that one
 * is loaded). Loading opens with O_NOFOLLOW and checks the open file
 * (fstat), so what is checked is what is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "token.h"

bool ui_token_valid(const char *s, size_t len)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789-._~+/";
	size_t n = 0;

	if (len < UI_TOKEN_MIN || len > UI_TOKEN_MAX)
		return false;
	while (n < len && s[n] && strchr(set, s[n]))
		n++;
	while (n < len && s[n] == '=') /* token68 may end in '=' padding */
		n++;
	return n == len && n > 0 && s[0] != '=';
}

bool ui_token_equal(const char *a, const char *b, size_t n)
{
	volatile unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* The mode and owner rules of token.h, on the open file. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "api.token_file %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "api.token_file %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "api.token_file %s: owned by uid %u, not by uid %u (root): "
			 "refused", path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "api.token_file %s: mode %04o lets others read it: refused "
			 "(chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int ui_token_load(const char *path, char tok[UI_TOKEN_MAX + 1], char *err, size_t errlen)
{
	char buf[UI_TOKEN_MAX + 3];
	ssize_t n;
	int fd, r;

	tok[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY)) < 0) {
		r = -errno;
		snprintf(err, errlen, "api.token_file %s: %s", path, strerror(errno));
		return r;
	}
	if ((r = check_file(fd, path, err, errlen)) < 0)
		goto out;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		snprintf(err, errlen, "api.token_file %s: %s", path, strerror(errno));
		goto out;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (!ui_token_valid(buf, (size_t)n)) {
		snprintf(err, errlen, "api.token_file %s: not a token (%d..%d characters of "
			 "A-Z a-z 0-9 -._~+/, then optional '=', one line)", path, UI_TOKEN_MIN,
			 UI_TOKEN_MAX);
		r = -EINVAL;
		goto out;
	}
	memcpy(tok, buf, (size_t)n);
	tok[n] = '\0';
out:
	close(fd);
	return r;
}

/* 32 random bytes as 64 hex characters and a newline. */
static int make_token(char out[66])
{
	unsigned char raw[32];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	out[64] = '\n';
	out[65] = '\0';
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes a new token to <path>.tmp.<pid>, then links it to path: 1 when
 * ours is in place, 0 when another appeared first (kept), else -errno. */
static int create(const char *path, char *err, size_t errlen)
{
	char tmp[4096], tok[66];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((r = make_token(tok)) < 0) {
		snprintf(err, errlen, "api.token_file %s: getrandom: %s", path, strerror(-r));
		return r;
	}
	unlink(tmp); /* ours from a crash of this pid's predecessor, if any */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		r = -errno;
		snprintf(err, errlen, "api.token_file %s: cannot create %s: %s", path, tmp,
			 strerror(errno));
		return r;
	}
	r = write_all(fd, tok, strlen(tok));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0)
		r = link(tmp, path) == 0 ? 1 : errno == EEXIST ? 0 : -errno;
	unlink(tmp);
	if (r < 0)
		snprintf(err, errlen, "api.token_file %s: cannot write it: %s", path, strerror(-r));
	return r;
}

int ui_token_ensure(const char *path, char tok[UI_TOKEN_MAX + 1], bool *created, char *err,
		    size_t errlen)
{
	struct stat st;
	int r;

	*created = false;
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		if ((r = create(path, err, errlen)) < 0)
			return r;
		*created = r == 1;
	}
	return ui_token_load(path, tok, err, errlen);
}

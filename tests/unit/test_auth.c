/*
 * test_auth.c — the bearer token: the Authorization header's parsing
 * (apid/auth.c), the comparison, and the token file's creation and checks
 * (shared/token.c) on real files in a temp dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "t.h"

#include "../../apid/auth.h"
#include "token.h"

#define TOK "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static enum auth_result check(const char *value)
{
	static struct http_req req;

	memset(&req, 0, sizeof(req));
	if (value) {
		req.has_auth = true;
		snprintf(req.auth, sizeof(req.auth), "%s", value);
	}
	return auth_check(&req, TOK);
}

static void t_header(void)
{
	T_EQ_INT(check(NULL), AUTH_MISSING);
	T_EQ_INT(check("Bearer " TOK), AUTH_OK);
	T_EQ_INT(check("bearer " TOK), AUTH_OK);
	T_EQ_INT(check("BEARER\t  " TOK "  "), AUTH_OK);
	T_EQ_INT(check("  Bearer " TOK), AUTH_OK);
	T_EQ_INT(check("Basic dXNlcjpwYXNz"), AUTH_OTHER_SCHEME);
	T_EQ_INT(check("Bearer" TOK), AUTH_OTHER_SCHEME); /* no space: another word */
	T_EQ_INT(check(""), AUTH_MALFORMED);
	T_EQ_INT(check("Bearer"), AUTH_MALFORMED);
	T_EQ_INT(check("Bearer   "), AUTH_MALFORMED);
	T_EQ_INT(check("Bearer " TOK " extra"), AUTH_MALFORMED);
	T_EQ_INT(check("Bearer ab\"c"), AUTH_MALFORMED);
	T_EQ_INT(check("Bearer " TOK "0"), AUTH_INVALID);  /* longer */
	T_EQ_INT(check("Bearer 0123456789abcdef0123456789abcdef"), AUTH_INVALID); /* shorter */
	T_EQ_INT(check("Bearer 1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		 AUTH_INVALID);
	T_EQ_INT(check("Bearer 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
		 AUTH_INVALID); /* the token itself is case-sensitive */
	{
		struct http_req req = { .has_auth = true, .auth_too_long = true };

		snprintf(req.auth, sizeof(req.auth), "Bearer " TOK);
		T_EQ_INT(auth_check(&req, TOK), AUTH_MALFORMED);
	}
}

static void t_deny_and_exempt(void)
{
	struct http_response r = { 0 };
	struct http_req req = { .method = "GET", .url = "/healthz" };

	auth_deny(AUTH_INVALID, &r);
	T_EQ_INT(r.status, 401);
	T_EQ_STR(r.www_auth, "Bearer realm=\"uigniter\", error=\"invalid_token\"");
	T_ASSERT(strstr(r.body, "\"code\": \"unauthorized\"") || strstr(r.body, "\"code\":\"unauthorized\""));
	http_response_free(&r);
	memset(&r, 0, sizeof(r));
	auth_deny(AUTH_MISSING, &r);
	T_EQ_STR(r.www_auth, "Bearer realm=\"uigniter\"");
	http_response_free(&r);
	memset(&r, 0, sizeof(r));
	auth_deny(AUTH_MALFORMED, &r);
	T_EQ_STR(r.www_auth, "Bearer realm=\"uigniter\", error=\"invalid_request\"");
	http_response_free(&r);

	T_ASSERT(auth_exempt(&req));
	req.url = "/healthz?x=1";
	T_ASSERT(auth_exempt(&req));
	req.method = "HEAD";
	T_ASSERT(auth_exempt(&req));
	req.url = "/healthzz";
	T_ASSERT(!auth_exempt(&req));
	req.url = "/healthz";
	req.method = "POST";
	T_ASSERT(!auth_exempt(&req));
	req.method = "GET";
	req.url = "/vm";
	T_ASSERT(!auth_exempt(&req));
}

static void t_equal_and_valid(void)
{
	T_ASSERT(ui_token_equal("abcd", "abcd", 4));
	T_ASSERT(!ui_token_equal("abcd", "abce", 4));
	T_ASSERT(!ui_token_equal("xbcd", "abcd", 4));
	T_ASSERT(ui_token_equal("abcX", "abcY", 3)); /* only n bytes */
	T_ASSERT(ui_token_equal("", "", 0));
	T_ASSERT(ui_token_valid(TOK, 64));
	T_ASSERT(ui_token_valid("abcdefghijklmnopqrstuvwxyz-._~+/0==", 35));
	T_ASSERT(!ui_token_valid("abcdefghijklmnopqrstuvwxyz-._~+/0=x", 35)); /* '=' only at the end */
	T_ASSERT(!ui_token_valid("short", 5));
	T_ASSERT(!ui_token_valid("0123456789abcdef0123456789abcde f", 33));
	T_ASSERT(!ui_token_valid("================================", 32));
}

static char dir[64];

static void mk_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_auth.XXXXXX");
	T_ASSERT(mkdtemp(dir));
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd;

	unlink(path); /* it may be 0400 now: a fresh one */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	T_ASSERT(fd >= 0);
	T_EQ_INT(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	T_EQ_INT(fchmod(fd, mode), 0);
	close(fd);
}

static void t_token_file(void)
{
	char path[128], tok[UI_TOKEN_MAX + 1], tok2[UI_TOKEN_MAX + 1], err[512];
	struct stat st;
	bool created;

	mk_dir();
	snprintf(path, sizeof(path), "%s/api.token", dir);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -ENOENT);
	T_ASSERT(strstr(err, "api.token_file") && strstr(err, path));
	/* made when missing: 64 hex characters, 0600, a newline */
	T_EQ_INT(ui_token_ensure(path, tok, &created, err, sizeof(err)), 0);
	T_ASSERT(created);
	T_EQ_INT(strlen(tok), 64);
	T_EQ_INT(strspn(tok, "0123456789abcdef"), 64);
	T_EQ_INT(stat(path, &st), 0);
	T_EQ_INT(st.st_mode & 07777, 0600);
	T_EQ_INT(st.st_size, 65);
	/* kept at the next start */
	T_EQ_INT(ui_token_ensure(path, tok2, &created, err, sizeof(err)), 0);
	T_ASSERT(!created);
	T_EQ_STR(tok2, tok);
	/* two makes never give the same token */
	snprintf(path, sizeof(path), "%s/b.token", dir);
	T_EQ_INT(ui_token_ensure(path, tok2, &created, err, sizeof(err)), 0);
	T_ASSERT(strcmp(tok, tok2) != 0);
	/* no temporary file is left behind */
	snprintf(path, sizeof(path), "%s/api.token.tmp.%d", dir, (int)getpid());
	T_ASSERT(access(path, F_OK) < 0);

	/* refused: readable by others, not a token, a symlink, a directory */
	snprintf(path, sizeof(path), "%s/open.token", dir);
	write_file(path, TOK "\n", 0644);
	T_EQ_INT(ui_token_ensure(path, tok, &created, err, sizeof(err)), -EPERM);
	T_ASSERT(strstr(err, "mode 0644 lets others read it") && strstr(err, "chmod 600"));
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EPERM);
	chmod(path, 0640);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EPERM);
	chmod(path, 0400);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), 0);
	T_EQ_STR(tok, TOK);
	write_file(path, "tooshort\n", 0600);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EINVAL);
	T_ASSERT(strstr(err, "not a token"));
	write_file(path, TOK "\n\n", 0600);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EINVAL);
	write_file(path, "", 0600);
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EINVAL);
	write_file(path, TOK, 0600); /* no newline is fine */
	T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), 0);
	snprintf(tok2, sizeof(tok2), "%s/link.token", dir);
	T_EQ_INT(symlink(path, tok2), 0);
	T_EQ_INT(ui_token_load(tok2, tok, err, sizeof(err)), -ELOOP);
	T_EQ_INT(ui_token_ensure(tok2, tok, &created, err, sizeof(err)), -ELOOP);
	T_ASSERT(!created);
	T_EQ_INT(ui_token_load(dir, tok, err, sizeof(err)), -EINVAL);
	T_ASSERT(strstr(err, "not a regular file"));
	/* another owner: refused (as root: chown to nobody) */
	if (geteuid() == 0) {
		T_EQ_INT(chown(path, 65534, 65534), 0);
		T_EQ_INT(ui_token_load(path, tok, err, sizeof(err)), -EPERM);
		T_ASSERT(strstr(err, "owned by uid 65534"));
	}
	if (system(NULL)) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		T_EQ_INT(system(cmd), 0);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(t_header),
		T_CASE(t_deny_and_exempt),
		T_CASE(t_equal_and_valid),
		T_CASE(t_token_file),
		{ 0 },
	};

	return t_run(argc, argv, cases);
}

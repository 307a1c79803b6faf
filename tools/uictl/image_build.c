/*
 * image_build.c — makes an image's artefacts from a parsed manifest (see
 * image_build.h).
 *
 * kind: linux. The initrd is the mkguest base (busybox, modules, /init:
 * tools/guest/init) followed by one more newc archive, the app layer (the
 * kernel unpacks concatenated archives in order, later entries over earlier
 * ones; buffer-format.rst: initramfs := ("\0" | cpio_archive |
 * cpio_gzip_archive)*, each archive 4-byte aligned). The layer holds:
 *   - files: (directories walked recursively, symlinks kept as symlinks),
 *   - binaries: and the shared libraries each loads. They are resolved the
 *     way the dynamic loader resolves them because the loader does it: the
 *     binary's PT_INTERP (read from its ELF program headers here) is run
 *     with --list BIN, which maps nothing and prints each DT_NEEDED library
 *     with the path it would load (no ldd, no guessing of search paths). A
 *     library goes to the guest at that path with the content of the file
 *     it names; the loader goes to its PT_INTERP path. A static binary has
 *     no PT_INTERP and brings nothing else.
 *   - /etc/uigniter/cmd and /etc/uigniter/env (NUL-terminated items, read
 *     by tools/guest/init), and /etc/passwd, /etc/group with root unless
 *     files: gives them (an app that looks up a user needs them).
 * Reproducible: entries sorted by guest path (parents first), every mtime
 * 0, owner 0:0, inode numbers in order, no compression of the layer; the
 * same inputs give the same bytes, and the hash directory is named by the
 * sha256 of the artefacts themselves.
 *
 * kind: osv. The loader and the disk are copied as they are (OSv's
 * scripts/build made them; making OSv disks stays OSv's job).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "image_build.h"

extern char **environ;

/* snprintf that says when the result did not fit: -ENAMETOOLONG. */
static int pfmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct buf {
	unsigned char *p;
	size_t n, cap;
};

struct ent {
	char *guest;            /* absolute */
	char *host;             /* content from this file, or NULL */
	struct buf data;        /* content when host is NULL; symlink target */
	unsigned mode;          /* S_IF* | permissions */
};

struct layer {
	struct ent *v;
	size_t n;
	char *err;
	size_t errlen;
};

static int fail(struct layer *l, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct layer *l, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- buffers ---------------------------------------------------------- */

static int buf_add(struct buf *b, const void *d, size_t len)
{
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *np;

		while (cap < b->n + len)
			cap *= 2;
		if (!(np = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->n, d, len);
	b->n += len;
	return 0;
}

static int buf_file(struct buf *b, const char *path)
{
	unsigned char chunk[65536];
	ssize_t got;
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (r = buf_add(b, chunk, (size_t)got)) < 0) {
			r = got < 0 ? -errno : r;
			break;
		}
	}
	close(fd);
	return r;
}

/* ---- entries ---------------------------------------------------------- */

static struct ent *find(struct layer *l, const char *guest)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].guest, guest))
			return &l->v[i];
	return NULL;
}

/* One entry; the same guest path twice is fine only from the same source. */
static int add(struct layer *l, const char *guest, const char *host, const void *data,
	       size_t len, unsigned mode)
{
	struct ent *e = find(l, guest), *nv;

	if (e) {
		if (S_ISDIR(e->mode) && S_ISDIR(mode))
			return 0;
		if (e->host && host && !strcmp(e->host, host))
			return 0;
		return fail(l, -EEXIST, "%s: in the image twice (from %s and %s)", guest,
			    e->host ? e->host : "the builder", host ? host : "the builder");
	}
	if (!(nv = realloc(l->v, (l->n + 1) * sizeof(*nv))))
		return -ENOMEM;
	l->v = nv;
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->mode = mode;
	if (!(e->guest = strdup(guest)) || (host && !(e->host = strdup(host))) ||
	    buf_add(&e->data, data, len) < 0) {
		free(e->guest);
		free(e->host);
		free(e->data.p);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static int add_parents(struct layer *l, const char *guest)
{
	char p[PATH_MAX];
	int r;

	snprintf(p, sizeof(p), "%s", guest);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if ((r = add(l, p, NULL, NULL, 0, S_IFDIR | 0755)) < 0)
			return r;
		*s = '/';
	}
	return 0;
}

static int add_file(struct layer *l, const char *guest, const char *host)
{
	struct stat st;
	int r;

	if (stat(host, &st) < 0)
		return fail(l, -errno, "%s: %s", host, strerror(errno));
	if ((r = add_parents(l, guest)) < 0)
		return r;
	return add(l, guest, host, NULL, 0, S_IFREG | (st.st_mode & 0777));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* files: one guest path → host path; a directory recursively. */
static int add_tree(struct layer *l, const char *guest, const char *host, int depth)
{
	char target[PATH_MAX], g[PATH_MAX * 2], h[PATH_MAX * 2];
	struct dirent *de;
	struct stat st;
	char **names = NULL;
	size_t n = 0;
	ssize_t tl;
	DIR *d;
	int r = 0;

	if (depth > 64)
		return fail(l, -ELOOP, "%s: directories nested too deep", host);
	if (lstat(host, &st) < 0)
		return fail(l, -errno, "%s: %s", host, strerror(errno));
	if (S_ISREG(st.st_mode))
		return add_file(l, guest, host);
	if (S_ISLNK(st.st_mode)) {
		if ((tl = readlink(host, target, sizeof(target))) < 0 || (size_t)tl >= sizeof(target))
			return fail(l, -EIO, "%s: cannot read the link", host);
		if ((r = add_parents(l, guest)) < 0)
			return r;
		return add(l, guest, NULL, target, (size_t)tl, S_IFLNK | 0777);
	}
	if (!S_ISDIR(st.st_mode))
		return fail(l, -EINVAL, "%s: not a file, directory or symlink", host);
	if ((r = add_parents(l, guest)) < 0 ||
	    (r = add(l, guest, NULL, NULL, 0, S_IFDIR | (st.st_mode & 0777))) < 0)
		return r;
	if (!(d = opendir(host)))
		return fail(l, -errno, "%s: %s", host, strerror(errno));
	while ((de = readdir(d))) {
		char **nv;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!(nv = realloc(names, (n + 1) * sizeof(*nv))) || !(nv[n] = strdup(de->d_name))) {
			names = nv ? nv : names;
			r = -ENOMEM;
			break;
		}
		names = nv;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		snprintf(g, sizeof(g), "%s/%s", guest, names[i]);
		snprintf(h, sizeof(h), "%s/%s", host, names[i]);
		r = add_tree(l, g, h, depth + 1);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

/* ---- shared libraries -------------------------------------------------- */

/* PT_INTERP of an ELF64 file into buf; "" for a static binary. */
static int elf_interp(struct layer *l, const char *path, char *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, r = 0;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return fail(l, -errno, "%s: %s", path, strerror(errno));
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph)) {
		r = fail(l, -ENOEXEC, "%s: not a 64-bit ELF executable", path);
		goto close_fd;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph)) {
			r = fail(l, -ENOEXEC, "%s: truncated program headers", path);
			break;
		}
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz > len ||
		    pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz ||
		    buf[ph.p_filesz - 1] != '\0' || buf[0] != '/')
			r = fail(l, -ENOEXEC, "%s: bad PT_INTERP", path);
		break;
	}
close_fd:
	close(fd);
	return r;
}

/* Runs `interp --list bin`; its stdout into out. */
static int loader_list(struct layer *l, const char *interp, const char *bin, struct buf *out)
{
	char *argv[] = { (char *)interp, "--list", (char *)bin, NULL };
	posix_spawn_file_actions_t fa;
	char chunk[4096];
	int pfd[2], st, r = 0;
	ssize_t got;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	r = -posix_spawn(&pid, interp, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return fail(l, r, "%s: cannot run %s --list: %s", bin, interp, strerror(-r));
	}
	while ((got = read(pfd[0], chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || buf_add(out, chunk, (size_t)got) < 0) {
			r = -EIO;
			break;
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		r = fail(l, -ENOEXEC, "%s: %s --list failed (a library it needs is missing?)", bin,
			 interp);
	return r == 0 ? buf_add(out, "", 1) : r;
}

/* One line of --list: "name => /path (0x…)", "/interp (0x…)", "vdso (0x…)". */
static int list_line(struct layer *l, const char *bin, char *line)
{
	char *arrow = strstr(line, " => "), *path, *sp;

	if (arrow) {
		path = arrow + 4;
		if (!strncmp(path, "not found", 9))
			return fail(l, -ENOENT, "%s: library %.*s not found", bin,
				    (int)(arrow - line), line + strspn(line, " \t"));
	} else {
		path = line + strspn(line, " \t");
	}
	if (path[0] != '/')
		return 0; /* linux-vdso.so.1: the kernel's */
	if ((sp = strstr(path, " (0x")))
		*sp = '\0';
	return add_file(l, path, path);
}

static int add_binary(struct layer *l, const struct ui_mfile *b)
{
	char interp[PATH_MAX];
	struct buf out = { 0 };
	int r;

	if ((r = add_file(l, b->guest, b->host)) < 0 ||
	    (r = elf_interp(l, b->host, interp, sizeof(interp))) < 0 || !interp[0])
		return r;
	if ((r = loader_list(l, interp, b->host, &out)) < 0)
		goto free_out;
	for (char *line = (char *)out.p, *nl; line && *line && r == 0; line = nl) {
		if ((nl = strchr(line, '\n')))
			*nl++ = '\0';
		r = list_line(l, b->host, line);
	}
	if (r == 0)
		r = add_file(l, interp, interp); /* --list prints it too; this is the rule */
free_out:
	free(out.p);
	return r;
}

/* ---- the generated files ---------------------------------------------- */

static int add_generated(struct layer *l, const char *guest, const struct buf *b)
{
	int r;

	if ((r = add_parents(l, guest)) < 0)
		return r;
	return add(l, guest, NULL, b->p, b->n, S_IFREG | 0644);
}

static int add_strs(struct layer *l, const char *guest, char *const *v, size_t n)
{
	struct buf b = { 0 };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_add(&b, v[i], strlen(v[i]) + 1);
	if (r == 0)
		r = add_generated(l, guest, &b);
	free(b.p);
	return r;
}

static int add_text(struct layer *l, const char *guest, const char *text)
{
	struct buf b = { (unsigned char *)text, strlen(text), 0 };

	return find(l, guest) ? 0 : add_generated(l, guest, &b);
}

static int collect(struct layer *l, const struct ui_manifest *m)
{
	int r = 0;

	for (size_t i = 0; i < m->n_files && r == 0; i++)
		r = add_tree(l, m->files[i].guest, m->files[i].host, 0);
	for (size_t i = 0; i < m->n_binaries && r == 0; i++)
		r = add_binary(l, &m->binaries[i]);
	if (r == 0)
		r = add_strs(l, "/etc/uigniter/cmd", m->cmd, m->n_cmd);
	if (r == 0)
		r = add_strs(l, "/etc/uigniter/env", m->env, m->n_env);
	if (r == 0)
		r = add_text(l, "/etc/passwd", "root:x:0:0:root:/:/bin/sh\n");
	if (r == 0)
		r = add_text(l, "/etc/group", "root:x:0:\n");
	return r;
}

/* ---- newc ------------------------------------------------------------- */

static int newc(struct buf *out, unsigned ino, unsigned mode, const char *name, size_t size)
{
	char hdr[111];
	static const char zeros[4] = { 0 };
	size_t nlen = strlen(name) + 1;
	int r;

	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ino, mode, 0, 0, S_ISDIR(mode) ? 2 : 1, 0, (unsigned)size, 0, 0, 0, 0,
		 (unsigned)nlen, 0);
	if ((r = buf_add(out, hdr, 110)) < 0 || (r = buf_add(out, name, nlen)) < 0)
		return r;
	return buf_add(out, zeros, (4 - (110 + nlen) % 4) % 4);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->guest, ((const struct ent *)b)->guest);
}

static int write_cpio(struct layer *l, struct buf *out)
{
	static const char zeros[4] = { 0 };
	int r = 0;

	qsort(l->v, l->n, sizeof(*l->v), ent_cmp);
	for (size_t i = 0; i < l->n && r == 0; i++) {
		struct ent *e = &l->v[i];
		size_t before;

		if (e->host && (r = buf_file(&e->data, e->host)) < 0)
			return fail(l, r, "%s: %s", e->host, strerror(-r));
		before = e->data.n;
		if ((r = newc(out, 1000 + (unsigned)i, e->mode, e->guest + 1, before)) < 0 ||
		    (r = buf_add(out, e->data.p, e->data.n)) < 0 ||
		    (r = buf_add(out, zeros, (4 - before % 4) % 4)) < 0)
			return r;
		if (e->host) { /* drop the content again: only one file in memory twice */
			free(e->data.p);
			e->data = (struct buf){ 0 };
		}
	}
	if (r == 0)
		r = newc(out, 0, 0, "TRAILER!!!", 0);
	return r;
}

static void layer_free(struct layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].guest);
		free(l->v[i].host);
		free(l->v[i].data.p);
	}
	free(l->v);
}

/* ---- hashing and writing ---------------------------------------------- */

static int sha256_hex(const struct buf *const *parts, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (size_t i = 0; i < n && ok; i++)
		ok = EVP_DigestUpdate(c, parts[i]->p, parts[i]->n);
	ok = ok && EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	if (!ok)
		return -EIO;
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int write_all(const char *path, const struct buf *const *parts, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), r = 0;

	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < n && r == 0; i++)
		for (size_t off = 0; off < parts[i]->n && r == 0; ) {
			ssize_t w = write(fd, parts[i]->p + off, parts[i]->n - off);

			if (w < 0 && errno != EINTR)
				r = -errno;
			else if (w > 0)
				off += (size_t)w;
		}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* mkdir -p, 0755 (image_build.h) */
int image_mkdir_p(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/'); ; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!s)
			return 0;
		*s = '/';
	}
}

struct artefact {
	const char *name;                /* in the hash directory */
	const struct buf *const *parts;
	size_t n;
};

/* The hash directory: there already (cached), or made whole under a
 * temporary name and renamed. */
static int install(const char *state_dir, const char *img, const struct artefact *a, size_t n,
		   struct image_out *out, char *err, size_t errlen)
{
	char parent[PATH_MAX], tmp[PATH_MAX + 32], p[PATH_MAX * 2];
	struct stat st;
	size_t i;
	int r;

	snprintf(parent, sizeof(parent), "%s/images/%s", state_dir, img);
	if (pfmt(out->dir, sizeof(out->dir), "%s/%s", parent, out->hash) < 0) {
		snprintf(err, errlen, "%s: %s", parent, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (stat(out->dir, &st) == 0) {
		out->cached = true;
		return 0;
	}
	if ((r = image_mkdir_p(parent)) < 0) {
		snprintf(err, errlen, "%s: %s", parent, strerror(-r));
		return r;
	}
	snprintf(tmp, sizeof(tmp), "%s/.tmp.XXXXXX", parent);
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "%s: %s", parent, strerror(errno));
		return -errno;
	}
	chmod(tmp, 0755);
	for (i = 0, r = 0; i < n && r == 0; i++) {
		snprintf(p, sizeof(p), "%s/%s", tmp, a[i].name);
		if ((r = write_all(p, a[i].parts, a[i].n)) < 0)
			snprintf(err, errlen, "%s: %s", p, strerror(-r));
	}
	if (r == 0 && rename(tmp, out->dir) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", out->dir, strerror(errno));
	}
	if (r < 0) {
		for (i = 0; i < n; i++) {
			snprintf(p, sizeof(p), "%s/%s", tmp, a[i].name);
			unlink(p);
		}
		rmdir(tmp);
	}
	return r;
}

static int read_input(struct buf *b, const char *path, char *err, size_t errlen)
{
	int r = buf_file(b, path);

	if (r < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	return r;
}

static int build_linux(const struct ui_manifest *m, const char *state_dir, const char *base,
		       struct image_out *out, char *err, size_t errlen)
{
	struct layer l = { .err = err, .errlen = errlen };
	struct buf kernel = { 0 }, initrd = { 0 }, app = { 0 };
	static const char zeros[4] = { 0 };
	char path[PATH_MAX + 32];
	int r;

	snprintf(path, sizeof(path), "%s/vmlinuz", base);
	if ((r = read_input(&kernel, path, err, errlen)) < 0)
		goto free_all;
	snprintf(path, sizeof(path), "%s/initrd.cpio.gz", base);
	if ((r = read_input(&initrd, path, err, errlen)) < 0 ||
	    (r = buf_add(&initrd, zeros, (4 - initrd.n % 4) % 4)) < 0)
		goto free_all;
	if ((r = collect(&l, m)) < 0 || (r = write_cpio(&l, &app)) < 0 ||
	    (r = buf_add(&initrd, app.p, app.n)) < 0)
		goto free_all;
	{
		const struct buf *kp[] = { &kernel }, *ip[] = { &initrd }, *all[] = { &kernel, &initrd };
		const struct artefact a[] = { { "vmlinuz", kp, 1 }, { "initrd.img", ip, 1 } };

		if ((r = sha256_hex(all, 2, out->hash)) < 0 ||
		    (r = install(state_dir, m->name, a, 2, out, err, errlen)) < 0)
			goto free_all;
	}
	if (pfmt(out->kernel, sizeof(out->kernel), "%s/vmlinuz", out->dir) < 0 ||
	    pfmt(out->initrd, sizeof(out->initrd), "%s/initrd.img", out->dir) < 0)
		r = -ENAMETOOLONG;
free_all:
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s", strerror(ENOMEM));
	layer_free(&l);
	free(kernel.p);
	free(initrd.p);
	free(app.p);
	return r;
}

static int build_osv(const struct ui_manifest *m, const char *state_dir, struct image_out *out,
		     char *err, size_t errlen)
{
	struct buf loader = { 0 }, disk = { 0 };
	const char *dname = m->disk_format == UI_DISK_QCOW2 ? "disk.qcow2" : "disk.raw";
	int r;

	if ((r = read_input(&loader, m->loader, err, errlen)) < 0 ||
	    (r = read_input(&disk, m->disk, err, errlen)) < 0)
		goto free_all;
	{
		const struct buf *lp[] = { &loader }, *dp[] = { &disk }, *all[] = { &loader, &disk };
		const struct artefact a[] = { { "loader.elf", lp, 1 }, { dname, dp, 1 } };

		if ((r = sha256_hex(all, 2, out->hash)) < 0 ||
		    (r = install(state_dir, m->name, a, 2, out, err, errlen)) < 0)
			goto free_all;
	}
	if (pfmt(out->kernel, sizeof(out->kernel), "%s/loader.elf", out->dir) < 0 ||
	    pfmt(out->disk, sizeof(out->disk), "%s/%s", out->dir, dname) < 0)
		r = -ENAMETOOLONG;
free_all:
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s", strerror(ENOMEM));
	free(loader.p);
	free(disk.p);
	return r;
}

int image_build(const struct ui_manifest *m, const char *state_dir, const char *base,
		struct image_out *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (m->kind == UI_KIND_OSV)
		return build_osv(m, state_dir, out, err, errlen);
	return build_linux(m, state_dir, base, out, err, errlen);
}

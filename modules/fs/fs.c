/*
** fs.c — gf.fs core: whole-file reads and writes, atomic replacement, copies, directories.
** Every function returns 0 or an errno value (see fs.h).
*/
#define _XOPEN_SOURCE 700
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gfgrow.h"

#define IO_CHUNK (1 << 20)

/* {====== lists ====== */

void gf_fs_list_free(gf_fs_list *l)
{
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}

int gf_fs_list_push(gf_fs_list *l, const char *s, size_t len)
{
  char **items = gf_grow(l->items, &l->cap, l->n + 1, sizeof *items, 16);
  if (!items) return ENOMEM;
  l->items = items;
  char *copy = malloc(len + 1);
  if (!copy) return ENOMEM;
  memcpy(copy, s, len);
  copy[len] = '\0';
  l->items[l->n++] = copy;
  return 0;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void gf_fs_list_sort(gf_fs_list *l)
{
  if (l->n > 1) qsort(l->items, l->n, sizeof *l->items, cmp_str);
}

/* }====== */

/* {====== low-level I/O helpers ====== */

static int write_all(int fd, const char *data, size_t len)
{
  while (len > 0) {
    size_t chunk = len > IO_CHUNK ? IO_CHUNK : len;
    ssize_t w = write(fd, data, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += w;
    len -= (size_t)w;
  }
  return 0;
}

/* close() whose error matters (data may be lost on NFS and the like). */
static int close_checked(int fd, int err)
{
  if (close(fd) != 0 && err == 0) err = errno;
  return err;
}

int gf_fs_read(const char *path, char **out, size_t *len)
{
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = 0;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    err = errno;
    goto cleanup;
  }
  if (S_ISDIR(st.st_mode)) {
    err = EISDIR;
    goto cleanup;
  }
  size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
  size_t n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    err = ENOMEM;
    goto cleanup;
  }
  for (;;) {
    if (n + 1 >= cap) { /* the file grew, or its size was unknown */
      char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        free(buf);
        err = ENOMEM;
        goto cleanup;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t want = cap - 1 - n;
    ssize_t r = read(fd, buf + n, want > IO_CHUNK ? IO_CHUNK : want);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      free(buf);
      goto cleanup;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
cleanup:
  close(fd);
  return err;
}

static int write_flags(const char *path, const char *data, size_t len, int mode, int flags)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0666);
  if (fd < 0) return errno;
  int err = 0;
  if (mode >= 0 && fchmod(fd, (mode_t)mode) != 0) err = errno;
  if (!err) err = write_all(fd, data, len);
  return close_checked(fd, err);
}

int gf_fs_write(const char *path, const char *data, size_t len, int mode)
{
  return write_flags(path, data, len, mode, O_TRUNC);
}

int gf_fs_append(const char *path, const char *data, size_t len, int mode)
{
  return write_flags(path, data, len, mode, O_APPEND);
}

/* }====== */

/* {====== temporary files beside a target ====== */

/* Directory part of path ("." when none) into dir. */
static int dir_of(const char *path, char *dir, size_t size)
{
  const char *slash = strrchr(path, '/');
  if (!slash) return snprintf(dir, size, ".") >= (int)size ? ENAMETOOLONG : 0;
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  if (n >= size) return ENAMETOOLONG;
  memcpy(dir, path, n);
  dir[n] = '\0';
  return 0;
}

/*
** Opens a new file "<dir>/.<base>.<pid>-<n>.tmp" exclusively. The name only has to be unique
** among concurrent writers: O_EXCL settles races and a clash just tries the next number.
*/
static int open_temp_beside(const char *path, mode_t mode, char *tmp, size_t size, int *fd)
{
  static unsigned long counter; /* loop thread and worker threads: see the __atomic below */
  char dir[PATH_MAX];
  int err = dir_of(path, dir, sizeof dir);
  if (err) return err;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (*base == '\0') return EISDIR;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  for (int attempt = 0; attempt < 100; attempt++) {
    unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    int w = snprintf(tmp, size, "%s/.%s.%ld-%lx%lx.tmp", dir, base, (long)getpid(),
                     (unsigned long)ts.tv_nsec, n);
    if (w < 0 || (size_t)w >= size) return ENAMETOOLONG;
    *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (*fd >= 0) return 0;
    if (errno != EEXIST) return errno;
  }
  return EEXIST;
}

static int fsync_dir_of(const char *path)
{
  char dir[PATH_MAX];
  if (dir_of(path, dir, sizeof dir) != 0) return 0;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0; /* durability of the rename is best effort */
  fsync(fd);
  close(fd);
  return 0;
}

/* mode for a replacement: explicit, else the existing target's, else -1 (0666 before umask). */
static int replacement_mode(const char *path, int mode)
{
  struct stat st;
  if (mode >= 0) return mode;
  if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return (int)(st.st_mode & 07777);
  return -1;
}

typedef int (*fill_fn)(int fd, void *ctx);

/* Creates a temp file beside path, fill()s it, fsyncs, renames it onto path. */
static int replace_with(const char *path, int mode, fill_fn fill, void *ctx)
{
  char tmp[PATH_MAX];
  int fd = -1;
  mode = replacement_mode(path, mode);
  int err = open_temp_beside(path, 0666, tmp, sizeof tmp, &fd);
  if (err) return err;
  if (mode >= 0 && fchmod(fd, (mode_t)mode) != 0) err = errno;
  if (!err) err = fill(fd, ctx);
  if (!err && fsync(fd) != 0) err = errno;
  err = close_checked(fd, err);
  if (!err && rename(tmp, path) != 0) err = errno;
  if (err) {
    unlink(tmp);
    return err;
  }
  return fsync_dir_of(path);
}

typedef struct {
  const char *data;
  size_t len;
} bytes;

static int fill_bytes(int fd, void *ctx)
{
  bytes *b = ctx;
  return write_all(fd, b->data, b->len);
}

int gf_fs_write_atomic(const char *path, const char *data, size_t len, int mode)
{
  bytes b = {data, len};
  return replace_with(path, mode, fill_bytes, &b);
}

static int fill_copy(int fd, void *ctx)
{
  int src = *(int *)ctx;
  char *buf = malloc(IO_CHUNK);
  if (!buf) return ENOMEM;
  int err = 0;
  for (;;) {
    ssize_t r = read(src, buf, IO_CHUNK);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (r == 0) break;
    err = write_all(fd, buf, (size_t)r);
    if (err) break;
  }
  free(buf);
  return err;
}

int gf_fs_copy(const char *src, const char *dst)
{
  int fd = open(src, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0)
    err = errno;
  else if (S_ISDIR(st.st_mode))
    err = EISDIR;
  if (!err) err = replace_with(dst, (int)(st.st_mode & 07777), fill_copy, &fd);
  close(fd);
  return err;
}

int gf_fs_rename(const char *src, const char *dst)
{
  if (rename(src, dst) == 0) return 0;
  if (errno != EXDEV) return errno;
  struct stat st;
  if (lstat(src, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EXDEV;
  int err = gf_fs_copy(src, dst);
  if (err) return err;
  return unlink(src) == 0 ? 0 : errno;
}

/* }====== */

/* {====== directories ====== */

static int type_of(mode_t m)
{
  if (S_ISREG(m)) return GF_FS_FILE;
  if (S_ISDIR(m)) return GF_FS_DIR;
  if (S_ISLNK(m)) return GF_FS_LINK;
  return GF_FS_OTHER;
}

int gf_fs_lstat(const char *path, gf_fs_stat *out)
{
  struct stat st;
  if (lstat(path, &st) != 0) return errno;
  out->size = (int64_t)st.st_size;
  out->mtime = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
  out->type = type_of(st.st_mode);
  out->mode = (int)(st.st_mode & 07777);
  return 0;
}

static int is_dot(const char *name)
{
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

int gf_fs_list_dir(const char *dir, gf_fs_list *out)
{
  DIR *d = opendir(dir);
  if (!d) return errno;
  int err = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    if (is_dot(e->d_name)) continue;
    err = gf_fs_list_push(out, e->d_name, strlen(e->d_name));
    if (err) break;
    errno = 0;
  }
  if (!err && errno) err = errno;
  closedir(d);
  if (!err) gf_fs_list_sort(out);
  return err;
}

typedef struct {
  char path[PATH_MAX]; /* root + "/" + rel, grown and shrunk as the walk descends */
  size_t root_len;     /* offset of rel within path (after the separator) */
  int with_dirs, max_depth;
  gf_fs_list *out;
} walker;

static int walk_dir(walker *w, size_t len, int depth)
{
  DIR *d = opendir(w->path);
  if (!d) return (errno == ENOENT && depth > 1) ? 0 : errno; /* vanished meanwhile: skip */
  int err = 0;
  struct dirent *e;
  for (;;) {
    errno = 0;
    e = readdir(d);
    if (!e) {
      err = errno;
      break;
    }
    if (is_dot(e->d_name)) continue;
    size_t nl = strlen(e->d_name);
    size_t sep = (len > 0 && w->path[len - 1] == '/') ? 0 : 1;
    if (len + sep + nl + 1 > sizeof w->path) {
      err = ENAMETOOLONG;
      break;
    }
    if (sep) w->path[len] = '/';
    memcpy(w->path + len + sep, e->d_name, nl + 1);
    size_t nlen = len + sep + nl;
    struct stat st;
    if (lstat(w->path, &st) != 0) {
      if (errno == ENOENT) continue;
      err = errno;
      break;
    }
    int is_dir = S_ISDIR(st.st_mode);
    const char *rel = w->path + w->root_len;
    if (!is_dir || w->with_dirs) err = gf_fs_list_push(w->out, rel, nlen - w->root_len);
    if (!err && is_dir && (w->max_depth < 0 || depth < w->max_depth))
      err = walk_dir(w, nlen, depth + 1);
    w->path[len] = '\0';
    if (err) break;
  }
  closedir(d);
  return err;
}

int gf_fs_walk(const char *dir, int with_dirs, int max_depth, gf_fs_list *out)
{
  walker *w = calloc(1, sizeof *w);
  if (!w) return ENOMEM;
  size_t len = strlen(dir);
  int err = 0;
  if (len + 2 > sizeof w->path) {
    err = ENAMETOOLONG;
    goto cleanup;
  }
  memcpy(w->path, dir, len + 1);
  w->root_len = (len > 0 && dir[len - 1] == '/') ? len : len + 1;
  w->with_dirs = with_dirs;
  w->max_depth = max_depth;
  w->out = out;
  if (max_depth != 0) err = walk_dir(w, len, 1);
  if (!err) gf_fs_list_sort(out);
cleanup:
  free(w);
  return err;
}

int gf_fs_mkdir_p(const char *path, int mode)
{
  mode_t m = mode >= 0 ? (mode_t)mode : 0777;
  size_t len = strlen(path);
  if (len == 0) return ENOENT;
  if (len >= PATH_MAX) return ENAMETOOLONG;
  char buf[PATH_MAX];
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    if (buf[i - 1] == '/') continue; /* "a//b" */
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, m) != 0) {
      int e = errno;
      struct stat st;
      if (e != EEXIST || stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return e;
    }
    buf[i] = saved;
  }
  return 0;
}

int gf_fs_tempdir(const char *base, const char *prefix, char *out, size_t outlen)
{
  int w = snprintf(out, outlen, "%s/%sXXXXXX", base, prefix);
  if (w < 0 || (size_t)w >= outlen) return ENAMETOOLONG;
  return mkdtemp(out) ? 0 : errno;
}

int gf_fs_remove(const char *path)
{
  struct stat st;
  if (lstat(path, &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return rmdir(path) == 0 ? 0 : errno;
  return unlink(path) == 0 ? 0 : errno;
}

/* Empties the directory open as dfd (which this function closes), depth-first. */
static int clear_dir_fd(int dfd)
{
  DIR *d = fdopendir(dfd);
  if (!d) {
    int e = errno;
    close(dfd);
    return e;
  }
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      err = errno;
      break;
    }
    if (is_dot(e->d_name)) continue;
    struct stat st;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      err = errno;
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        err = errno;
        break;
      }
      err = clear_dir_fd(sub);
      if (!err && unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0) err = errno;
    } else if (unlinkat(dfd, e->d_name, 0) != 0 && errno != ENOENT) {
      err = errno;
    }
    if (err) break;
  }
  closedir(d); /* closes dfd */
  return err;
}

int gf_fs_remove_tree(const char *path)
{
  if (!path || !*path) return EPERM;
  char real[PATH_MAX];
  if (realpath(path, real) && strcmp(real, "/") == 0) return EPERM;
  struct stat st;
  if (lstat(path, &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : errno;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = clear_dir_fd(fd);
  if (err) return err;
  return rmdir(path) == 0 ? 0 : errno;
}

/* }====== */

/*
** commit.c — putting completed downloads under their final names, durably, in batches.
**
** Runs on a worker thread (gf_work): no Lua, no host calls. For every file of a batch: create
** (or append to) "<path>.part" and write the body kept in memory, or flush the .part the body
** was streamed to; start the write-back of every file at once; fdatasync each file (the
** write-backs run together, so the waits overlap); check each size, rename to the final name,
** and fsync each directory of the batch once. The cost depends on the batch alone, never on
** what else the system has dirty. A file that fails keeps its .part (when it got that far) and
** says why.
*/
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "httpfile.h"

static void fail_errno(gf_http_file *f, const char *what, int err)
{
  if (f->failed) return;
  f->failed = 1;
  f->code = "io";
  snprintf(f->msg, sizeof f->msg, "%s %s: %s", what, f->part, strerror(err));
}

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Phase 1: the bytes are in the .part file (page cache), fd open. */
static void write_part(gf_http_file *f)
{
  if (f->out) {
    if (fflush(f->out) != 0) {
      fail_errno(f, "write", errno);
      return;
    }
    f->fd = fileno(f->out);
    return;
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (f->append ? O_APPEND : O_TRUNC);
  f->fd = open(f->part, flags, 0666);
  if (f->fd < 0) {
    fail_errno(f, "open", errno);
    return;
  }
  if (f->len > 0 && write_all(f->fd, f->data, f->len) != 0) fail_errno(f, "write", errno);
  free(f->data);
  f->data = NULL;
  f->len = 0;
}

/* Phase 3: the data of every file that asks for it on the disk. */
static void sync_data(gf_http_file *f)
{
  if (fdatasync(f->fd) != 0) fail_errno(f, "fsync", errno);
}

/* Phase 4: complete and closed. */
static void check_part(gf_http_file *f)
{
  struct stat st;
  if (fstat(f->fd, &st) != 0) fail_errno(f, "stat", errno);
  if (!f->failed && (uint64_t)st.st_size != f->want) {
    f->failed = 1;
    f->code = "network";
    snprintf(f->msg, sizeof f->msg, "partial body: %s has %lld bytes, expected %llu", f->part,
             (long long)st.st_size, (unsigned long long)f->want);
  }
  int rc = f->out ? fclose(f->out) : close(f->fd);
  int err = errno;
  f->out = NULL;
  f->fd = -1;
  if (rc != 0) fail_errno(f, "close", err);
}

/* Length of the directory part of path ("" -> 0: the current directory). */
static size_t dir_len(const char *path)
{
  const char *slash = strrchr(path, '/');
  if (!slash) return 0;
  return slash == path ? 1 : (size_t)(slash - path);
}

static int same_dir(const gf_http_file *a, const gf_http_file *b)
{
  size_t n = dir_len(a->path);
  return n == dir_len(b->path) && memcmp(a->path, b->path, n) == 0;
}

/* Phase 6: the renames on the disk: one fsync per directory of the batch. */
static void sync_dir(gf_http_file **files, size_t n, size_t i)
{
  gf_http_file *f = files[i];
  for (size_t j = 0; j < i; j++) /* done already for an earlier file of this batch */
    if (files[j]->sync && !files[j]->failed && same_dir(files[j], f)) return;
  char dir[4096];
  size_t len = dir_len(f->path);
  if (len >= sizeof dir) return;
  if (len == 0) {
    dir[0] = '.';
    len = 1;
  } else {
    memcpy(dir, f->path, len);
  }
  dir[len] = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int err = 0;
  if (fd < 0 || fsync(fd) != 0) err = errno;
  if (fd >= 0) close(fd);
  if (err == 0 || err == EINVAL || err == EROFS) return; /* no directory fsync here */
  /* these renames are not known durable */
  for (size_t j = i; j < n; j++) {
    gf_http_file *g = files[j];
    if (g->sync && !g->failed && same_dir(g, f)) {
      g->failed = 1;
      g->code = "io";
      snprintf(g->msg, sizeof g->msg, "fsync %s: %s", dir, strerror(err));
    }
  }
}

void gf_http_commit(gf_http_file **files, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!files[i]->failed) write_part(files[i]);
#ifdef SYNC_FILE_RANGE_WRITE
  /* Start every file's write-back first: the waits below then mostly find it done. */
  for (size_t i = 0; i < n; i++)
    if (files[i]->sync && !files[i]->failed)
      (void)sync_file_range(files[i]->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  for (size_t i = 0; i < n; i++)
    if (files[i]->sync && !files[i]->failed) sync_data(files[i]);
  for (size_t i = 0; i < n; i++)
    if (files[i]->fd >= 0 || files[i]->out) check_part(files[i]);
  for (size_t i = 0; i < n; i++) {
    gf_http_file *f = files[i];
    if (!f->failed && rename(f->part, f->path) != 0) {
      int err = errno;
      f->failed = 1;
      f->code = "io";
      snprintf(f->msg, sizeof f->msg, "rename %s: %s", f->part, strerror(err));
    }
  }
  for (size_t i = 0; i < n; i++)
    if (files[i]->sync && !files[i]->failed) sync_dir(files, n, i);
}

void gf_http_file_free(gf_http_file *f)
{
  if (!f) return;
  if (f->out)
    fclose(f->out);
  else if (f->fd >= 0)
    close(f->fd);
  free(f->data);
  free(f->path);
  free(f->part);
  free(f);
}

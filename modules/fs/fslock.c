/*
** fslock.c — advisory whole-file locks (flock(2)) for gf.fs.lock: one process at a time holds a
** lock file; the kernel releases it when the holder closes it or dies (kill -9 included).
*/
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs.h"

int gf_fs_lock(const char *path, int *fd_out)
{
  *fd_out = -1;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
  if (fd < 0) return errno;
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno == EWOULDBLOCK ? EWOULDBLOCK : errno;
    close(fd);
    return err;
  }
  *fd_out = fd;
  return 0;
}

void gf_fs_unlock(int fd)
{
  if (fd >= 0) close(fd); /* closing the only descriptor releases the flock */
}

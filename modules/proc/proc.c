/*
** proc.c — posix_spawn with three pipes, and a pidfd that tells the loop when the child exits.
*/
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_pair(int fds[2])
{
  for (int i = 0; i < 2; i++)
    if (fds[i] >= 0) close(fds[i]);
}

int gf_proc_spawn(gf_proc *p, char *const argv[], char *const envp[], char *err, size_t errlen)
{
  int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  posix_spawn_file_actions_t fa;
  int rc = 0;
  memset(p, 0, sizeof *p);
  p->pidfd = p->fd[0] = p->fd[1] = p->fd[2] = -1;
  for (int i = 0; i < 3; i++) {
    if (pipe2(pipes[i], O_CLOEXEC) != 0) {
      rc = errno;
      snprintf(err, errlen, "pipe: %s", strerror(rc));
      goto cleanup;
    }
  }
  posix_spawn_file_actions_init(&fa);
  /* the child's ends become 0, 1, 2 (dup2 clears O_CLOEXEC); every other descriptor closes */
  posix_spawn_file_actions_adddup2(&fa, pipes[0][0], 0);
  posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipes[2][1], 2);
  rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    p->pid = 0;
    snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
    goto cleanup;
  }
  p->fd[0] = pipes[0][1];
  p->fd[1] = pipes[1][0];
  p->fd[2] = pipes[2][0];
  pipes[0][1] = pipes[1][0] = pipes[2][0] = -1;
  for (int i = 0; i < 3; i++) fcntl(p->fd[i], F_SETFL, fcntl(p->fd[i], F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
  p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#endif
cleanup:
  for (int i = 0; i < 3; i++) close_pair(pipes[i]);
  return rc;
}

int gf_proc_reap(gf_proc *p)
{
  if (p->pid == 0) return 1;
  int st;
  pid_t r = waitpid(p->pid, &st, WNOHANG);
  if (r == p->pid || (r < 0 && errno == ECHILD)) {
    p->status = r == p->pid ? st : 0;
    p->pid = 0;
    return 1;
  }
  return 0;
}

void gf_proc_close_fd(gf_proc *p, int which)
{
  if (p->fd[which] >= 0) close(p->fd[which]);
  p->fd[which] = -1;
}

void gf_proc_free(gf_proc *p)
{
  for (int i = 0; i < 3; i++) gf_proc_close_fd(p, i);
  if (p->pid > 0 && !gf_proc_reap(p)) {
    kill(p->pid, SIGKILL);
    int st;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
    }
    p->pid = 0;
  }
  if (p->pidfd >= 0) close(p->pidfd);
  p->pidfd = -1;
}

/*
** proc.h — child processes with pipes the event loop can watch. Pure C (no Lua).
*/
#ifndef GF_PROC_H
#define GF_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct gf_proc {
  pid_t pid;  /* 0 once reaped */
  int pidfd;  /* readable when the child exits (-1: kernel without pidfd_open) */
  int fd[3];  /* our ends of the child's stdin, stdout, stderr (non-blocking; -1 closed) */
  int status; /* waitpid status once reaped */
} gf_proc;

/* Start argv[0] (searched on PATH) with pipes on its stdin, stdout and stderr. envp NULL:
** this process's environment. Returns 0, or an errno with err filled. */
int gf_proc_spawn(gf_proc *p, char *const argv[], char *const envp[], char *err, size_t errlen);

/* Reap the child if it has exited (never blocks): 1 reaped (p->status set), 0 still running. */
int gf_proc_reap(gf_proc *p);

/* Close one of our pipe ends (0 stdin, 1 stdout, 2 stderr). */
void gf_proc_close_fd(gf_proc *p, int which);

/* Kill (SIGKILL) a child that still runs, close every descriptor and reap it. */
void gf_proc_free(gf_proc *p);

#endif

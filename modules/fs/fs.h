/*
** fs.h — gf.fs pure C core: files, directories, pattern matching and SHA-256. No Lua types.
**
** Conventions: functions returning int return 0 on success or an errno value on failure (never
** -1), so the caller can build `fs.op <path>: <strerror>` and choose the code (`not_found` for
** ENOENT/ENOTDIR, `io` otherwise). Out-parameters that own heap memory are documented per
** function; a gf_fs_list is freed with gf_fs_list_free.
*/
#ifndef GF_FS_H
#define GF_FS_H

#include <stddef.h>
#include <stdint.h>

/* A growable list of NUL-terminated strings. Zero-initialise; free with gf_fs_list_free. */
typedef struct {
  char **items;
  size_t n, cap;
} gf_fs_list;

void gf_fs_list_free(gf_fs_list *l);
/* Appends a copy of s (len bytes). Returns 0 or ENOMEM. */
int gf_fs_list_push(gf_fs_list *l, const char *s, size_t len);
/* Sorts by byte order (strcmp). */
void gf_fs_list_sort(gf_fs_list *l);

/* {====== files ====== */

/* Reads the whole file. *out is malloc'd (caller frees), *len its length; *out is NUL-terminated
** for convenience but may contain NULs. */
int gf_fs_read(const char *path, char **out, size_t *len);

/* mode < 0: default (0666 before umask, existing file keeps its mode); else chmod'ed exactly. */
int gf_fs_write(const char *path, const char *data, size_t len, int mode);
int gf_fs_append(const char *path, const char *data, size_t len, int mode);

/*
** Writes a temporary file in the target's directory, fsyncs it, renames it over path and fsyncs
** the directory. On any failure the temporary file is removed and path is untouched. mode < 0:
** the existing file's mode, or 0666 before umask for a new file.
*/
int gf_fs_write_atomic(const char *path, const char *data, size_t len, int mode);

/* Copies a regular file's bytes and permission bits to dst, through a temporary file in dst's
** directory renamed into place (dst never holds a partial copy). */
int gf_fs_copy(const char *src, const char *dst);

/* rename(2); across file systems (EXDEV) a regular file is copied then the source unlinked. */
int gf_fs_rename(const char *src, const char *dst);

/* }====== */

/* {====== directories ====== */

enum { GF_FS_FILE, GF_FS_DIR, GF_FS_LINK, GF_FS_OTHER };

typedef struct {
  int64_t size;
  double mtime; /* seconds since the epoch, with nanoseconds */
  int type;     /* GF_FS_* ; lstat: a symlink is GF_FS_LINK */
  int mode;     /* permission bits (07777) */
} gf_fs_stat;

int gf_fs_lstat(const char *path, gf_fs_stat *st);

/* Entry names of dir (no "." or ".."), sorted. Caller frees out with gf_fs_list_free. */
int gf_fs_list_dir(const char *dir, gf_fs_list *out);

/*
** Paths relative to dir of everything beneath it, recursively, sorted; directories are listed
** only when with_dirs. Symbolic links are listed, never followed. max_depth < 0: unlimited;
** 1: only dir's own entries. Caller frees out (also on error: it may hold partial results).
*/
int gf_fs_walk(const char *dir, int with_dirs, int max_depth, gf_fs_list *out);

/* mkdir -p. mode < 0: 0777 before umask. EEXIST only when a non-directory is in the way. */
int gf_fs_mkdir_p(const char *path, int mode);

/* Creates <base>/<prefix>XXXXXX with mode 0700 and writes its path to out (size outlen). */
int gf_fs_tempdir(const char *base, const char *prefix, char *out, size_t outlen);

/* unlink a non-directory or rmdir an empty directory. */
int gf_fs_remove(const char *path);

/* Removes path and everything below it without following symbolic links. Refuses (EPERM) the
** empty path and anything that resolves to "/". */
int gf_fs_remove_tree(const char *path);

/* }====== */

/* {====== locks (fslock.c) ====== */

/* Opens (creating) path and takes an exclusive flock without waiting. 0 and *fd_out = the
** descriptor that holds the lock; EWOULDBLOCK when another open file description holds it; else
** an errno value. The lock lasts until gf_fs_unlock(fd) or the process ends. */
int gf_fs_lock(const char *path, int *fd_out);
void gf_fs_unlock(int fd);

/* }====== */

/* {====== matching (fsmatch.c) ====== */

/*
** Shell-style match of a whole name:
**   ?        one character (not '/' unless cross_slash)
**   *        any run of characters (not crossing '/' unless cross_slash)
**   **       any run of characters, '/' included; "**" + "/" as a whole path component
**            also matches zero directories (pattern a, "**", b joined by '/' matches "a/b")
**   [abc] [a-z] [!a-z] [^a-z]   one character from (not in) the set; never matches '/'
**            unless cross_slash
**   \c       the character c literally
** A leading '.' is not special. Returns 1 on a match, 0 otherwise. A malformed bracket ("[ab")
** matches a literal '['.
*/
int gf_fs_match(const char *pattern, size_t plen, const char *name, size_t nlen, int cross_slash);

/* True when pattern contains an unescaped wildcard character (* ? [). */
int gf_fs_has_magic(const char *pattern, size_t len);

/*
** Paths matching pattern, sorted. The longest wildcard-free leading directory is the starting
** point; matches are returned with the pattern's own prefix ("data/x.csv" for the pattern
** data, '/', "*.csv"; "x.csv" for "*.csv"). Symbolic links are matched, never descended. Caller
*frees out.
** A missing starting directory gives an empty list. A trailing '/' after a wildcard keeps
** only directories (links to directories included), returned with the '/'.
*/
int gf_fs_glob(const char *pattern, int cross_slash, gf_fs_list *out);

/* }====== */

/* {====== SHA-256 (fshash.c, OpenSSL EVP) ====== */

/* hex must hold 65 bytes. Returns 0, an errno value for I/O, or EIO when OpenSSL fails. */
int gf_fs_sha256_file(const char *path, char hex[65]);
int gf_fs_sha256_data(const void *data, size_t len, char hex[65]);

/* }====== */

#endif

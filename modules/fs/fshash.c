/*
** fshash.c — SHA-256 of a file or a buffer with OpenSSL EVP. gf_fs_sha256_file runs on worker
** threads: it touches nothing shared (EVP_sha256() is a static, thread-safe method table).
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fs.h"

#define HASH_CHUNK (1 << 20)

static void to_hex(const unsigned char *md, unsigned len, char hex[65])
{
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < len && i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
}

int gf_fs_sha256_data(const void *data, size_t len, char hex[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) return EIO;
  to_hex(md, mdlen, hex);
  return 0;
}

int gf_fs_sha256_file(const char *path, char hex[65])
{
  int err = 0;
  unsigned char *buf = NULL;
  EVP_MD_CTX *ctx = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  buf = malloc(HASH_CHUNK);
  ctx = EVP_MD_CTX_new();
  if (!buf || !ctx) {
    err = ENOMEM;
    goto cleanup;
  }
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    err = EIO;
    goto cleanup;
  }
  for (;;) {
    ssize_t r = read(fd, buf, HASH_CHUNK);
    if (r < 0) {
      if (errno == EINTR) continue;
      err = errno; /* EISDIR for a directory */
      goto cleanup;
    }
    if (r == 0) break;
    if (EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) {
      err = EIO;
      goto cleanup;
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
    err = EIO;
    goto cleanup;
  }
  to_hex(md, mdlen, hex);
cleanup:
  EVP_MD_CTX_free(ctx);
  free(buf);
  close(fd);
  return err;
}

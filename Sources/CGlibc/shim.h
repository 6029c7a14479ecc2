// glibc functions Swift's Glibc module leaves out: malloc.h (mallinfo2, malloc_trim) and five GNU extensions.
// Declared and linked directly: looking them up with dlsym finds nothing in a fully static executable, where
// the code fell back to slower paths without a word.
#ifndef MESHCA_CGLIBC_SHIM_H
#define MESHCA_CGLIBC_SHIM_H
#ifdef __linux__
#include <sys/types.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
int syncfs(int fd);
#include <linux/stat.h>
// Named apart from `struct statx`, which Swift would otherwise take the call for.
int statx_call(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buffer) __asm__("statx");
int fallocate(int fd, int mode, off_t offset, off_t length);
ssize_t getrandom(void *buffer, size_t length, unsigned int flags);
#include <spawn.h>
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
#endif
#endif

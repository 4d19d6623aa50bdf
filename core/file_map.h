/* A file mapped into memory whose bytes back tensors directly (safetensors'
 * memory-mapped loading). The mapping is private and copy-on-write: tensors made
 * from it can be written in place without touching the file. The map is
 * refcounted; every tensor storage made from it holds a reference, so the memory
 * stays mapped until the last such tensor is freed. If another process truncates
 * the file while it is mapped, touching the lost pages raises SIGBUS: that is the
 * price of mmap, and why loaders offer a copying mode too. */
#ifndef EM_FILE_MAP_H
#define EM_FILE_MAP_H

#include <stdint.h>

#include "tensor.h"

typedef struct em_file_map em_file_map;

/* Maps the whole regular file at path; NULL with an error (missing file, empty
 * file, mmap refused). The caller owns one reference. */
em_file_map *em_file_map_open(const char *path);
/* Maps size bytes of an open file (a worker's memfd); the fd may be closed after.
 * shared = 1 maps MAP_SHARED: for a memfd no one else writes any more, in-place
 * writes then cost no copy-on-write faults. */
em_file_map *em_file_map_open_fd(int fd, int64_t size, int shared);
int64_t em_file_map_size(const em_file_map *m);
const void *em_file_map_data(const em_file_map *m);
void em_file_map_retain(em_file_map *m);
void em_file_map_release(em_file_map *m);
/* A contiguous tensor of dtype dt and these sizes over the bytes at `offset` of
 * the file. The range is checked against the file size. When offset is not a
 * multiple of the element size the data is copied (unaligned element access is
 * undefined in C), as are empty tensors. */
em_tensor *em_file_map_tensor(em_file_map *m, int64_t offset, em_dtype dt, int ndim, const int64_t *sizes);

#endif

/* Raw tensor bytes to and from files and memory: the primitive every file format
 * (Ember's checkpoints, safetensors, .npy, PyTorch's zip files) builds on. Data is
 * the tensor's elements in row-major order, little-endian, with no header; the
 * format code around it owns the shapes and offsets. Readers check every length
 * against what the file or buffer still holds before allocating, so a hostile
 * length gives an error, never a huge allocation. CPU tensors only. */
#ifndef EM_TENSOR_IO_H
#define EM_TENSOR_IO_H

#include <stdio.h>

#include "tensor.h"

/* Bytes of a tensor of dtype dt and these sizes; -1 with an error when a size is
 * negative or the product overflows. */
int64_t em_io_nbytes(em_dtype dt, int ndim, const int64_t *sizes);
/* Writes t's elements (a contiguous copy when t is strided). 0 or -1. */
int em_io_write(FILE *f, em_tensor *t);
/* Reads a new tensor from the file's current position. */
em_tensor *em_io_read(FILE *f, em_dtype dt, int ndim, const int64_t *sizes);
/* A new tensor holding a copy of n bytes at buf (n must equal the tensor's size). */
em_tensor *em_io_from_bytes(const void *buf, size_t n, em_dtype dt, int ndim, const int64_t *sizes);
/* zlib's CRC-32 of n bytes, continuing from crc (0 to start). Buffers of 8 MiB and
 * more are split across the OpenMP threads and joined with crc32_combine (same value). */
uint32_t em_io_crc32(uint32_t crc, const void *buf, size_t n);
/* CRC-32C (Castagnoli; iSCSI, ext4) of n bytes, continuing from crc (0 to start):
 * the SSE4.2 crc32 instruction where the CPU has it (checked at run time), a table
 * otherwise. crc32c("123456789") = 0xE3069283. */
uint32_t em_io_crc32c(uint32_t crc, const void *buf, size_t n);

typedef enum { EM_CRC_NONE, EM_CRC_32, EM_CRC_32C } em_crc_kind;
/* em_io_read that also checksums the bytes as they arrive (read in 4 MiB chunks,
 * each checksummed while it is still in cache): *crc continues from its value. */
em_tensor *em_io_read_crc(FILE *f, em_dtype dt, int ndim, const int64_t *sizes, em_crc_kind kind,
                          uint32_t *crc);

#endif

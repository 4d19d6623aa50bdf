/* PNG images to and from tensors, through libpng. Decoding takes the whole file in
 * memory and returns a C×H×W tensor: palettes are expanded to RGB, a tRNS chunk
 * becomes an alpha channel, 1/2/4-bit gray is widened to 8 bits, interlaced images
 * are de-interlaced; gamma and colour chunks are ignored (as PIL does). Every libpng
 * error (corrupt, truncated, hostile sizes) comes back as -1/NULL with a message
 * (core/error.h); libpng's longjmp never leaves this file. */
#ifndef EM_PNG_H
#define EM_PNG_H

#include <stddef.h>

#include "tensor.h"

/* Images with more samples (width * height * channels) are refused before any
 * pixel memory is allocated. */
#define EM_PNG_MAX_SAMPLES ((int64_t)1 << 28)

typedef struct em_png_info {
    int width, height;
    int channels;   /* of the decoded tensor: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int bit_depth;  /* of the file: 1, 2, 4, 8 or 16 */
    int color_type; /* of the file: PNG_COLOR_TYPE_* (0 gray, 2 RGB, 3 palette, 4 GA, 6 RGBA) */
    int interlaced; /* 1 for Adam7 */
} em_png_info;

/* Decodes len bytes of a PNG file. Returns a new C×H×W tensor: uint8 for files of
 * at most 8 bits per sample, int32 holding 0..65535 for 16-bit files. info (may be
 * NULL) receives what the file held. NULL with an error message on bad input. */
em_tensor *em_png_decode(const void *buf, size_t len, em_png_info *info);

/* Encodes a C×H×W (C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) or H×W CPU tensor:
 * uint8 gives an 8-bit file; int32/int64 holding 0..65535 gives a 16-bit file.
 * level is zlib's compression level (-1 for the default, 0..9). On success *out
 * is a malloc'd buffer of *len bytes that the caller frees; 0, or -1 with an error. */
int em_png_encode(em_tensor *t, int level, void **out, size_t *len);

#endif

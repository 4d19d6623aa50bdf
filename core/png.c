/* PNG decoding and encoding through libpng (see png.h).
 *
 * libpng reports errors by longjmp. Each public function keeps everything it owns
 * in a context struct that lives in its own frame, and calls a *_run helper that
 * does setjmp and all the libpng work; the helper's only local that matters after
 * a longjmp is the context pointer, which never changes, so no volatile is needed
 * and the caller frees whatever the context holds on both paths. */
#include "png.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "dtype.h"
#include "error.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define EM_PNG_SWAP 0
#else
#define EM_PNG_SWAP 1 /* PNG stores 16-bit samples big-endian */
#endif

/* zlib's deflate cannot expand more than 1032:1, so a file of n bytes cannot hold
 * more than about 1032 n bytes of pixel rows: a header claiming more is corrupt, and
 * is refused before the rows are allocated. */
#define EM_PNG_MAX_RATIO 1040

typedef struct png_ctx {
    png_structp png;
    png_infop info;
    /* decoding: the input; encoding: the output buffer (grown by on_write) */
    const unsigned char *in;
    unsigned char *out;
    size_t len, pos, cap;
    unsigned char *rows;  /* (H, W*C) interleaved samples, 1 or 2 bytes each */
    png_bytep *row_ptrs;  /* H pointers into rows */
    em_tensor *t;         /* the decoded tensor */
    char msg[256];
} png_ctx;

static void on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (msg != c->msg)
        snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* warnings (bad ancillary chunks, gamma) are not worth a message */
    (void)msg;
}

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) {
        snprintf(c->msg, sizeof c->msg, "truncated file (%zu bytes, needed %zu more at offset %zu)", c->len,
                 n - (c->len - c->pos), c->pos);
        png_error(png, c->msg);
    }
    memcpy(dst, c->in + c->pos, n);
    c->pos += n;
}

static void on_write(png_structp png, png_bytep src, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->cap - c->len) {
        size_t cap = c->cap ? c->cap : 4096;
        while (n > cap - c->len) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "output too large");
            cap *= 2;
        }
        unsigned char *p = realloc(c->out, cap);
        if (!p)
            png_error(png, "out of memory");
        c->out = p;
        c->cap = cap;
    }
    memcpy(c->out + c->len, src, n);
    c->len += n;
}

static void on_flush(png_structp png)
{
    (void)png;
}

static void ctx_free(png_ctx *c, int reading)
{
    if (c->png) {
        if (reading)
            png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
        else
            png_destroy_write_struct(&c->png, c->info ? &c->info : NULL);
    }
    free(c->rows);
    free(c->row_ptrs);
}

/* Points row_ptrs at the h rows of rb bytes; -1 with c->msg when out of memory. */
static int alloc_rows(png_ctx *c, size_t h, size_t rb)
{
    c->rows = malloc(h > 0 && rb > 0 ? h * rb : 1);
    c->row_ptrs = malloc(h * sizeof *c->row_ptrs);
    if (!c->rows || !c->row_ptrs) {
        snprintf(c->msg, sizeof c->msg, "out of memory for %zu rows of %zu bytes", h, rb);
        return -1;
    }
    for (size_t y = 0; y < h; y++)
        c->row_ptrs[y] = c->rows + y * rb;
    return 0;
}

/* ---- decoding ---- */

static int decode_run(png_ctx *c, em_png_info *inf)
{
    if (setjmp(png_jmpbuf(c->png)))
        return -1;
    png_structp png = c->png;
    png_infop info = c->info;
    png_set_read_fn(png, c, on_read);
    png_set_user_limits(png, 1000000, 1000000);
    png_read_info(png, info);

    png_uint_32 w, h;
    int bd, ct, il;
    png_get_IHDR(png, info, &w, &h, &bd, &ct, &il, NULL, NULL);
    /* bytes of filtered rows the compressed data has to expand to (more with Adam7) */
    uint64_t raw = (uint64_t)h * ((uint64_t)png_get_rowbytes(png, info) + 1);
    if (raw > (uint64_t)EM_PNG_MAX_RATIO * c->len + 4096) {
        snprintf(c->msg, sizeof c->msg,
                 "a %ux%u image cannot fit in a file of %zu bytes (corrupt or truncated header)", (unsigned)w,
                 (unsigned)h, c->len);
        return -1;
    }

    if (ct == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (bd == 16 && EM_PNG_SWAP)
        png_set_swap(png);
    if (il != PNG_INTERLACE_NONE)
        png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int ch = png_get_channels(png, info);
    int obd = png_get_bit_depth(png, info); /* 8 or 16 after the expansions */
    size_t rb = png_get_rowbytes(png, info);
    size_t bps = obd == 16 ? 2 : 1;
    if (ch < 1 || ch > 4 || (obd != 8 && obd != 16) || rb != (size_t)w * (size_t)ch * bps) {
        snprintf(c->msg, sizeof c->msg, "unsupported layout (%d channels of %d bits, %zu bytes per row)", ch, obd,
                 rb);
        return -1;
    }
    int64_t samples = (int64_t)w * (int64_t)h * ch; /* w, h <= 10^6: no overflow */
    if (samples > EM_PNG_MAX_SAMPLES) {
        snprintf(c->msg, sizeof c->msg, "image of %ux%ux%d samples is larger than the limit of %lld", (unsigned)w,
                 (unsigned)h, ch, (long long)EM_PNG_MAX_SAMPLES);
        return -1;
    }
    if (alloc_rows(c, h, rb) < 0)
        return -1;
    int64_t sizes[3] = { ch, h, w };
    c->t = em_tensor_empty(3, sizes, obd == 16 ? EM_INT32 : EM_UINT8, EM_CPU);
    if (!c->t) {
        snprintf(c->msg, sizeof c->msg, "%s", em_last_error());
        return -1;
    }
    png_read_image(png, c->row_ptrs);
    png_read_end(png, NULL);

    /* (H, W, C) interleaved -> (C, H, W) */
    size_t plane = (size_t)w * h;
    if (obd == 8) {
        uint8_t *o = em_tensor_data(c->t);
        for (size_t y = 0; y < h; y++) {
            const uint8_t *r = c->row_ptrs[y];
            for (int k = 0; k < ch; k++) {
                uint8_t *dst = o + k * plane + y * w;
                for (size_t x = 0; x < w; x++)
                    dst[x] = r[x * ch + k];
            }
        }
    } else {
        int32_t *o = em_tensor_data(c->t);
        for (size_t y = 0; y < h; y++) {
            const uint8_t *r = c->row_ptrs[y];
            for (int k = 0; k < ch; k++) {
                int32_t *dst = o + k * plane + y * w;
                for (size_t x = 0; x < w; x++) {
                    uint16_t v;
                    memcpy(&v, r + 2 * (x * ch + k), 2);
                    dst[x] = v;
                }
            }
        }
    }
    if (inf) {
        inf->width = (int)w;
        inf->height = (int)h;
        inf->channels = ch;
        inf->bit_depth = bd;
        inf->color_type = ct;
        inf->interlaced = il != PNG_INTERLACE_NONE;
    }
    return 0;
}

em_tensor *em_png_decode(const void *buf, size_t len, em_png_info *inf)
{
    if (len < 8 || png_sig_cmp((png_const_bytep)buf, 0, 8) != 0) {
        em_error("png: not a PNG file (%s)", len < 8 ? "shorter than the 8-byte signature"
                                                    : "the 8-byte signature does not match");
        return NULL;
    }
    png_ctx c;
    memset(&c, 0, sizeof c);
    c.in = buf;
    c.len = len;
    c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
    if (c.png)
        c.info = png_create_info_struct(c.png);
    if (!c.png || !c.info) {
        ctx_free(&c, 1);
        em_error("png: out of memory creating the decoder");
        return NULL;
    }
    int rc = decode_run(&c, inf);
    ctx_free(&c, 1);
    if (rc < 0) {
        if (c.t)
            em_tensor_release(c.t);
        em_error("png: %s", c.msg[0] ? c.msg : "decoding failed");
        return NULL;
    }
    return c.t;
}

/* ---- encoding ---- */

static int encode_run(png_ctx *c, int w, int h, int bd, int ct, int level)
{
    if (setjmp(png_jmpbuf(c->png)))
        return -1;
    png_set_write_fn(c->png, c, on_write, on_flush);
    png_set_IHDR(c->png, c->info, (png_uint_32)w, (png_uint_32)h, bd, ct, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (level >= 0)
        png_set_compression_level(c->png, level);
    png_write_info(c->png, c->info);
    if (bd == 16 && EM_PNG_SWAP)
        png_set_swap(c->png);
    png_write_image(c->png, c->row_ptrs);
    png_write_end(c->png, NULL);
    return 0;
}

static const int COLOR_TYPES[5] = { -1, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                     PNG_COLOR_TYPE_RGB_ALPHA };

/* Copies c's (C, H, W) samples into the interleaved rows; -1 with c->msg when a
 * 16-bit sample is out of range. */
static int fill_rows(png_ctx *c, const em_tensor *t, int ch, size_t h, size_t w)
{
    size_t plane = h * w;
    if (t->dtype == EM_UINT8) {
        const uint8_t *s = em_tensor_data(t);
        for (size_t y = 0; y < h; y++)
            for (int k = 0; k < ch; k++)
                for (size_t x = 0; x < w; x++)
                    c->row_ptrs[y][x * ch + k] = s[k * plane + y * w + x];
        return 0;
    }
    for (size_t y = 0; y < h; y++) {
        for (int k = 0; k < ch; k++) {
            for (size_t x = 0; x < w; x++) {
                size_t i = k * plane + y * w + x;
                int64_t v = t->dtype == EM_INT32 ? ((const int32_t *)em_tensor_data(t))[i]
                                                 : ((const int64_t *)em_tensor_data(t))[i];
                if (v < 0 || v > 65535) {
                    snprintf(c->msg, sizeof c->msg, "16-bit samples must be in 0..65535, got %lld", (long long)v);
                    return -1;
                }
                uint16_t u = (uint16_t)v;
                memcpy(c->row_ptrs[y] + 2 * (x * ch + k), &u, 2);
            }
        }
    }
    return 0;
}

int em_png_encode(em_tensor *t, int level, void **out, size_t *len)
{
    char shape[EM_SHAPE_BUF];
    *out = NULL;
    *len = 0;
    if (em_tensor_device(t).type != EM_DEV_CPU)
        return em_error("png encode: expected a CPU tensor (move it with :to('cpu') first)");
    if (t->dtype != EM_UINT8 && t->dtype != EM_INT32 && t->dtype != EM_INT64)
        return em_error("png encode: expected uint8 (8-bit) or int32/int64 (16-bit) samples, got %s",
                        em_dtype_name(t->dtype));
    if (t->ndim != 2 && t->ndim != 3)
        return em_error("png encode: expected a CxHxW or HxW image, got %s",
                        em_tensor_shape_str(t, shape, sizeof shape));
    int64_t ch = t->ndim == 3 ? t->sizes[0] : 1;
    int64_t h = t->sizes[t->ndim - 2], w = t->sizes[t->ndim - 1];
    if (ch < 1 || ch > 4)
        return em_error("png encode: expected 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels, got %s",
                        em_tensor_shape_str(t, shape, sizeof shape));
    if (h < 1 || w < 1 || h > 1000000 || w > 1000000 || h * w * ch > EM_PNG_MAX_SAMPLES)
        return em_error("png encode: image size %s is empty or larger than the limit (10^6 per side, %lld samples)",
                        em_tensor_shape_str(t, shape, sizeof shape), (long long)EM_PNG_MAX_SAMPLES);
    if (level < -1 || level > 9)
        return em_error("png encode: compression level must be -1 (default) or 0..9, got %d", level);
    int bd = t->dtype == EM_UINT8 ? 8 : 16;

    em_tensor *src = em_contiguous(t);
    if (!src)
        return -1;
    png_ctx c;
    memset(&c, 0, sizeof c);
    int rc = alloc_rows(&c, (size_t)h, (size_t)(w * ch * (bd / 8)));
    if (rc == 0)
        rc = fill_rows(&c, src, (int)ch, (size_t)h, (size_t)w);
    em_tensor_release(src);
    if (rc == 0) {
        c.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, on_error, on_warning);
        if (c.png)
            c.info = png_create_info_struct(c.png);
        if (!c.png || !c.info) {
            snprintf(c.msg, sizeof c.msg, "out of memory creating the encoder");
            rc = -1;
        }
    }
    if (rc == 0)
        rc = encode_run(&c, (int)w, (int)h, bd, COLOR_TYPES[ch], level);
    ctx_free(&c, 0);
    if (rc < 0) {
        free(c.out);
        return em_error("png encode: %s", c.msg[0] ? c.msg : "encoding failed");
    }
    *out = c.out;
    *len = c.len;
    return 0;
}

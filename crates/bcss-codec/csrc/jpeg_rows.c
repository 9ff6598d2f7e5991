/* Row-by-row JPEG decoding through libjpeg-turbo's libjpeg API (jpeg_read_scanlines), for
 * crates/bcss/src/codec/jpeg.rs (`RowDecoder`).
 *
 * Why C: libjpeg reports errors through a callback that must not return, so every call into it
 * sits under setjmp here, and the longjmp never crosses a Rust frame. The settings are those of
 * TurboJPEG's tjDecompress2 with default flags plus TJFLAG_STOPONWARNING (what `decode_rgb`
 * uses): output JCS_EXT_RGB, the default DCT (JDCT_ISLOW), fancy upsampling, no scaling, and
 * every warning ("premature end of data", "corrupt data") an error. Same library, same settings,
 * so the same pixels as Pillow's (pinned by tests/it/jpeg_identity.rs).
 *
 * The data comes from a reader (a Rust callback): an HTTP body is decoded while it arrives, and
 * never held whole. The source manager is libjpeg's own stdio one with the file read replaced:
 * at the end of the data it inserts a fake EOI and warns "premature end", which, warnings being
 * errors, fails the decode; a failed read fails it too (the reader keeps its own error). The
 * callback returns before any longjmp, so no Rust frame is ever jumped over.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Reads up to `len` bytes into `buf`: the count, 0 at the end of the data, or -1 on an error. */
typedef long (*bcss_read_fn)(void *ctx, unsigned char *buf, unsigned long len);

#define BCSS_INPUT_BUFFER 65536

struct bcss_jpeg {
  struct jpeg_decompress_struct d;
  struct jpeg_error_mgr err;
  struct jpeg_source_mgr src;
  bcss_read_fn read;
  void *ctx;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int created;
  int read_failed;
  JOCTET input[BCSS_INPUT_BUFFER];
};

/* libjpeg's own memory for one image (beyond the caller's rows): a baseline JPEG needs a few MB
 * whatever its size; a progressive or multi-scan one keeps every coefficient of the image
 * (about 6 bytes a pixel), which is refused past this, so memory stays flat. */
#define BCSS_MAX_MEMORY (256L * 1024 * 1024)

static void on_error(j_common_ptr c) {
  struct bcss_jpeg *j = (struct bcss_jpeg *)c->client_data;
  if (c->err->msg_code == JERR_NO_BACKING_STORE)
    snprintf(j->message, sizeof j->message,
             "decoding this JPEG would need more than %ld MB (a progressive JPEG keeps the whole image)",
             BCSS_MAX_MEMORY / (1024 * 1024));
  else
    (*c->err->format_message)(c, j->message);
  longjmp(j->jump, 1);
}

static void on_message(j_common_ptr c, int level) {
  if (level < 0) on_error(c); /* a warning: as TJFLAG_STOPONWARNING, an error */
}

struct bcss_jpeg *bcss_jpeg_new(void) {
  struct bcss_jpeg *volatile j = calloc(1, sizeof(struct bcss_jpeg));
  if (!j) return NULL;
  j->d.err = jpeg_std_error(&j->err);
  j->err.error_exit = on_error;
  j->err.emit_message = on_message;
  j->d.client_data = j;
  if (setjmp(j->jump)) {
    free(j);
    return NULL;
  }
  jpeg_create_decompress(&j->d);
  j->created = 1;
  return j;
}

static void src_init(j_decompress_ptr d) { (void)d; }

static boolean src_fill(j_decompress_ptr d) {
  struct bcss_jpeg *j = (struct bcss_jpeg *)d->client_data;
  long n = j->read(j->ctx, j->input, BCSS_INPUT_BUFFER);
  if (n < 0 || n > BCSS_INPUT_BUFFER) {
    j->read_failed = 1;
    snprintf(j->message, sizeof j->message, "reading the JPEG data failed");
    longjmp(j->jump, 1);
  }
  if (n == 0) {
    WARNMS(d, JWRN_JPEG_EOF); /* an error: see on_message */
    j->input[0] = (JOCTET)0xFF;
    j->input[1] = (JOCTET)JPEG_EOI;
    n = 2;
  }
  d->src->next_input_byte = j->input;
  d->src->bytes_in_buffer = (size_t)n;
  return TRUE;
}

static void src_skip(j_decompress_ptr d, long count) {
  if (count <= 0) return;
  while (count > (long)d->src->bytes_in_buffer) {
    count -= (long)d->src->bytes_in_buffer;
    src_fill(d);
  }
  d->src->next_input_byte += (size_t)count;
  d->src->bytes_in_buffer -= (size_t)count;
}

static void src_term(j_decompress_ptr d) { (void)d; }

const char *bcss_jpeg_message(const struct bcss_jpeg *j) { return j->message; }

/* 1 when the last failure was the reader's (its error is on the Rust side), else 0. */
int bcss_jpeg_read_failed(const struct bcss_jpeg *j) { return j->read_failed; }

/* Reads the header from `read(ctx, ...)`, which is called until the decoder is freed (`ctx`
 * must live that long). 0 or -1. */
int bcss_jpeg_header(struct bcss_jpeg *j, bcss_read_fn read, void *ctx, int *width, int *height) {
  if (setjmp(j->jump)) return -1;
  j->read = read;
  j->ctx = ctx;
  j->src.init_source = src_init;
  j->src.fill_input_buffer = src_fill;
  j->src.skip_input_data = src_skip;
  j->src.resync_to_restart = jpeg_resync_to_restart;
  j->src.term_source = src_term;
  j->src.next_input_byte = NULL;
  j->src.bytes_in_buffer = 0;
  j->d.src = &j->src;
  jpeg_read_header(&j->d, TRUE);
  *width = (int)j->d.image_width;
  *height = (int)j->d.image_height;
  return 0;
}

/* Starts decompression to packed RGB. 0 or -1. */
int bcss_jpeg_start(struct bcss_jpeg *j) {
  if (setjmp(j->jump)) return -1;
  j->d.out_color_space = JCS_EXT_RGB;
  j->d.mem->max_memory_to_use = BCSS_MAX_MEMORY;
  jpeg_start_decompress(&j->d);
  if (j->d.output_components != 3) {
    snprintf(j->message, sizeof j->message, "decoder gives %d components, not 3", j->d.output_components);
    return -1;
  }
  return 0;
}

/* Decodes up to `max_rows` rows into `out` (rows of width * 3 bytes). Rows decoded, or -1. */
int bcss_jpeg_rows(struct bcss_jpeg *j, unsigned char *out, int max_rows) {
  JSAMPROW rows[16];
  volatile int done = 0; /* volatile: set between setjmp and a possible longjmp */
  size_t pitch;
  if (setjmp(j->jump)) return -1;
  pitch = (size_t)j->d.output_width * 3;
  while (done < max_rows && j->d.output_scanline < j->d.output_height) {
    int n = max_rows - done, i;
    JDIMENSION got;
    if (n > 16) n = 16;
    for (i = 0; i < n; i++) rows[i] = out + (size_t)(done + i) * pitch;
    got = jpeg_read_scanlines(&j->d, rows, (JDIMENSION)n);
    if (got == 0) {
      snprintf(j->message, sizeof j->message, "the decoder returned no rows");
      return -1;
    }
    done += (int)got;
  }
  return done;
}

/* Ends decompression (after the last row). 0 or -1. */
int bcss_jpeg_finish(struct bcss_jpeg *j) {
  if (setjmp(j->jump)) return -1;
  jpeg_finish_decompress(&j->d);
  return 0;
}

void bcss_jpeg_free(struct bcss_jpeg *j) {
  if (!j) return;
  if (j->created && !setjmp(j->jump)) jpeg_destroy_decompress(&j->d);
  free(j);
}

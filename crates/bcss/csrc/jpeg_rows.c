/* Row-by-row JPEG decoding through libjpeg-turbo's libjpeg API (jpeg_read_scanlines), for
 * crates/bcss/src/codec/jpeg.rs (`RowDecoder`).
 *
 * Why C: libjpeg reports errors through a callback that must not return, so every call into it
 * sits under setjmp here, and the longjmp never crosses a Rust frame. The settings are those of
 * TurboJPEG's tjDecompress2 with default flags plus TJFLAG_STOPONWARNING (what `decode_rgb`
 * uses): output JCS_EXT_RGB, the default DCT (JDCT_ISLOW), fancy upsampling, no scaling, and
 * every warning ("premature end of data", "corrupt data") an error. Same library, same settings,
 * so the same pixels as Pillow's (pinned by tests/it/jpeg_identity.rs).
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

struct bcss_jpeg {
  struct jpeg_decompress_struct d;
  struct jpeg_error_mgr err;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int created;
};

static void on_error(j_common_ptr c) {
  struct bcss_jpeg *j = (struct bcss_jpeg *)c->client_data;
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

const char *bcss_jpeg_message(const struct bcss_jpeg *j) { return j->message; }

/* Reads the header of `len` bytes at `buf` (which must outlive the decoder). 0 or -1. */
int bcss_jpeg_header(struct bcss_jpeg *j, const unsigned char *buf, unsigned long len, int *width, int *height) {
  if (setjmp(j->jump)) return -1;
  jpeg_mem_src(&j->d, buf, len);
  jpeg_read_header(&j->d, TRUE);
  *width = (int)j->d.image_width;
  *height = (int)j->d.image_height;
  return 0;
}

/* Starts decompression to packed RGB. 0 or -1. */
int bcss_jpeg_start(struct bcss_jpeg *j) {
  if (setjmp(j->jump)) return -1;
  j->d.out_color_space = JCS_EXT_RGB;
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

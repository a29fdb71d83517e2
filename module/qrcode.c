/*
 * module/qrcode.c - a link's QR code: GET <prefix>/<slug>.svg or .png,
 * ?size=N pixels (50 to 1000, 300 by default, as Shlink's).
 *
 * The code encodes the short URL, never the target (so it shows nothing a
 * password hides, and follows the link's changes); Debian's libqrencode
 * makes it, at error correction level M, and libpng writes the PNG.  The
 * SVG is one <path> of the dark modules, drawn from the same matrix.
 * Answered from the shared table (the link must exist and be valid
 * already), with no database read.  A quiet zone of 4 modules surrounds
 * the code, as the QR standard asks.
 */
#include <png.h>
#include <qrencode.h>
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include "ml_module.h"

APLOG_USE_MODULE(minilink);

#define QUIET_ZONE 4
#define DEFAULT_SIZE 300
#define SMALLEST 50
#define LARGEST 1000

/* ?size=N, or the default; 0 when it is not a number in range. */
static int size_asked(const request_rec *r)
{
    const char *at = r->args ? strstr(r->args, "size=") : NULL;
    char *end;
    long size;

    if (at == NULL || (at != r->args && at[-1] != '&')) {
        return DEFAULT_SIZE;
    }
    size = strtol(at + 5, &end, 10);
    return end != at + 5 && (*end == '\0' || *end == '&') && size >= SMALLEST
           && size <= LARGEST ? (int)size : 0;
}

static int dark(const QRcode *code, int x, int y)
{
    return code->data[y * code->width + x] & 1;
}

/* One path of unit squares, one per dark module, in a viewBox of modules:
 * the browser scales it to size without blur. */
static void send_svg(request_rec *r, const QRcode *code, int size)
{
    int modules = code->width + 2 * QUIET_ZONE, x, y;

    ap_set_content_type(r, "image/svg+xml");
    ap_rprintf(r, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%d\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>"
               "<path fill=\"#000\" d=\"", size, size, modules, modules);
    for (y = 0; y < code->width; y++) {
        for (x = 0; x < code->width; x++) {
            if (dark(code, x, y)) {
                ap_rprintf(r, "M%d %dh1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE);
            }
        }
    }
    ap_rputs("\"/></svg>\n", r);
}

static void write_to_request(png_structp png, png_bytep data, png_size_t length)
{
    ap_rwrite(data, (int)length, png_get_io_ptr(png));
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

/* A one-bit greyscale PNG, each module scale pixels square (the largest
 * whole number that fits size). */
static int send_png(request_rec *r, const QRcode *code, int size)
{
    int modules = code->width + 2 * QUIET_ZONE;
    int scale = size / modules > 0 ? size / modules : 1;
    int pixels = modules * scale, x, y;
    png_bytep row = apr_palloc(r->pool, (apr_size_t)(pixels + 7) / 8);
    png_structp png;
    png_infop info;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png ? png_create_info_struct(png) : NULL;
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "image/png");
    png_set_write_fn(png, r, write_to_request, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)pixels, (png_uint_32)pixels, 1,
                 PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (y = 0; y < pixels; y++) {
        int module_y = y / scale - QUIET_ZONE;
        memset(row, 0xff, (apr_size_t)(pixels + 7) / 8);
        for (x = 0; x < pixels; x++) {
            int module_x = x / scale - QUIET_ZONE;
            if (module_x >= 0 && module_y >= 0 && module_x < code->width
                && module_y < code->width && dark(code, module_x, module_y)) {
                row[x / 8] &= (png_byte)~(0x80 >> (x % 8));
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return OK;
}

int ml_send_qr(request_rec *r, const char *url, int png)
{
    int size = size_asked(r), status;
    QRcode *code;

    if (size == 0) {
        return HTTP_BAD_REQUEST;
    }
    code = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, MLLOGNO(00044) "cannot make "
                      "the QR code of '%s'", url);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The same short URL, the same image: caches may keep it a day. */
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=86400");
    status = OK;
    if (png) {
        status = send_png(r, code, size);
    }
    else {
        send_svg(r, code, size);
    }
    QRcode_free(code);
    return status;
}

int ml_handle_qr(request_rec *r, const ml_dir_config *conf, const char *slug,
                 int png)
{
    apr_size_t len = strlen(slug);
    ml_cache_entry entry;
    ml_cache_rules rules;

    if (r->method_number != M_GET) {
        ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (conf->database->cache == NULL) {
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (!ml_slug_valid(slug, len)
        || !(conf->any_case == 1
             ? ml_cache_lookup_any_case(conf->database->cache, slug, len, &entry)
             : ml_cache_lookup(conf->database->cache, slug, len, &entry))) {
        return HTTP_NOT_FOUND;
    }
    if (entry.extension) {
        ml_cache_rules_of(&entry, &rules);
        if (rules.valid_since
            && apr_time_sec(r->request_time) < rules.valid_since) {
            return HTTP_NOT_FOUND;     /* not there yet */
        }
    }
    return ml_send_qr(r, ml_short_url_for(r, slug), png);
}

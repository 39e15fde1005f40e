// Inline wrappers for the FFmpeg macros and version-dependent calls that Swift
// cannot import directly. Keep this file small: logic belongs in Swift.
#ifndef CFFMPEG_SHIM_H
#define CFFMPEG_SHIM_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

static inline int cffmpeg_averror_eof(void) { return AVERROR_EOF; }
static inline int cffmpeg_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int cffmpeg_averror_enomem(void) { return AVERROR(ENOMEM); }
static inline int cffmpeg_averror_invaliddata(void) { return AVERROR_INVALIDDATA; }
static inline int cffmpeg_averror_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }
static inline int cffmpeg_averror_demuxer_not_found(void) { return AVERROR_DEMUXER_NOT_FOUND; }
static inline int cffmpeg_averror_from_errno(int e) { return AVERROR(e); }
static inline int cffmpeg_errno_from_averror(int e) { return AVUNERROR(e); }
static inline int64_t cffmpeg_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int cffmpeg_time_base(void) { return AV_TIME_BASE; }

/// The text of an FFmpeg error code (what `av_err2str` gives in C).
static inline void cffmpeg_error_string(int code, char *buffer, size_t size) {
    if (av_strerror(code, buffer, size) < 0) {
        snprintf(buffer, size, "FFmpeg error %d", code);
    }
}

/// Counter-clockwise rotation in degrees stored in the stream's display matrix
/// (as `av_display_rotation_get` reports it), or 0 when there is none.
/// `*flipped` is set when the matrix also mirrors the picture.
static inline double cffmpeg_stream_display_rotation(const AVStream *stream, int *flipped) {
    const int32_t *matrix = NULL;
#if LIBAVFORMAT_VERSION_MAJOR >= 61
    const AVPacketSideData *sd = av_packet_side_data_get(stream->codecpar->coded_side_data,
                                                         stream->codecpar->nb_coded_side_data,
                                                         AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t)) matrix = (const int32_t *)sd->data;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (data && size >= 9 * sizeof(int32_t)) matrix = (const int32_t *)data;
#endif
    if (flipped) *flipped = 0;
    if (!matrix) return 0;
    double angle = av_display_rotation_get(matrix);
    if (angle != angle) return 0; // NaN: degenerate matrix
    if (flipped) {
        // A negative determinant of the 2x2 part means a mirror.
        int64_t det = (int64_t)matrix[0] * matrix[4] - (int64_t)matrix[1] * matrix[3];
        *flipped = det < 0;
    }
    return angle;
}

/// The frame's duration in stream time base, or 0 when unknown.
static inline int64_t cffmpeg_frame_duration(const AVFrame *frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    return frame->duration;
#else
    return frame->pkt_duration;
#endif
}

/// Whether the decoder flagged the frame as damaged.
static inline int cffmpeg_frame_is_corrupt(const AVFrame *frame) {
    return (frame->flags & AV_FRAME_FLAG_CORRUPT) != 0 || frame->decode_error_flags != 0;
}

// ---- Log capture -------------------------------------------------------------
// FFmpeg reports the useful half of many errors ("moov atom not found") only
// through av_log. We keep the error-level lines per thread (since the last clear) so the Swift side
// can attach it to the error it throws, and print to stderr only when asked.

static inline char *cffmpeg_last_log_buffer(void) {
    static _Thread_local char buffer[1024];
    return buffer;
}

static inline int *cffmpeg_echo_level(void) {
    static int level = AV_LOG_QUIET;
    return &level;
}

static inline void cffmpeg_log_callback(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > AV_LOG_WARNING) return;
    char line[512];
    int print_prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof(line), &print_prefix);
    va_end(copy);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (level <= AV_LOG_ERROR && n > 0) {
        // Keep every error line since the last clear, joined by "; ", as far as they fit.
        char *buffer = cffmpeg_last_log_buffer();
        size_t used = strlen(buffer);
        size_t room = 1024 - used;
        if (used > 0 && room > 3) { memcpy(buffer + used, "; ", 3); used += 2; room -= 2; }
        if (room > 1) {
            size_t copy = n < room - 1 ? n : room - 1;
            memcpy(buffer + used, line, copy);
            buffer[used + copy] = 0;
        }
    }
    if (level <= *cffmpeg_echo_level()) fprintf(stderr, "[ffmpeg] %s\n", line);
}

/// Routes FFmpeg's log through the capture above; lines at or below `echo_level`
/// (an AV_LOG_* value) are also printed to stderr.
static inline void cffmpeg_install_log_capture(int echo_level) {
    *cffmpeg_echo_level() = echo_level;
    av_log_set_callback(cffmpeg_log_callback);
}

/// Error lines logged on this thread since the last clear, joined by "; ".
static inline const char *cffmpeg_last_log_message(void) { return cffmpeg_last_log_buffer(); }
static inline void cffmpeg_clear_last_log_message(void) { cffmpeg_last_log_buffer()[0] = 0; }

#endif

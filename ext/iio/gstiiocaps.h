/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure functions between IIO data formats and GStreamer caps: the IIO type
 * string ("le:S12/16>>4"), the exact GstAudioFormat when there is one, the
 * caps an element offers for a set of channels, and the check of fixed
 * caps against them. No libiio calls: only struct iio_data_format. */
#pragma once

#include <gst/gst.h>
#include <gst/audio/audio.h>
#include <iio.h>

G_BEGIN_DECLS

#define GST_IIO_CAPS_MEDIA_TYPE "application/x-iio"

/* One enabled channel, in scan index order. */
typedef struct
{
  const gchar *id;              /* "voltage0" */
  struct iio_data_format format;
} GstIioCapsChannel;

/* The type string as iio_info prints it: "le:S12/16>>4", with "X<repeat>"
 * after the storage bits when repeat > 1 ("le:S12/16X2>>4"). */
gchar *gst_iio_caps_format_to_string (const struct iio_data_format * format);

/* Parses a type string (either case of s/u; "X<repeat>" optional) into
 * @format. FALSE when @str is not a type string. */
gboolean gst_iio_caps_format_from_string (const gchar * str,
    struct iio_data_format * format);

/* The GstAudioFormat whose samples are exactly @format (all storage bits
 * valid, no shift, no repeat; 24 valid bits in 32 storage bits is
 * S24_32/U24_32, whose top byte GStreamer ignores), else
 * GST_AUDIO_FORMAT_UNKNOWN. */
GstAudioFormat gst_iio_caps_format_to_audio (const struct iio_data_format *
    format);

/* The audio format shared by every channel, or GST_AUDIO_FORMAT_UNKNOWN
 * when the channels differ or any is not exactly an audio format. */
GstAudioFormat gst_iio_caps_channels_to_audio (const GstIioCapsChannel *
    channels, guint n_channels);

/* audio/x-raw (interleaved, channel-mask 0) when every channel is the
 * same exact audio format, then application/x-iio with the per-channel
 * type strings and channel ids. @rate 0 gives a rate range [1, MAX]. */
GstCaps *gst_iio_caps_build (const GstIioCapsChannel * channels,
    guint n_channels, guint rate);

/* Checks fixed @caps against the channels (count, formats, layout) and
 * @rate (when not 0). On a mismatch: FALSE and a
 * GST_CORE_ERROR_NEGOTIATION error "<device_name> expects 2 channels of
 * S16LE (le:S16/16>>0) at 1000000 Hz, got 3 channels of S16LE at
 * 1000000 Hz". channel-names are informative and not compared. */
gboolean gst_iio_caps_check (const GstIioCapsChannel * channels,
    guint n_channels, guint rate, const gchar * device_name,
    const GstCaps * caps, GError ** error);

/* "2 channels of S16LE (le:S16/16>>0) at 1000000 Hz" (what the device
 * expects), for messages. */
gchar *gst_iio_caps_describe_channels (const GstIioCapsChannel * channels,
    guint n_channels, guint rate);

G_END_DECLS

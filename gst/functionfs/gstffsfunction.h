/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstFfsFunction: owns one FunctionFS function through its ep0. Given the
 * function's mount point (e.g. /dev/ffs-NAME, mounted by the gadget's
 * configfs setup) it opens ep0, writes the descriptors (one
 * vendor-specific interface with one bulk endpoint, IN or OUT, at full,
 * high and super speed) and the interface string, and answers ep0's events
 * in a thread of its own for as long as it lives: the function's state
 * (bound to a UDC, enabled by the host, suspended) is what the elements
 * stream by. Control requests to the interface are stalled (the function
 * defines none). Freeing it closes ep0, which removes the endpoint files
 * and, once nothing of the function is open, unbinds the gadget: close the
 * endpoint file first. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS typedef enum
{
  GST_FFS_DIRECTION_IN,         /* device to host: ffssink */
  GST_FFS_DIRECTION_OUT,        /* host to device: ffssrc */
} GstFfsDirection;

typedef enum
{
  GST_FFS_FUNCTION_UNBOUND,     /* not bound to a UDC (never, or UNBIND) */
  GST_FFS_FUNCTION_BOUND,       /* bound; the host has not enabled the
                                 * interface (yet, or DISABLE) */
  GST_FFS_FUNCTION_ENABLED,     /* ENABLE: the endpoint moves data */
  GST_FFS_FUNCTION_GONE,        /* ep0 failed: the function was removed */
} GstFfsFunctionState;

typedef enum
{
  GST_FFS_FUNCTION_WAIT_DONE,
  GST_FFS_FUNCTION_WAIT_TIMEOUT,
  GST_FFS_FUNCTION_WAIT_CANCELLED,      /* the cancel fd became readable */
} GstFfsFunctionWait;

#define GST_TYPE_FFS_FUNCTION (gst_ffs_function_get_type ())
G_DECLARE_FINAL_TYPE (GstFfsFunction, gst_ffs_function, GST, FFS_FUNCTION,
    GObject)
/* Opens @mount/ep0 and writes the descriptors of one bulk endpoint in
 * direction @dir and the interface string @interface_name; the endpoint
 * file is then @mount/ep1. NULL with @error set (the message names the
 * path and the cause). */
     GstFfsFunction *gst_ffs_function_new (const gchar * mount,
    GstFfsDirection dir, const gchar * interface_name, GError ** error);

/* The data endpoint's file, @mount/ep1. */
     const gchar *gst_ffs_function_get_endpoint (GstFfsFunction * self);

/* The bulk endpoint's wMaxPacketSize at @speed_index 0 full, 1 high, 2
 * super speed. */
     guint gst_ffs_function_get_max_packet (GstFfsFunction * self,
    guint speed_index);

/* The state now; @enables (optional): how many ENABLE events came so far
 * (a reconnect shows as a new count); @suspended (optional): the bus is
 * suspended (SUSPEND without RESUME yet). */
     GstFfsFunctionState gst_ffs_function_get_state (GstFfsFunction * self,
    guint * enables, gboolean * suspended);

/* Why the function is not enabled, for error messages: "the USB host
 * disabled the interface or disconnected (DISABLE)", ... */
     const gchar *gst_ffs_function_describe_state (GstFfsFunctionState state);

/* Waits until the state is ENABLED (@enabled TRUE) or anything else
 * (FALSE), at most @timeout_ms, or until @cancel_fd (an eventfd, -1 for
 * none) is readable. */
     GstFfsFunctionWait gst_ffs_function_wait (GstFfsFunction * self,
    gboolean enabled, gint cancel_fd, gint timeout_ms);

/* Waits until the state is no longer @from, at most @timeout_ms, or until
 * @cancel_fd is readable. */
GstFfsFunctionWait gst_ffs_function_wait_change (GstFfsFunction * self,
    GstFfsFunctionState from, gint cancel_fd, gint timeout_ms);

/* Control requests stalled so far. */
     guint gst_ffs_function_get_setups_stalled (GstFfsFunction * self);

G_END_DECLS

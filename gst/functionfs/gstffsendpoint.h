/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GstFfsEndpoint: the data endpoint both FunctionFS elements stream on,
 * whatever the direction: the function of their own (function=, owned
 * from READY to NULL) or the endpoint file another program set up
 * (endpoint=), the endpoint file and its unlock eventfd (start to stop),
 * its descriptor's check, and its DMABUF ioctls (ATTACH, DETACH,
 * TRANSFER) with the guard of docs/kernel-bugs.md 16. A plain struct in
 * the element, used from its streaming thread and state changes; errors
 * are posted on the element, naming the endpoint file. What is queued and
 * when, and what a failed transfer means, stays the element's. */
#pragma once

#include <gst/gst.h>

#include "gstffsfunction.h"

G_BEGIN_DECLS typedef struct
{
  GstElement *element;          /* the owner (not referenced): messages */
  GstFfsDirection dir;
  GstFfsFunction *fn;           /* function=: NULL_TO_READY to READY_TO_NULL */
  gchar *path;                  /* the endpoint file in use */
  gint fd;                      /* the endpoint file, or -1 */
  gint cancel;                  /* eventfd: readable while unlocked, or -1 */
  gboolean desc_checked;        /* a bulk endpoint of dir (ENDPOINT_DESC) */
} GstFfsEndpoint;

void gst_ffs_endpoint_init (GstFfsEndpoint * self, GstElement * element,
    GstFfsDirection dir);

/* finalize: frees the path (the files are closed at stop). */
void gst_ffs_endpoint_clear (GstFfsEndpoint * self);

/* The element's change_state around its parent's: NULL_TO_READY creates
 * the function of the mount point *@function (read under the element's
 * object lock; NULL or empty: none) with the interface string
 * @interface_name, READY_TO_NULL (or a failed NULL_TO_READY) frees it. */
GstStateChangeReturn gst_ffs_endpoint_change_state (GstFfsEndpoint * self,
    GstStateChange transition, gchar ** function,
    const gchar * interface_name, GstElementClass * parent_class);

/* Under the element's object lock: the endpoint file to use from now, the
 * function's when it owns one, else @endpoint. */
void gst_ffs_endpoint_set_path (GstFfsEndpoint * self, const gchar * endpoint);

/* FALSE with an error posted when no endpoint file is given. */
gboolean gst_ffs_endpoint_check_path (GstFfsEndpoint * self);

/* Opens the endpoint file (non-blocking) and the unlock eventfd; FALSE
 * with an error posted and nothing left open. */
gboolean gst_ffs_endpoint_open (GstFfsEndpoint * self);

/* Closes the endpoint file (detaching every DMABUF still attached) and
 * the eventfd; any time. */
void gst_ffs_endpoint_close (GstFfsEndpoint * self);

/* The element's unlock and unlock_stop: the eventfd made readable, and
 * read empty again. */
void gst_ffs_endpoint_unlock (GstFfsEndpoint * self);
void gst_ffs_endpoint_unlock_stop (GstFfsEndpoint * self);

/* FUNCTIONFS_ENDPOINT_DESC: a bulk endpoint in the element's direction
 * (else an error posted), its packet size in @max_packet. When the ioctl
 * itself fails, FALSE with nothing posted and its errno in @err (the
 * element names the cause); else @err is 0. */
gboolean gst_ffs_endpoint_check_desc (GstFfsEndpoint * self,
    guint * max_packet, gint * err);

/* The function of ours is not bound to a UDC (or gone): no DETACH nor
 * TRANSFER then (docs/kernel-bugs.md 16). FALSE with endpoint=. */
gboolean gst_ffs_endpoint_unbound (GstFfsEndpoint * self);

/* FUNCTIONFS_DMABUF_ATTACH of @dmabuf; FALSE with @error set. */
gboolean gst_ffs_endpoint_attach (GstFfsEndpoint * self, gint dmabuf,
    GError ** error);

/* FUNCTIONFS_DMABUF_DETACH of @dmabuf, skipped while unbound (the close
 * of the endpoint file detaches it then). */
void gst_ffs_endpoint_detach (GstFfsEndpoint * self, gint dmabuf);

/* FUNCTIONFS_DMABUF_TRANSFER of the first @length bytes of @dmabuf: 0, or
 * the errno (ENODEV, not asked of the kernel, while unbound; EBUSY: a
 * fence on the DMABUF is pending). Never waits in the kernel. */
gint gst_ffs_endpoint_transfer (GstFfsEndpoint * self, gint dmabuf,
    gsize length);

/* After a DETACH cancelled a transfer on @dmabuf: waits (at most 1 s) for
 * it to end, on the DMABUF itself (every fence), never a sync file
 * (docs/kernel-bugs.md 15). */
void gst_ffs_endpoint_wait_cancelled (GstFfsEndpoint * self, gint dmabuf);

G_END_DECLS

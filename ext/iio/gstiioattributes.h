/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The attributes property: parses the item list, resolves every item to a
 * device, channel, buffer or debug attribute of any device of the
 * element's context, writes them in order and reads each back (drivers
 * round). Syntax (docs/iiosrc.md, "attributes"):
 *   name=value                      attribute of the element's device
 *   channel.name=value              channel attribute (element's direction
 *                                   first)
 *   [DEVICE:]in:CHANNEL:name=value  input channel attribute
 *   [DEVICE:]out:CHANNEL:name=value output channel attribute
 *   [DEVICE:]buffer:name=value      buffer attribute
 *   [DEVICE:]debug:name=value       debug attribute (debugfs)
 *   DEVICE:name=value               device attribute of DEVICE (or a
 *                                   channel attribute by its sysfs file
 *                                   name, out_altvoltage0_RX_LO_frequency)
 *   DEVICE:channel.name=value
 * DEVICE is an id (iio:device3), a name or a label. */
#pragma once

#include <gst/gst.h>
#include "gstiiodevice.h"

G_BEGIN_DECLS

/* Resolves every item of @attributes (comma list) before writing any, so
 * that a mistake anywhere leaves every device untouched, then writes them
 * in order. On success *@applied (when not NULL) is a new structure
 * "applied-attributes" with one string field per item, named as written
 * (the part before '=', trimmed), holding the value read back after the
 * write. Errors are GST_RESOURCE_ERROR_SETTINGS with complete user text
 * naming the item and the valid choices. Uses nothing of @device but its
 * libiio context and devices (libiio attribute calls, no GstIioDevice
 * state the streaming thread changes): callable while it streams. */
gboolean gst_iio_attributes_write (GstIioDevice * device,
    const gchar * attributes, GstStructure ** applied, GError ** error);

G_END_DECLS

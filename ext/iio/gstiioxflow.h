/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hardware loss counts from ADI's AXI ADC/DAC status register
 * (REG_STATUS, 0x80000088): sticky bits the core sets when its FIFO
 * overflowed (ADC, bit 2) or ran dry (DAC, bit 0), write 1 to clear.
 * Reached through the device's debugfs direct_reg_access, which libiio
 * reads locally and over ip: and usb: alike (iio_device_reg_read). */
#pragma once

#include "gstiiodevice.h"

G_BEGIN_DECLS

#define GST_IIO_XFLOW_REG 0x80000088u
#define GST_IIO_XFLOW_ADC_OVERFLOW (1u << 2)
#define GST_IIO_XFLOW_DAC_UNDERFLOW (1u << 0)

typedef struct _GstIioXflow GstIioXflow;

typedef enum
{
  GST_IIO_XFLOW_CLEAR,          /* the bit was clear */
  GST_IIO_XFLOW_SET,            /* set (now cleared), the last read was set too */
  GST_IIO_XFLOW_BURST,          /* set (now cleared), the last read was clear */
} GstIioXflowState;

/* Probes @device once: it has a direct_reg_access debug attribute and
 * reading the register works. Clears the device's bit (a stale event of
 * an earlier stream is not this stream's). NULL where there is no such
 * register (the reason is logged). Keeps a reference to @device. */
GstIioXflow *gst_iio_xflow_probe (GstIioDevice * device);

/* After a block: one register read, and a write only when the bit is set.
 * A failed read (device gone) turns the check off for the stream. Not
 * thread-safe: one caller (the streaming thread). */
GstIioXflowState gst_iio_xflow_poll (GstIioXflow * self);

/* The bit this direction watches, for messages. */
guint32 gst_iio_xflow_get_bit (GstIioXflow * self);

void gst_iio_xflow_free (GstIioXflow * self);

G_END_DECLS

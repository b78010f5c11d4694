/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IIO DMABUF user API (Linux 6.11, include/uapi/linux/iio/buffer.h),
 * for userspace headers older than the running kernel (Debian bookworm's
 * linux-libc-dev 6.1 has only IIO_BUFFER_GET_FD_IOCTL). The values are
 * kernel ABI and never change. */
#pragma once

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/iio/buffer.h>

#ifndef IIO_BUFFER_GET_FD_IOCTL
#define IIO_BUFFER_GET_FD_IOCTL _IOWR('i', 0x91, int)
#endif

#ifndef IIO_BUFFER_DMABUF_ATTACH_IOCTL
#define IIO_BUFFER_DMABUF_CYCLIC (1 << 0)

struct iio_dmabuf
{
  __u32 fd;
  __u32 flags;
  __u64 bytes_used;
};

#define IIO_BUFFER_DMABUF_ATTACH_IOCTL _IOW('i', 0x92, int)
#define IIO_BUFFER_DMABUF_DETACH_IOCTL _IOW('i', 0x93, int)
#define IIO_BUFFER_DMABUF_ENQUEUE_IOCTL _IOW('i', 0x94, struct iio_dmabuf)
#endif

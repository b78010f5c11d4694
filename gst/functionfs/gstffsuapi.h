/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The FunctionFS DMABUF user API (Linux 6.9,
 * include/uapi/linux/usb/functionfs.h), for userspace headers older than
 * the running kernel (Debian bookworm's linux-libc-dev 6.1 has the
 * descriptor formats but not these ioctls). The values are kernel ABI and
 * never change. The ioctls act on a data endpoint's file (ep1, ep2...),
 * never on ep0. */
#pragma once

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/usb/functionfs.h>

#ifndef FUNCTIONFS_DMABUF_ATTACH
/* No flags exist: any bit set is EINVAL. */
#define USB_FFS_DMABUF_TRANSFER_MASK 0x0

struct usb_ffs_dmabuf_transfer_req
{
  int fd;
  __u32 flags;
  __u64 length;                 /* bytes of the DMABUF to send or fill */
} __attribute__((packed));

#define FUNCTIONFS_DMABUF_ATTACH _IOW('g', 131, int)
#define FUNCTIONFS_DMABUF_DETACH _IOW('g', 132, int)
#define FUNCTIONFS_DMABUF_TRANSFER _IOW('g', 133, \
    struct usb_ffs_dmabuf_transfer_req)
#endif

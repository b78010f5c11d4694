/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gstiioattributes.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

GST_DEBUG_CATEGORY_STATIC (gst_iio_attributes_debug);
#define GST_CAT_DEFAULT gst_iio_attributes_debug

#define SYNTAX "name=value or channel.name=value (own device), " \
  "DEVICE:name=value, [DEVICE:]in:CHANNEL:name=value, " \
  "[DEVICE:]out:CHANNEL:name=value, [DEVICE:]buffer:name=value or " \
  "[DEVICE:]debug:name=value"

typedef enum
{
  KIND_DEVICE,
  KIND_CHANNEL,
  KIND_BUFFER,
  KIND_DEBUG,
} AttrKind;

/* One item of the list, resolved. */
typedef struct
{
  gchar *key;                   /* the item's name part, as written */
  AttrKind kind;
  struct iio_device *dev;       /* owned by the context */
  struct iio_channel *chn;      /* KIND_CHANNEL */
  const gchar *attr;            /* libiio's name, owned by the context */
  gchar *value;
} AttrWrite;

/* What an item is resolved against. */
typedef struct
{
  GstIioDevice *own;
  struct iio_context *ctx;
  const gchar *item;
  const gchar *list;
} Resolver;

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_iio_attributes_debug, "iioattributes", 0,
        "IIO attributes property (parse, write, read back)");
    g_once_init_leave (&done, 1);
  }
}

static void
attr_write_clear (gpointer data)
{
  AttrWrite *w = data;

  g_free (w->key);
  g_free (w->value);
}

static const gchar *
direction_word (gboolean output)
{
  return output ? "output" : "input";
}

/* "sim-phy (iio:device3)", as gst_iio_device_get_display_name. */
static gchar *
display_name (const struct iio_device *dev)
{
  const gchar *name = iio_device_get_name (dev);

  if (!name)
    name = iio_device_get_label (dev);
  if (!name)
    return g_strdup (iio_device_get_id (dev));
  return g_strdup_printf ("%s (%s)", name, iio_device_get_id (dev));
}

static gchar *
finish_list (GString * str)
{
  if (!str->len)
    g_string_assign (str, "none");
  return g_string_free (str, FALSE);
}

static gchar *
list_devices (struct iio_context *ctx)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < iio_context_get_devices_count (ctx); i++) {
    gchar *name = display_name (iio_context_get_device (ctx, i));

    g_string_append_printf (str, "%s%s", str->len ? ", " : "", name);
    g_free (name);
  }
  return finish_list (str);
}

/* Every channel with its direction: "voltage0 (input), altvoltage0
 * (output)". */
static gchar *
list_all_channels (const struct iio_device *dev)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < iio_device_get_channels_count (dev); i++) {
    const struct iio_channel *chn = iio_device_get_channel (dev, i);

    g_string_append_printf (str, "%s%s (%s)", str->len ? ", " : "",
        iio_channel_get_id (chn), direction_word (iio_channel_is_output (chn)));
  }
  return finish_list (str);
}

/* The scan channels of one direction, as the channels property lists
 * them (the existing text of the channel.name form). */
static gchar *
list_scan_channels (const struct iio_device *dev, gboolean output)
{
  GString *str = g_string_new (NULL);
  guint i;

  for (i = 0; i < iio_device_get_channels_count (dev); i++) {
    const struct iio_channel *chn = iio_device_get_channel (dev, i);

    if (iio_channel_is_scan_element (chn) &&
        iio_channel_is_output (chn) == output)
      g_string_append_printf (str, "%s%s", str->len ? ", " : "",
          iio_channel_get_id (chn));
  }
  return finish_list (str);
}

static gchar *
list_attrs (const struct iio_device *dev, const struct iio_channel *chn,
    AttrKind kind)
{
  GString *str = g_string_new (NULL);
  const gchar *name;
  guint i, n;

  switch (kind) {
    case KIND_CHANNEL:
      n = iio_channel_get_attrs_count (chn);
      break;
    case KIND_BUFFER:
      n = iio_device_get_buffer_attrs_count (dev);
      break;
    case KIND_DEBUG:
      n = iio_device_get_debug_attrs_count (dev);
      break;
    case KIND_DEVICE:
    default:
      n = iio_device_get_attrs_count (dev);
      break;
  }
  for (i = 0; i < n; i++) {
    if (kind == KIND_CHANNEL)
      name = iio_channel_get_attr (chn, i);
    else if (kind == KIND_BUFFER)
      name = iio_device_get_buffer_attr (dev, i);
    else if (kind == KIND_DEBUG)
      name = iio_device_get_debug_attr (dev, i);
    else
      name = iio_device_get_attr (dev, i);
    g_string_append_printf (str, "%s%s", str->len ? ", " : "", name);
  }
  return finish_list (str);
}

/* "attribute frequency of channel altvoltage0 of sim-phy (iio:device3)":
 * the wording of the write errors. */
static gchar *
describe (const AttrWrite * w)
{
  gchar *dev = display_name (w->dev), *what;

  switch (w->kind) {
    case KIND_CHANNEL:
      what = g_strdup_printf ("attribute %s of channel %s of %s", w->attr,
          iio_channel_get_id (w->chn), dev);
      break;
    case KIND_BUFFER:
      what = g_strdup_printf ("buffer attribute %s of %s", w->attr, dev);
      break;
    case KIND_DEBUG:
      what = g_strdup_printf ("debug attribute %s of %s", w->attr, dev);
      break;
    case KIND_DEVICE:
    default:
      what = g_strdup_printf ("attribute %s of %s", w->attr, dev);
      break;
  }
  g_free (dev);
  return what;
}

static gboolean
bad_item (const Resolver * r, GError ** error)
{
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Bad item \"%s\" in attributes \"%s\": expected " SYNTAX, r->item,
      r->list);
  return FALSE;
}

/* By id, name or label, in that order of preference (a label may repeat
 * a name). */
static struct iio_device *
find_device (struct iio_context *ctx, const gchar * what)
{
  guint i, n = iio_context_get_devices_count (ctx);

  for (i = 0; i < n; i++)
    if (!g_strcmp0 (iio_device_get_id (iio_context_get_device (ctx, i)), what))
      return iio_context_get_device (ctx, i);
  for (i = 0; i < n; i++)
    if (!g_strcmp0 (iio_device_get_name (iio_context_get_device (ctx, i)),
            what))
      return iio_context_get_device (ctx, i);
  for (i = 0; i < n; i++)
    if (!g_strcmp0 (iio_device_get_label (iio_context_get_device (ctx, i)),
            what))
      return iio_context_get_device (ctx, i);
  return NULL;
}

static gboolean
resolve_device (const Resolver * r, const gchar * what,
    struct iio_device **dev, GError ** error)
{
  gchar *valid;

  *dev = find_device (r->ctx, what);
  if (*dev)
    return TRUE;

  valid = list_devices (r->ctx);
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "No IIO device \"%s\" at %s (item \"%s\"); devices: %s", what,
      gst_iio_device_get_uri (r->own), r->item, valid);
  g_free (valid);
  return FALSE;
}

static gboolean
is_own (const Resolver * r, const struct iio_device *dev)
{
  return dev == gst_iio_device_get_iio (r->own);
}

static gboolean
channel_attr (const Resolver * r, AttrWrite * w, const gchar * name,
    gboolean with_direction, GError ** error)
{
  gchar *dev, *valid;

  w->kind = KIND_CHANNEL;
  w->attr = iio_channel_find_attr (w->chn, name);
  if (w->attr)
    return TRUE;

  dev = display_name (w->dev);
  valid = list_attrs (w->dev, w->chn, KIND_CHANNEL);
  if (with_direction)
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Channel %s (%s) of %s has no attribute \"%s\" (item \"%s\"); its "
        "attributes: %s", iio_channel_get_id (w->chn),
        direction_word (iio_channel_is_output (w->chn)), dev, name, r->item,
        valid);
  else
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Channel %s of %s has no attribute \"%s\"; its attributes: %s",
        iio_channel_get_id (w->chn), dev, name, valid);
  g_free (valid);
  g_free (dev);
  return FALSE;
}

/* "chan.name": the channel of the element's direction first, since ids
 * repeat across directions (voltage0 in and out). */
static gboolean
resolve_dotted (const Resolver * r, AttrWrite * w, const gchar * spec,
    GError ** error)
{
  gboolean out =
      gst_iio_device_get_direction (r->own) == GST_IIO_DIRECTION_OUTPUT;
  const gchar *dot = strchr (spec, '.');
  gchar *id = g_strndup (spec, dot - spec), *valid, *dev;
  gboolean ok;

  if (*id == '\0' || dot[1] == '\0') {
    g_free (id);
    return bad_item (r, error);
  }
  w->chn = iio_device_find_channel (w->dev, id, out);
  if (!w->chn)
    w->chn = iio_device_find_channel (w->dev, id, !out);
  if (w->chn) {
    ok = channel_attr (r, w, dot + 1, FALSE, error);
  } else {
    dev = display_name (w->dev);
    if (is_own (r, w->dev)) {
      valid = list_scan_channels (w->dev, out);
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "%s has no channel \"%s\" (attribute \"%s\"); %s channels: %s",
          dev, id, spec, direction_word (out), valid);
    } else {
      valid = list_all_channels (w->dev);
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "%s has no channel \"%s\" (item \"%s\"); its channels: %s", dev,
          id, r->item, valid);
    }
    g_free (valid);
    g_free (dev);
    ok = FALSE;
  }
  g_free (id);
  return ok;
}

/* A bare name on a device: a device attribute, else (another device
 * only) a channel attribute by its sysfs file name, the way iio_attr and
 * board documentation spell them (out_altvoltage0_RX_LO_frequency). */
static gboolean
resolve_bare (const Resolver * r, AttrWrite * w, const gchar * name,
    GError ** error)
{
  gchar *valid, *dev;
  guint i, j;

  w->kind = KIND_DEVICE;
  w->attr = iio_device_find_attr (w->dev, name);
  if (w->attr)
    return TRUE;

  for (i = 0; i < iio_device_get_channels_count (w->dev); i++) {
    struct iio_channel *chn = iio_device_get_channel (w->dev, i);

    for (j = 0; j < iio_channel_get_attrs_count (chn); j++) {
      const gchar *attr = iio_channel_get_attr (chn, j);

      if (!g_strcmp0 (iio_channel_attr_get_filename (chn, attr), name)) {
        w->kind = KIND_CHANNEL;
        w->chn = chn;
        w->attr = attr;
        return TRUE;
      }
    }
  }

  dev = display_name (w->dev);
  valid = list_attrs (w->dev, NULL, KIND_DEVICE);
  if (is_own (r, w->dev) && !strchr (r->item, ':'))
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s has no attribute \"%s\"; device attributes: %s (channel "
        "attributes are written as channel.name=value)", dev, name, valid);
  else
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s has no attribute \"%s\" (item \"%s\"); device attributes: %s "
        "(channel attributes are written as DEVICE:in:CHANNEL:name=value or "
        "DEVICE:out:CHANNEL:name=value)", dev, name, r->item, valid);
  g_free (valid);
  g_free (dev);
  return FALSE;
}

static gboolean
resolve_scoped (const Resolver * r, AttrWrite * w, const gchar * scope,
    const gchar * name, GError ** error)
{
  gboolean debug = !g_strcmp0 (scope, "debug");
  gchar *valid, *dev;

  w->kind = debug ? KIND_DEBUG : KIND_BUFFER;
  w->attr = debug ? iio_device_find_debug_attr (w->dev, name) :
      iio_device_find_buffer_attr (w->dev, name);
  if (w->attr)
    return TRUE;

  dev = display_name (w->dev);
  valid = list_attrs (w->dev, NULL, w->kind);
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "%s has no %s attribute \"%s\" (item \"%s\"); its %s attributes: %s%s",
      dev, scope, name, r->item, scope, valid,
      debug && iio_device_get_debug_attrs_count (w->dev) == 0 &&
      gst_iio_device_is_local (r->own) ? " (debug attributes are read from "
      "debugfs: is it mounted at /sys/kernel/debug?)" : "");
  g_free (valid);
  g_free (dev);
  return FALSE;
}

static gboolean
resolve_directed (const Resolver * r, AttrWrite * w, const gchar * dir,
    const gchar * id, const gchar * name, GError ** error)
{
  gboolean out = g_str_has_prefix (dir, "out");
  gchar *valid, *dev;

  w->chn = iio_device_find_channel (w->dev, id, out);
  if (w->chn)
    return channel_attr (r, w, name, TRUE, error);

  dev = display_name (w->dev);
  valid = list_all_channels (w->dev);
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "%s has no %s channel \"%s\" (item \"%s\"); its channels: %s", dev,
      direction_word (out), id, r->item, valid);
  g_free (valid);
  g_free (dev);
  return FALSE;
}

static gboolean
is_scope (const gchar * word)
{
  return !g_strcmp0 (word, "buffer") || !g_strcmp0 (word, "debug");
}

static gboolean
is_direction (const gchar * word)
{
  return !g_strcmp0 (word, "in") || !g_strcmp0 (word, "out") ||
      !g_strcmp0 (word, "input") || !g_strcmp0 (word, "output");
}

/* @t: the name part split at ':' with "iio" "deviceN" joined again. */
static gboolean
resolve_tokens (const Resolver * r, AttrWrite * w, gchar ** t, guint n,
    GError ** error)
{
  w->dev = gst_iio_device_get_iio (r->own);

  /* Keywords first: a device named "debug" needs its id. */
  if (n == 1)
    return strchr (t[0], '.') ? resolve_dotted (r, w, t[0], error) :
        resolve_bare (r, w, t[0], error);
  if (n == 2 && is_scope (t[0]))
    return resolve_scoped (r, w, t[0], t[1], error);
  if (n == 3 && is_direction (t[0]))
    return resolve_directed (r, w, t[0], t[1], t[2], error);
  if (n < 2 || n > 4 || is_scope (t[0]) || is_direction (t[0]) ||
      (n == 2 && is_direction (t[1])) ||
      (n == 3 && !is_scope (t[1])) || (n == 4 && !is_direction (t[1])))
    return bad_item (r, error);

  if (!resolve_device (r, t[0], &w->dev, error))
    return FALSE;
  if (n == 2)
    return strchr (t[1], '.') ? resolve_dotted (r, w, t[1], error) :
        resolve_bare (r, w, t[1], error);
  if (n == 3)
    return resolve_scoped (r, w, t[1], t[2], error);
  return resolve_directed (r, w, t[1], t[2], t[3], error);
}

/* The sysfs (debugfs) file behind @w on a local context, NULL elsewhere. */
static gchar *
local_path (const Resolver * r, const AttrWrite * w)
{
  const gchar *id = iio_device_get_id (w->dev);

  if (!gst_iio_device_is_local (r->own))
    return NULL;
  switch (w->kind) {
    case KIND_CHANNEL:
      return g_strdup_printf ("/sys/bus/iio/devices/%s/%s", id,
          iio_channel_attr_get_filename (w->chn, w->attr));
    case KIND_BUFFER:
      return g_strdup_printf ("/sys/bus/iio/devices/%s/buffer/%s", id, w->attr);
    case KIND_DEBUG:
      return g_strdup_printf ("/sys/kernel/debug/iio/%s/%s", id, w->attr);
    case KIND_DEVICE:
    default:
      return g_strdup_printf ("/sys/bus/iio/devices/%s/%s", id, w->attr);
  }
}

static gboolean
read_only_error (const AttrWrite * w, GError ** error)
{
  gchar *what = describe (w);

  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "Cannot write \"%s\" to %s: it is read-only (item \"%s=%s\")",
      w->value, what, w->key, w->value);
  g_free (what);
  return FALSE;
}

/* Local files say whether they can be written (root may open a 0444
 * sysfs file, but kernfs refuses the write with EACCES later). */
static gboolean
check_writable (const Resolver * r, const AttrWrite * w, GError ** error)
{
  gchar *path = local_path (r, w);
  struct stat st;
  gboolean ok = TRUE;

  if (path && stat (path, &st) == 0 && (st.st_mode & 0222) == 0)
    ok = read_only_error (w, error);
  g_free (path);
  return ok;
}

static gboolean
resolve_item (const Resolver * r, AttrWrite * w, GError ** error)
{
  const gchar *eq = strchr (r->item, '=');
  gchar **t;
  guint i, n;
  gboolean ok;

  if (!eq || eq == r->item)
    return bad_item (r, error);
  w->key = g_strstrip (g_strndup (r->item, eq - r->item));
  w->value = g_strstrip (g_strdup (eq + 1));
  if (*w->key == '\0')
    return bad_item (r, error);

  t = g_strsplit (w->key, ":", -1);
  n = g_strv_length (t);
  /* An id contains the separator: "iio:device3:in:voltage0:..." */
  if (n >= 2 && !g_strcmp0 (t[0], "iio") && g_str_has_prefix (t[1], "device")) {
    gchar *id = g_strconcat (t[0], ":", t[1], NULL);

    g_free (t[1]);
    t[1] = id;
    g_free (t[0]);
    memmove (t, t + 1, n * sizeof (gchar *));
    n--;
  }
  ok = TRUE;
  for (i = 0; i < n; i++)
    ok = ok && *g_strstrip (t[i]) != '\0';
  ok = ok ? resolve_tokens (r, w, t, n, error) : bad_item (r, error);
  ok = ok && check_writable (r, w, error);
  g_strfreev (t);
  return ok;
}

static ssize_t
write_one (const AttrWrite * w)
{
  switch (w->kind) {
    case KIND_CHANNEL:
      return iio_channel_attr_write (w->chn, w->attr, w->value);
    case KIND_BUFFER:
      return iio_device_buffer_attr_write (w->dev, w->attr, w->value);
    case KIND_DEBUG:
      return iio_device_debug_attr_write (w->dev, w->attr, w->value);
    case KIND_DEVICE:
    default:
      return iio_device_attr_write (w->dev, w->attr, w->value);
  }
}

static ssize_t
read_one (const AttrWrite * w, gchar * buf, gsize len)
{
  switch (w->kind) {
    case KIND_CHANNEL:
      return iio_channel_attr_read (w->chn, w->attr, buf, len);
    case KIND_BUFFER:
      return iio_device_buffer_attr_read (w->dev, w->attr, buf, len);
    case KIND_DEBUG:
      return iio_device_debug_attr_read (w->dev, w->attr, buf, len);
    case KIND_DEVICE:
    default:
      return iio_device_attr_read (w->dev, w->attr, buf, len);
  }
}

static gboolean
write_attr (const Resolver * r, const AttrWrite * w, GstStructure * applied,
    GError ** error)
{
  const gchar *hint = "";
  gchar buf[256], *what;
  ssize_t ret = write_one (w);

  if (ret == -EACCES)
    return read_only_error (w, error);
  if (ret < 0) {
    if (ret == -ENOSYS && !g_strcmp0 (iio_context_get_name (r->ctx), "xml"))
      hint = " (an xml: context only describes devices; it cannot write "
          "attributes)";
    what = describe (w);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "Could not write \"%s\" to %s: %s%s", w->value, what,
        g_strerror ((gint) - ret), hint);
    g_free (what);
    return FALSE;
  }

  /* What the driver really set: drivers round to what the hardware can
   * do (an LO to its synthesizer's step, a gain to its table). */
  ret = read_one (w, buf, sizeof (buf));
  if (ret > 0) {
    g_strstrip (buf);
    if (g_strcmp0 (buf, w->value))
      GST_INFO ("%s: wrote \"%s\", the driver set \"%s\"", w->key, w->value,
          buf);
    else
      GST_DEBUG ("%s: wrote \"%s\"", w->key, w->value);
  } else {
    GST_DEBUG ("%s: wrote \"%s\", cannot read it back (%d)", w->key,
        w->value, (gint) ret);
    g_strlcpy (buf, w->value, sizeof (buf));
  }
  if (applied)
    gst_structure_set (applied, w->key, G_TYPE_STRING, buf, NULL);
  return TRUE;
}

gboolean
gst_iio_attributes_write (GstIioDevice * device, const gchar * attributes,
    GstStructure ** applied, GError ** error)
{
  Resolver r = { device, gst_iio_device_get_context (device), NULL,
    attributes
  };
  GstStructure *values;
  GArray *writes;
  gchar **items;
  gboolean ok = TRUE;
  guint i;

  g_return_val_if_fail (GST_IS_IIO_DEVICE (device), FALSE);
  ensure_debug_category ();

  values = gst_structure_new_empty ("applied-attributes");
  if (attributes == NULL || *attributes == '\0')
    goto done;

  /* Resolve every item before writing any, so that a typo at the end
   * does not leave the devices half configured. Empty items (a trailing
   * comma) are skipped. */
  writes = g_array_new (FALSE, TRUE, sizeof (AttrWrite));
  g_array_set_clear_func (writes, attr_write_clear);
  items = g_strsplit (attributes, ",", -1);
  for (i = 0; ok && items[i]; i++) {
    AttrWrite w = { 0, };

    if (*g_strstrip (items[i]) == '\0')
      continue;
    r.item = items[i];
    ok = resolve_item (&r, &w, error);
    g_array_append_val (writes, w);
  }
  for (i = 0; ok && i < writes->len; i++) {
    r.item = g_array_index (writes, AttrWrite, i).key;
    ok = write_attr (&r, &g_array_index (writes, AttrWrite, i), values, error);
  }
  g_strfreev (items);
  g_array_unref (writes);

done:
  if (ok && applied)
    *applied = values;
  else
    gst_structure_free (values);
  return ok;
}
